package nats

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/recoflow/recoflow/stream"
)

// Settings of the producer's publishing.
const (
	// maxPendingPublishes bounds the records published and not yet
	// acknowledged (sent or waiting to be sent again); Publish waits while
	// it is reached.
	maxPendingPublishes = 4096
	// publishAckTimeout: a publish not acknowledged by then is sent again.
	publishAckTimeout = 10 * time.Second
	// DefaultDuplicateWindow is the de-duplication window of a stream this
	// package creates: a record sent again within it (same Nats-Msg-Id)
	// is stored once.
	DefaultDuplicateWindow = 2 * time.Minute
	// maxRetryFor bounds how long a record is sent again before the
	// Producer gives up; well inside DefaultDuplicateWindow, so that a
	// resend can never store a record twice.
	maxRetryFor  = 90 * time.Second
	retryWaitMin = 100 * time.Millisecond
	retryWaitMax = 2 * time.Second
)

// Producer publishes to the stream's subject with JetStream acks; it
// implements stream.Producer. The key travels in the KeyHeader header.
//
// Every record carries a message id (the Nats-Msg-Id header: a random
// prefix per Producer and the record's number), so the server stores it
// once however often it is sent. A record the server has not acknowledged
// (the connection dropped, the server restarted, no ack within
// publishAckTimeout) is sent again, together with every later unacknowledged
// record and in their order, once the connection is back; Publish goes on
// accepting records meanwhile, up to maxPendingPublishes. The Producer gives
// up, with an error from Publish and Flush, only when a record has gone
// unacknowledged for maxRetryFor.
type Producer struct {
	cfg   Config
	c     *conn
	runID string

	mu         sync.Mutex
	seq        uint64
	queue      []*pendingPub // unacknowledged, in publishing order
	gen        uint64        // bumped at every resend round
	recovering bool          // a resend round is waiting for the connection
	acked      int64
	resent     int64
	err        error         // fatal: a record went unacknowledged for maxRetryFor
	changed    chan struct{} // closed and replaced when queue or err change
	closed     bool
	stop       chan struct{} // closed by Close: resend rounds end
}

// pendingPub is one record published and not yet acknowledged.
type pendingPub struct {
	msg   *natsgo.Msg
	first time.Time // first sent
	gen   uint64    // resend round of its latest send
	acked bool
}

// NewProducer connects and creates the stream if it is missing.
func NewProducer(ctx context.Context, cfg Config) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("producer id: %w", err)
	}
	p := &Producer{cfg: cfg, runID: hex.EncodeToString(id), changed: make(chan struct{}), stop: make(chan struct{})}
	p.c, err = dial(ctx, cfg, cfg.Source.Logger,
		// Above our own bound, so that nats.go never stalls a publish.
		jetstream.WithPublishAsyncMaxPending(4*maxPendingPublishes),
		jetstream.WithPublishAsyncTimeout(publishAckTimeout))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// String describes the destination.
func (p *Producer) String() string {
	return fmt.Sprintf("%s stream %s subject %s", p.cfg.where(), p.cfg.Stream, p.cfg.Subject)
}

// Progress reports the records the server has acknowledged so far and the
// ones published and not yet acknowledged.
func (p *Producer) Progress() (acked int64, pending int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, len(p.queue)
}

// Publish implements stream.Producer. It waits (up to ctx) while
// maxPendingPublishes records are unacknowledged.
func (p *Producer) Publish(ctx context.Context, key string, data []byte) error {
	p.mu.Lock()
	for {
		switch {
		case p.closed:
			p.mu.Unlock()
			return stream.ErrClosed
		case p.err != nil:
			err := p.err
			p.mu.Unlock()
			return err
		case len(p.queue) < maxPendingPublishes:
		default:
			ch := p.changed
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			p.mu.Lock()
			continue
		}
		break
	}
	defer p.mu.Unlock()
	p.seq++
	msg := &natsgo.Msg{Subject: p.cfg.Subject, Data: bytes.Clone(data), Header: natsgo.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, p.runID+"-"+strconv.FormatUint(p.seq, 10))
	if key != "" {
		msg.Header.Set(KeyHeader, key)
	}
	pp := &pendingPub{msg: msg, first: time.Now()}
	p.queue = append(p.queue, pp)
	p.signalLocked()
	if !p.recovering { // else the resend round sends it, in order
		p.sendLocked(pp)
	}
	return nil
}

// signalLocked wakes whoever waits for a change.
func (p *Producer) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// sendLocked sends pp and watches for its acknowledgement; false when the
// send failed (a resend round is then due).
func (p *Producer) sendLocked(pp *pendingPub) bool {
	pp.gen = p.gen
	f, err := p.c.js.PublishMsgAsync(pp.msg)
	if err != nil {
		p.failedLocked(err)
		return false
	}
	go p.watch(pp, pp.gen, f)
	return true
}

// watch waits for the outcome of one send of pp.
func (p *Producer) watch(pp *pendingPub, gen uint64, f jetstream.PubAckFuture) {
	var err error
	select {
	case <-f.Ok():
	case err = <-f.Err():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pp.acked {
		return // an earlier send was acknowledged; this was a duplicate
	}
	if err == nil {
		pp.acked = true
		p.acked++
		i := 0
		for i < len(p.queue) && p.queue[i].acked {
			i++
		}
		p.queue = p.queue[i:]
		p.signalLocked()
		return
	}
	if gen == p.gen { // a failure of an older round is covered by the newer one
		p.failedLocked(err)
	}
}

// failedLocked starts a resend round after a publish went unacknowledged,
// or gives up when the oldest record has waited maxRetryFor.
func (p *Producer) failedLocked(cause error) {
	if p.recovering || p.err != nil {
		return
	}
	if len(p.queue) > 0 && time.Since(p.queue[0].first) > maxRetryFor {
		p.err = fmt.Errorf("publish to %s: %d records unacknowledged, the oldest for more than %s: %w",
			p, len(p.queue), maxRetryFor, cause)
		p.signalLocked()
		return
	}
	p.recovering = true
	p.gen++
	p.cfg.Source.Logger.Warn("nats publish not acknowledged; sending the unacknowledged records again once connected",
		"stream", p.String(), "unacked", len(p.queue), "err", cause)
	go p.resend()
}

// resend waits for the connection, then sends every unacknowledged record
// again, in order (the server drops the ones it already has by their
// message ids).
func (p *Producer) resend() {
	wait := retryWaitMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if p.c.nc.IsConnected() {
			break
		}
		wait = min(2*wait, retryWaitMax)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recovering = false
	for _, pp := range p.queue {
		if pp.acked {
			continue
		}
		p.resent++
		if !p.sendLocked(pp) {
			return // a new round started
		}
	}
}

// Flush implements stream.Producer: it waits until the server has
// acknowledged every record published so far.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 && p.err == nil {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			return fmt.Errorf("flush to %s: %d records unacknowledged: %w", p, len(p.queue), ctx.Err())
		}
		p.mu.Lock()
	}
	return p.err
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
	close(p.stop)
	p.c.close()
	p.mu.Lock()
	acked, resent := p.acked, p.resent
	p.mu.Unlock()
	if resent > 0 {
		p.cfg.Source.Logger.Info("nats producer closed", "stream", p.String(), "acked", acked, "sent_again", resent)
	}
	return err
}
