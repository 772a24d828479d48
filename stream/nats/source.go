package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/recoflow/recoflow/stream"
	"github.com/recoflow/recoflow/stream/internal/inflight"
)

// Source reads a JetStream stream through a durable pull consumer that
// every Source with the same Config.Consumer shares. It implements
// stream.Source.
type Source struct {
	cfg     Config
	c       *conn
	cons    jetstream.Consumer
	limiter *inflight.Limiter

	mu      sync.Mutex
	held    map[*heldBatch]struct{} // handed out, not yet acked
	waiting *waitingPull            // a pull request still waiting on the server
	closed  bool
	stopHB  chan struct{}
	hbDone  chan struct{}
	closeMu sync.Mutex // serializes Close
}

// heldBatch is a batch handed out and not yet acked.
type heldBatch struct {
	msgs    []jetstream.Msg
	touched time.Time // when AckWait last restarted for its messages
}

// NewSource connects, creates the stream if missing, and creates or updates
// the durable consumer.
func NewSource(ctx context.Context, cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Source.Logger
	c, err := dial(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		Description:   "recoflow stream workers",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: cfg.MaxAckPending,
		FilterSubject: cfg.Subject,
	})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("JetStream consumer %s of stream %s on %s: %w", cfg.Consumer, cfg.Stream, cfg.where(), err)
	}
	s := &Source{
		cfg:     cfg,
		c:       c,
		cons:    cons,
		limiter: inflight.New(cfg.Source.MaxInFlight),
		held:    map[*heldBatch]struct{}{},
		stopHB:  make(chan struct{}),
		hbDone:  make(chan struct{}),
	}
	go s.heartbeat()
	log.Info("nats source open", "source", s.String())
	return s, nil
}

// String describes the source.
func (s *Source) String() string {
	return fmt.Sprintf("%s stream %s subject %s consumer %s", s.cfg.where(), s.cfg.Stream, s.cfg.Subject, s.cfg.Consumer)
}

// ReadBatch implements stream.Source. It takes the messages available at
// once; when there are none it waits (in pulls of MaxWait) for one and then
// takes what arrived with it.
func (s *Source) ReadBatch(ctx context.Context) (stream.Batch, stream.AckFunc, error) {
	if s.isClosed() {
		return nil, nil, stream.ErrClosed
	}
	n, err := s.limiter.Acquire(ctx, s.cfg.Source.MaxBatch)
	if err != nil {
		return nil, nil, err
	}
	msgs, err := s.fetch(ctx, n)
	s.limiter.Release(n - len(msgs))
	if len(msgs) == 0 {
		if s.isClosed() {
			err = stream.ErrClosed
		}
		return nil, nil, err
	}

	batch := make(stream.Batch, 0, len(msgs))
	for _, m := range msgs {
		batch = append(batch, s.message(m))
	}
	hb := &heldBatch{msgs: msgs, touched: time.Now()}
	s.mu.Lock()
	if s.closed { // closed while we fetched: give them back
		s.mu.Unlock()
		for _, m := range msgs {
			_ = m.Nak()
		}
		s.limiter.Release(len(msgs))
		return nil, nil, stream.ErrClosed
	}
	s.held[hb] = struct{}{}
	s.mu.Unlock()
	return batch, s.ackFunc(hb), nil
}

