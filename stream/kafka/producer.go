package kafka

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/recoflow/recoflow/stream"
)

// Producer publishes keyed records to the topic; it implements
// stream.Producer. Records of one key go to one partition (franz-go's
// default partitioner hashes keys as the Java client does), so a session's
// events stay in order.
type Producer struct {
	cfg Config
	cl  *kgo.Client

	mu     sync.Mutex
	err    error
	closed bool
}

// NewProducer connects. Brokers that allow it create a missing topic on
// the first record, with their default partition count.
func NewProducer(ctx context.Context, cfg Config) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.WithLogger(logger{cfg.Source.Logger}),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", cfg.where(), err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka brokers of %s: %w", cfg.where(), err)
	}
	return &Producer{cfg: cfg, cl: cl}, nil
}

// String describes the destination.
func (p *Producer) String() string { return p.cfg.where() }

// Publish implements stream.Producer. It blocks while the client buffers
// its maximum of unconfirmed records.
func (p *Producer) Publish(ctx context.Context, key string, data []byte) error {
	p.mu.Lock()
	closed, err := p.closed, p.err
	p.err = nil
	p.mu.Unlock()
	if closed {
		return stream.ErrClosed
	}
	if err != nil {
		return err
	}
	rec := &kgo.Record{Value: bytes.Clone(data)}
	if key != "" {
		rec.Key = []byte(key)
	}
	p.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = fmt.Errorf("publish to %s: %w", p, err)
			}
			p.mu.Unlock()
		}
	})
	return nil
}

// Flush implements stream.Producer.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
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
	err := p.Flush(ctx)
	p.cl.Close()
	return err
}
