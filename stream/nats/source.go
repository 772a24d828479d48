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
	held    map[*heldBatch]struct{} // handed out or read ahead, not yet acked
	waiting *waitingPull            // a pull request still waiting on the server
	closed  bool
	// Read-ahead (see readAhead): batches fetched after a full batch, in
	// stream order, not yet handed out; whether the goroutine that fetches
	// them runs; a channel closed (and replaced) whenever either changes.
	ready     []*heldBatch
	fetching  bool
	aheadDone chan struct{} // closed when the read-ahead goroutine returns
	changed   chan struct{}
	stopHB    chan struct{}
	hbDone    chan struct{}
	closeMu   sync.Mutex // serializes Close
}

// heldBatch is a batch handed out and not yet acked.
type heldBatch struct {
	msgs    []jetstream.Msg
	touched time.Time // when AckWait last restarted for its messages
	// reconnects is the connection's reconnect count before a read-ahead
	// batch was fetched: a batch fetched before a reconnect is not handed
	// out (see takeAhead).
	reconnects uint64
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
		changed: make(chan struct{}),
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
// takes what arrived with it. After a full batch (a backlog), the next
// batches are fetched ahead while this one is processed (see readAhead).
func (s *Source) ReadBatch(ctx context.Context) (stream.Batch, stream.AckFunc, error) {
	if s.isClosed() {
		return nil, nil, stream.ErrClosed
	}
	if hb, err := s.takeAhead(ctx); err != nil {
		return nil, nil, err
	} else if hb != nil {
		return s.batch(hb), s.ackFunc(hb), nil
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
	if len(msgs) == s.cfg.Source.MaxBatch {
		s.startAheadLocked()
	}
	s.mu.Unlock()
	return s.batch(hb), s.ackFunc(hb), nil
}

func (s *Source) batch(hb *heldBatch) stream.Batch {
	batch := make(stream.Batch, 0, len(hb.msgs))
	for _, m := range hb.msgs {
		batch = append(batch, s.message(m))
	}
	return batch
}

// aheadDepth is how many batches the read-ahead holds at most: it fetches
// again (up to this many, in one pull request, so a backlog takes a
// quarter of the round trips) once at most one is left to take.
const aheadDepth = 4

// takeAhead returns the oldest batch read ahead, waiting for one while the
// read-ahead fetches; nil, nil when there is none and none coming (the
// caller then fetches itself). Taking a batch restarts the read-ahead.
func (s *Source) takeAhead(ctx context.Context) (*heldBatch, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, stream.ErrClosed
		}
		if stale := s.staleLocked(); len(stale) > 0 {
			s.mu.Unlock()
			s.giveBack(stale)
			continue
		}
		if len(s.ready) > 0 {
			hb := s.ready[0]
			s.ready[0] = nil
			s.ready = s.ready[1:]
			if len(hb.msgs) == s.cfg.Source.MaxBatch {
				s.startAheadLocked()
			}
			s.mu.Unlock()
			return hb, nil
		}
		if !s.fetching {
			s.mu.Unlock()
			return nil, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			// What the read-ahead brings stays for the next ReadBatch.
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// staleLocked takes out of ready (and held) the batches read ahead before
// the connection was lost: the server that delivered them may be gone (a
// restarted embedded server delivers them again), so they are given back
// rather than handed out. s.mu is held.
func (s *Source) staleLocked() []*heldBatch {
	if len(s.ready) == 0 {
		return nil
	}
	now := s.c.nc.Stats().Reconnects
	connected := s.c.nc.IsConnected()
	var stale []*heldBatch
	keep := s.ready[:0]
	for _, hb := range s.ready {
		if connected && hb.reconnects == now {
			keep = append(keep, hb)
			continue
		}
		delete(s.held, hb)
		stale = append(stale, hb)
	}
	clear(s.ready[len(keep):])
	s.ready = keep
	return stale
}

// giveBack negatively acks the messages of batches that are not handed out
// (sent once the connection is back, if it is not) and frees their room.
func (s *Source) giveBack(batches []*heldBatch) {
	for _, hb := range batches {
		for _, m := range hb.msgs {
			_ = m.Nak()
		}
		s.limiter.Release(len(hb.msgs))
	}
}

// startAheadLocked starts the read-ahead goroutine unless it runs already,
// the server is the embedded one (its clients in the serving process fetch
// without a network round trip to hide, and the read-ahead measured slower
// there: BENCHMARKS.md), or a pull request still waits on the server (two requests of one
// consumer on the server would share out the messages between them, and
// the batches would no longer follow the stream's order). s.mu is held.
func (s *Source) startAheadLocked() {
	if s.cfg.EmbeddedDir != "" || s.fetching || s.closed || s.waiting != nil || len(s.ready) > 1 {
		return
	}
	s.fetching = true
	s.aheadDone = make(chan struct{})
	go s.readAhead(s.aheadDone)
}

// ended is a context that has ended.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// notifyLocked wakes the ReadBatch waiting on the read-ahead. s.mu is held.
func (s *Source) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// readAhead fetches batches ahead, each pull request (one that does not
// wait) for as many batches as there is room for up to aheadDepth; there is
// one request on the server at a time, so batches keep the stream's order.
// It goes on while its fetches come full and at most one batch waits to be
// taken; it stops at the first short or failed fetch (an error shows again
// on the caller's own next fetch) or when the in-flight bound has no room
// for a batch. Its batches count as held from their arrival: the heartbeat
// extends their AckWait and Close gives them back.
func (s *Source) readAhead(done chan struct{}) {
	defer close(done)
	max := s.cfg.Source.MaxBatch
	for {
		s.mu.Lock()
		want := (aheadDepth - len(s.ready)) * max
		s.mu.Unlock()
		if mp := s.cfg.MaxAckPending; mp > 0 {
			// No more than the server may hand out: a request it cannot
			// fill would wait there, holding back the caller's own.
			want = min(want, mp-s.limiter.InUse())
		}
		n := 0
		if want >= max && s.limiter.InUse()+max <= s.cfg.Source.MaxInFlight {
			// Never waits: with a context already ended, Acquire takes
			// only room there is.
			n, _ = s.limiter.Acquire(ended, want)
		}
		var msgs []jetstream.Msg
		reconnects := s.c.nc.Stats().Reconnects
		if n > 0 {
			msgs, _ = take(s.cons.FetchNoWait(n))
			s.limiter.Release(n - len(msgs))
		}
		s.mu.Lock()
		if s.closed {
			s.fetching = false
			s.notifyLocked()
			s.mu.Unlock()
			for _, m := range msgs {
				_ = m.Nak()
			}
			s.limiter.Release(len(msgs))
			return
		}
		for rest := msgs; len(rest) > 0; {
			k := min(len(rest), max)
			hb := &heldBatch{msgs: rest[:k:k], touched: time.Now(), reconnects: reconnects}
			rest = rest[k:]
			s.held[hb] = struct{}{}
			s.ready = append(s.ready, hb)
		}
		more := n >= max && len(msgs) == n && len(s.ready) <= 1
		if !more {
			s.fetching = false
		}
		s.notifyLocked()
		s.mu.Unlock()
		if !more {
			return
		}
	}
}

func (s *Source) fetch(ctx context.Context, n int) ([]jetstream.Msg, error) {
	s.mu.Lock()
	idle := s.waiting == nil
	s.mu.Unlock()
	if k := s.noWaitRoom(n, 0); idle && k > 0 {
		msgs, err := take(s.cons.FetchNoWait(k))
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
	if k := s.noWaitRoom(n, len(msgs)); k > 0 {
		more, _ := take(s.cons.FetchNoWait(k)) // an error here shows again on the next read
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// noWaitRoom is how many more messages a pull request that does not wait
// may ask for in fetch, which holds room for n in the in-flight bound and
// has received got of them: the rest of n, but no more than the consumer's
// MaxAckPending leaves beside what this source holds. A no-wait request
// must be one the server can answer at once: at MaxAckPending the server
// keeps it, and fills it with the next messages after the client has
// stopped listening, so they sit unacked until AckWait and the consumer
// stalls. (Sources in other processes sharing the consumer are not
// counted; for them the pulls that wait are what takes the messages.)
func (s *Source) noWaitRoom(n, got int) int {
	k := n - got
	if mp := s.cfg.MaxAckPending; mp > 0 {
		others := s.limiter.InUse() - n // held beside this fetch
		k = min(k, mp-others-got)
	}
	return max(k, 0)
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
// confirm the acks (conn.confirmAcks: one round trip per batch), so that
// when it returns nil the server has applied them all (a server shut down
// right after still has them). When it returns an error, some acks may not
// be applied: those messages come again after AckWait, with the same IDs,
// for the sinks to drop. The error of a deleted consumer names it.
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
				if errors.Is(e, errConsumerGone) {
					e = fmt.Errorf("consumer %s > %s is gone (deleted?): %w", s.cfg.Stream, s.cfg.Consumer, e)
				}
				err = fmt.Errorf("ack %d messages on %s: %w", len(hb.msgs), s, e)
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
	s.ready = nil
	w := s.waiting
	s.waiting = nil
	var ahead chan struct{}
	if s.fetching {
		ahead = s.aheadDone
	}
	s.notifyLocked()
	s.mu.Unlock()
	if ahead != nil { // its fetch does not wait on the server; it gives back what it brings
		select {
		case <-ahead:
		case <-ctx.Done():
		}
	}
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