func (s *Source) fetch(ctx context.Context, n int) ([]jetstream.Msg, error) {
	s.mu.Lock()
	idle := s.waiting == nil
	s.mu.Unlock()
	if idle {
		msgs, err := take(s.cons.FetchNoWait(n))
		if len(msgs) > 0 || err != nil {
			return msgs, s.wrap(err)
		}
	}
	var msgs []jetstream.Msg
	for len(msgs) == 0 {
		s.mu.Lock()
		w := s.waiting
		if w == nil {
			w = s.pull()
			s.waiting = w
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			// The pull stays live on the server: the next ReadBatch takes
			// what it brings, so a message handed to it is not left
			// waiting for AckWait.
			return nil, ctx.Err()
		case <-w.done:
		}
		s.mu.Lock()
		s.waiting = nil
		s.mu.Unlock()
		msgs = w.msgs
		if len(msgs) == 0 && w.err != nil && !errors.Is(w.err, context.DeadlineExceeded) && !errors.Is(w.err, natsgo.ErrTimeout) {
			return nil, s.wrap(w.err)
		}
	}
	if n > len(msgs) {
		more, _ := take(s.cons.FetchNoWait(n - len(msgs))) // an error here shows again on the next read
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// waitingPull is a pull request of one message that waits on the server
// (up to MaxWait) for a message to arrive.
type waitingPull struct {
	done chan struct{} // closed when msgs and err are set
	msgs []jetstream.Msg
	err  error
}

// pull starts a waiting pull request. It ends on the server's side (a
// message, or the expiry it answers with a status), never by the client
// walking away from it.
func (s *Source) pull() *waitingPull {
	w := &waitingPull{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.msgs, w.err = take(s.cons.Fetch(1, jetstream.FetchMaxWait(s.cfg.MaxWait)))
	}()
	return w
}

// take drains one pull request.
func take(b jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, b.Error()
}

func (s *Source) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		err = fmt.Errorf("%w: %w", stream.ErrNotFound, err)
	}
	return fmt.Errorf("read %s: %w", s, err)
}

func (s *Source) message(m jetstream.Msg) stream.Message {
	msg := stream.Message{Data: m.Data(), Key: m.Headers().Get(KeyHeader), Partition: s.cfg.Stream}
	if md, err := m.Metadata(); err == nil {
		seq := strconv.FormatUint(md.Sequence.Stream, 10)
		msg.ID = "nats:" + md.Stream + ":" + seq
		msg.Partition = md.Stream
		msg.Position = seq
		msg.Time = md.Timestamp
	}
	return msg
}

// ackFunc acks every message of the batch and waits for the server to
// confirm each ack, so that when it returns the server has applied them (a
// server shut down right after still has them).
func (s *Source) ackFunc(hb *heldBatch) stream.AckFunc {
	var (
		once sync.Once
		err  error
	)
	return func(ctx context.Context) error {
		once.Do(func() {
			s.mu.Lock()
			_, ok := s.held[hb]
			delete(s.held, hb)
			s.mu.Unlock()
			if !ok { // closed meanwhile: the messages were given back
				err = stream.ErrClosed
				return
			}
			defer s.limiter.Release(len(hb.msgs))
			if e := s.c.confirmAcks(ctx, hb.msgs); e != nil {
				err = fmt.Errorf("ack on %s: %w", s, e)
			}
		})
		return err
	}
}

// heartbeat restarts AckWait (an in-progress ack) for the messages of every
// batch held longer than AckWait/3, so that the server does not deliver them
// again while the sink is still making their outputs durable.
func (s *Source) heartbeat() {
	defer close(s.hbDone)
	every := s.cfg.AckWait / 3
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stopHB:
			return
		case now := <-t.C:
			var due []*heldBatch
			s.mu.Lock()
			for hb := range s.held {
				if now.Sub(hb.touched) >= every {
					hb.touched = now
					due = append(due, hb)
				}
			}
			s.mu.Unlock()
			for _, hb := range due {
				for _, m := range hb.msgs {
					_ = m.InProgress() // fails only for acked messages or a lost connection
				}
			}
		}
	}
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close implements stream.Source: messages handed out and not acked are
// given back at once (a negative ack), for any consumer of the group to
// take.
func (s *Source) Close(ctx context.Context) error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.held
	s.held = map[*heldBatch]struct{}{}
	w := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	var late []jetstream.Msg
	if w != nil { // a pull that got a message after its ReadBatch gave up
		select {
		case <-w.done:
			late = w.msgs
		default: // still waiting: the server drops it with the connection
		}
	}
	close(s.stopHB)
	<-s.hbDone

	n := len(late)
	for _, m := range late {
		_ = m.Nak()
	}
	for hb := range held {
		for _, m := range hb.msgs {
			_ = m.Nak()
		}
		n += len(hb.msgs)
		s.limiter.Release(len(hb.msgs))
	}
	err := s.c.flush(ctx)
	s.c.close()
	s.cfg.Source.Logger.Info("nats source closed", "source", s.String(), "returned_unacked", n)
	if err != nil && n > 0 {
		return fmt.Errorf("close %s: give back %d unacked messages: %w", s, n, err)
	}
	return nil
}
