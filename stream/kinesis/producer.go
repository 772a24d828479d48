package kinesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/recoflow/recoflow/stream"
)

// Limits of one PutRecords call, and how the producer batches.
const (
	putMaxRecords = 500
	putMaxBytes   = 5 << 20
	maxRecordSize = 1 << 20 // data plus partition key
	// Linger is the longest a published record waits in the producer's
	// buffer before it is sent without a Flush.
	Linger = 100 * time.Millisecond
	// putAttempts bounds the sends of a record that Kinesis keeps
	// rejecting (throttling).
	putAttempts = 8
)

// Producer publishes records with PutRecords, in batches of up to 500
// records or 5 MiB, sent when full, after Linger, or on Flush. The key is
// the partition key, so a session's events go to one shard. It implements
// stream.Producer.
type Producer struct {
	cfg Config
	kc  *kinesis.Client

	sendMu sync.Mutex // one PutRecords at a time, in order
	mu     sync.Mutex
	buf    []types.PutRecordsRequestEntry
	bytes  int
	since  time.Time // when the oldest buffered record was published
	err    error
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// NewProducer connects and checks the stream exists (creating it when
// Config.CreateShards says so).
func NewProducer(ctx context.Context, cfg Config) (*Producer, error) {
	cfg, err := cfg.withDefaults(false)
	if err != nil {
		return nil, err
	}
	kc, err := client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := ensureStream(ctx, kc, cfg); err != nil {
		return nil, err
	}
	p := &Producer{cfg: cfg, kc: kc, stop: make(chan struct{}), done: make(chan struct{})}
	go p.linger()
	return p, nil
}

// String describes the destination.
func (p *Producer) String() string { return p.cfg.where() }

// Publish implements stream.Producer. It sends the buffer, blocking, when
// it is full.
func (p *Producer) Publish(ctx context.Context, key string, data []byte) error {
	if key == "" {
		key = "-" // Kinesis requires a partition key
	}
	size := len(data) + len(key)
	if size > maxRecordSize {
		return fmt.Errorf("publish to %s: record of %d bytes is more than Kinesis's 1 MiB", p, size)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return stream.ErrClosed
	}
	if err := p.err; err != nil {
		p.err = nil
		p.mu.Unlock()
		return err
	}
	full := len(p.buf) == putMaxRecords || p.bytes+size > putMaxBytes
	p.mu.Unlock()
	if full {
		if err := p.send(ctx); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		p.since = time.Now()
	}
	p.buf = append(p.buf, types.PutRecordsRequestEntry{Data: bytes.Clone(data), PartitionKey: aws.String(key)})
	p.bytes += size
	return nil
}

// send puts what is buffered, in calls within Kinesis's limits.
func (p *Producer) send(ctx context.Context) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	p.mu.Lock()
	recs := p.buf
	p.buf, p.bytes = nil, 0
	p.mu.Unlock()
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && n < putMaxRecords {
			sz := len(recs[n].Data) + len(aws.ToString(recs[n].PartitionKey))
			if n > 0 && size+sz > putMaxBytes {
				break
			}
			size += sz
			n++
		}
		if err := p.put(ctx, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// put sends one PutRecords call's worth, retrying rejected records.
func (p *Producer) put(ctx context.Context, recs []types.PutRecordsRequestEntry) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := p.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(p.cfg.Stream), Records: recs})
		if err != nil {
			var tput *types.ProvisionedThroughputExceededException
			if !errors.As(err, &tput) || attempt == putAttempts {
				return fmt.Errorf("publish %d records to %s: %w", len(recs), p, err)
			}
		} else if aws.ToInt32(out.FailedRecordCount) == 0 {
			return nil
		} else {
			var again []types.PutRecordsRequestEntry
			var reason string
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					again = append(again, recs[i])
					reason = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
				}
			}
			if attempt == putAttempts {
				return fmt.Errorf("publish to %s: %d records rejected %d times, last: %s", p, len(again), attempt, reason)
			}
			recs = again
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// linger sends records that waited Linger without a Flush.
func (p *Producer) linger() {
	defer close(p.done)
	t := time.NewTicker(Linger / 4)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		due := len(p.buf) > 0 && time.Since(p.since) >= Linger
		p.mu.Unlock()
		if due {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := p.send(ctx); err != nil {
				p.mu.Lock()
				if p.err == nil {
					p.err = err
				}
				p.mu.Unlock()
			}
			cancel()
		}
	}
}

// Flush implements stream.Producer.
func (p *Producer) Flush(ctx context.Context) error {
	err := p.send(ctx)
	p.sendMu.Lock() // wait for a send the linger goroutine may have started
	p.sendMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		err = p.err
	}
	p.err = nil
	return err
}

// Close implements stream.Producer.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	return p.Flush(ctx)
}
