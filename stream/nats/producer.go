package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/recoflow/recoflow/stream"
)

// Settings of the producer's asynchronous publishing.
const (
	maxPendingPublishes = 4096             // unconfirmed publishes before Publish waits
	publishAckTimeout   = 10 * time.Second // a publish not confirmed by then failed
)

// Producer publishes to the stream's subject with JetStream acks; it
// implements stream.Producer. The key travels in the KeyHeader header.
type Producer struct {
	cfg Config
	c   *conn

	mu     sync.Mutex
	err    error // first failure since the last Flush
	closed bool
}

// NewProducer connects and creates the stream if it is missing.
func NewProducer(ctx context.Context, cfg Config) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Producer{cfg: cfg}
	p.c, err = dial(ctx, cfg, cfg.Source.Logger,
		jetstream.WithPublishAsyncMaxPending(maxPendingPublishes),
		jetstream.WithPublishAsyncTimeout(publishAckTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *natsgo.Msg, err error) { p.fail(err) }))
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Producer) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = fmt.Errorf("publish to %s: %w", p, err)
	}
	p.mu.Unlock()
}

// takeErr returns and clears the first failure.
func (p *Producer) takeErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

// String describes the destination.
func (p *Producer) String() string {
	return fmt.Sprintf("%s stream %s subject %s", p.cfg.where(), p.cfg.Stream, p.cfg.Subject)
}

// Publish implements stream.Producer. It waits (up to ctx) while
// maxPendingPublishes publishes are unconfirmed.
func (p *Producer) Publish(ctx context.Context, key string, data []byte) error {
	p.mu.Lock()
	closed, err := p.closed, p.err
	p.mu.Unlock()
	if closed {
		return stream.ErrClosed
	}
	if err != nil {
		return p.takeErr()
	}
	msg := &natsgo.Msg{Subject: p.cfg.Subject, Data: bytes.Clone(data), Header: natsgo.Header{}}
	if key != "" {
		msg.Header.Set(KeyHeader, key)
	}
	for {
		_, err := p.c.js.PublishMsgAsync(msg)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			if err != nil {
				return fmt.Errorf("publish to %s: %w", p, err)
			}
			return nil
		}
		select { // too much unconfirmed: wait for it, then try again
		case <-p.c.js.PublishAsyncComplete():
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Flush implements stream.Producer.
func (p *Producer) Flush(ctx context.Context) error {
	select {
	case <-p.c.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.takeErr()
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
	p.c.close()
	return err
}
