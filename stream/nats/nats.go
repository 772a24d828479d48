package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/recoflow/recoflow/stream"
)

// Defaults of Config.
const (
	DefaultStream   = "RECOFLOW"
	DefaultSubject  = "recoflow.events"
	DefaultConsumer = "recoflow"
	DefaultAckWait  = time.Minute
	DefaultMaxAge   = 24 * time.Hour
	// DefaultMaxWait is how long one pull request waits on the server for
	// a message before the Source asks again.
	DefaultMaxWait = 5 * time.Second
)

// KeyHeader is the message header that carries the partition key.
const KeyHeader = "Recoflow-Key"

// Config says where the stream is and how to read it. Set exactly one of
// URL and EmbeddedDir.
type Config struct {
	// URL of a NATS server with JetStream, e.g. nats://127.0.0.1:4222 (a
	// comma-separated list for a cluster; user:password@ or a token in the
	// URL as nats.go accepts them).
	URL string
	// EmbeddedDir runs the embedded server that stores the stream in this
	// directory (see the package comment).
	EmbeddedDir string

	// Stream is the JetStream stream; created when missing (limits
	// retention, file storage, MaxAge, Replicas). Default DefaultStream.
	Stream string
	// Subject carries the events; a new stream captures exactly it. An
	// existing stream must capture it. Default DefaultSubject.
	Subject string
	// Consumer is the durable pull consumer that every Source of one group
	// shares; created or updated on open. Default DefaultConsumer.
	Consumer string
	// AckWait is how long the server waits for an ack before it delivers a
	// message again. The Source extends it (in-progress acks) for messages
	// it holds, every AckWait/3, so it only bounds how soon the messages of
	// a dead process move to another one. Default DefaultAckWait.
	AckWait time.Duration
	// MaxAckPending bounds the messages delivered and unacked across the
	// whole group: server-side backpressure. Default 4 × MaxInFlight (room
	// for four processes at their own bound); -1: no bound.
	MaxAckPending int
	// MaxAge is the retention of a stream this package creates. Default
	// DefaultMaxAge.
	MaxAge time.Duration
	// Replicas of a stream this package creates (a cluster); default 1.
	Replicas int
	// MaxWait is how long one pull waits on the server; default
	// DefaultMaxWait.
	MaxWait time.Duration
	// Name identifies the connection to the server (monitoring).
	Name string

	// Source holds the settings every source has (batch size, in-flight
	// bound, logger).
	Source stream.SourceOptions
}

func (c Config) withDefaults() (Config, error) {
	if (c.URL == "") == (c.EmbeddedDir == "") {
		return c, errNoTarget
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Name == "" {
		c.Name = "recoflow"
	}
	var err error
	if c.Source, err = c.Source.WithDefaults(); err != nil {
		return c, err
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 4 * c.Source.MaxInFlight
	}
	switch {
	case strings.ContainsAny(c.Stream, ". *>\t\r\n"):
		return c, fmt.Errorf("nats: stream name %q may not hold '.', '*', '>' or spaces", c.Stream)
	case strings.ContainsAny(c.Consumer, ". *>\t\r\n"):
		return c, fmt.Errorf("nats: consumer name %q may not hold '.', '*', '>' or spaces", c.Consumer)
	case c.AckWait < 100*time.Millisecond:
		return c, fmt.Errorf("nats: AckWait %s is less than 100ms", c.AckWait)
	case c.MaxWait < 100*time.Millisecond:
		return c, fmt.Errorf("nats: MaxWait %s is less than 100ms", c.MaxWait)
	case c.MaxAckPending < -1:
		return c, fmt.Errorf("nats: MaxAckPending %d is negative", c.MaxAckPending)
	}
	return c, nil
}

// where describes the server for logs and errors.
func (c Config) where() string {
	if c.EmbeddedDir != "" {
		return "embedded NATS in " + c.EmbeddedDir
	}
	return redact(c.URL)
}

// redact removes credentials from a NATS URL list.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if s, rest, ok := strings.Cut(p, "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				parts[i] = s + "://xxxxx@" + rest[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// conn is an open connection and how to let it go.
type conn struct {
	nc      *natsgo.Conn
	js      jetstream.JetStream
	release func()

	// reconnMu guards reconnected, a channel closed (and replaced) each time
	// nats.go reports a reconnect (its ReconnectHandler).
	reconnMu    sync.Mutex
	reconnected chan struct{}

	// afterPlainAcks, when set (tests only), runs in confirmAcks between
	// the plain acks of a batch and the double ack that confirms them.
	afterPlainAcks func()
	// reacked counts the batches confirmAcks acked again, message by
	// message, after a reconnect.
	reacked atomic.Uint64
}

// onReconnect wakes whoever waits on reconnectSignal.
func (c *conn) onReconnect() {
	c.reconnMu.Lock()
	close(c.reconnected)
	c.reconnected = make(chan struct{})
	c.reconnMu.Unlock()
}

// reconnectSignal returns a channel closed at the next reconnect reported
// after this call.
func (c *conn) reconnectSignal() <-chan struct{} {
	c.reconnMu.Lock()
	defer c.reconnMu.Unlock()
	return c.reconnected
}

// flushTimeout bounds a flush whose context has no deadline (nats.go
// requires one).
const flushTimeout = 30 * time.Second

// flush blocks until the server has processed everything sent so far.
func (c *conn) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return c.nc.FlushWithContext(ctx)
}

// ackPayload is the JetStream protocol's positive acknowledgement.
var ackPayload = []byte("+ACK")

// errReconnected: the connection reconnected while confirmAcks waited for
// the confirmation of a batch's acks.
var errReconnected = errors.New("nats connection reconnected during the ack")

// errConsumerGone: an ack had no responder, i.e. the server no longer has
// the consumer the message came from. Source.ackFunc names the consumer.
var errConsumerGone = fmt.Errorf("%w: no consumer answers the ack: %w", stream.ErrNotFound, natsgo.ErrNoResponders)

// confirmAcks acks msgs and returns once the server has confirmed that it
// applied every ack, in one round trip for the whole batch:
//
//   - every message but the last gets a plain ack (+ACK, no reply
//     subject);
//   - the last one gets a double ack (+ACK with a reply subject), and
//     confirmAcks waits for the server's reply.
//
// Why one reply confirms them all: the server reads what one connection
// sends in order, and JetStream queues every ack of a consumer (its
// $JS.ACK.<stream>.<consumer>.… subjects) on one queue that the consumer
// processes in order, replying to a double ack only once it has applied it
// (for a replicated consumer, once the ack is committed, acks being
// proposed in that same order). So the reply to the last ack, sent on the
// same connection after the plain ones, comes only after the server has
// applied them.
//
// That holds for one connection only. When nats.go reconnects between the
// plain acks and the reply, plain acks written to the lost connection may
// never have reached the server, silently. confirmAcks reads the
// connection's reconnect count before and after (and stops waiting for
// the reply at a reconnect); when it changed, it acks the whole batch
// again the slow, safe way (confirmEach: a double ack per message and
// every reply awaited). Acking a message twice is harmless.
//
// An error means some acks may not have been applied: the caller must not
// count the batch as acked, and the server delivers its unacked messages
// again after AckWait (the sinks drop the duplicates by ID). A consumer
// deleted meanwhile answers nothing (no responders): the error wraps
// errConsumerGone, at once. Without a deadline in ctx, waiting is bounded
// by flushTimeout.
func (c *conn) confirmAcks(ctx context.Context, msgs []jetstream.Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%d acks not sent: %w", len(msgs), err)
	}
	sig := c.reconnectSignal() // taken before the count: no reconnect slips between
	before := c.nc.Stats().Reconnects
	err := c.ackConfirmLast(ctx, sig, msgs)
	if !errors.Is(err, errReconnected) && c.nc.Stats().Reconnects == before {
		return err
	}
	c.reacked.Add(1)
	if err := c.confirmEach(ctx, msgs); err != nil {
		return fmt.Errorf("ack %d messages again after a reconnect: %w", len(msgs), err)
	}
	return nil
}

// ackConfirmLast sends plain acks for all of msgs but the last, then a
// double ack for the last, and waits for its reply; it gives up with
// errReconnected when sig closes first (see confirmAcks).
func (c *conn) ackConfirmLast(ctx context.Context, sig <-chan struct{}, msgs []jetstream.Msg) error {
	last := len(msgs) - 1
	for i, m := range msgs[:last] {
		if err := c.nc.Publish(m.Reply(), ackPayload); err != nil {
			return fmt.Errorf("ack %d of %d: %w", i+1, len(msgs), err)
		}
	}
	if c.afterPlainAcks != nil {
		c.afterPlainAcks()
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-sig:
			cancel(errReconnected)
		case <-rctx.Done():
		}
	}()
	r, err := c.nc.RequestWithContext(rctx, msgs[last].Reply(), ackPayload)
	switch {
	case err != nil && errors.Is(context.Cause(rctx), errReconnected):
		return errReconnected
	case errors.Is(err, natsgo.ErrNoResponders):
		return errConsumerGone
	case err != nil:
		return fmt.Errorf("confirmation of the acks of %d messages: %w", len(msgs), err)
	}
	return replyError(r)
}

// replyError is the error a reply to a double ack carries: a status header
// (the server's ack reply has none).
func replyError(r *natsgo.Msg) error {
	status := r.Header.Get("Status")
	switch status {
	case "":
		return nil
	case "503":
		return errConsumerGone
	}
	return fmt.Errorf("ack answered with status %s %s", status, r.Header.Get("Description"))
}

// confirmEach acks msgs, each with a double ack (a reply subject), and
// waits until the server has confirmed every one: one reply subscription
// and a reply per message. It is confirmAcks's fallback after a reconnect,
// as each reply confirms its own ack whatever the connection did.
func (c *conn) confirmEach(ctx context.Context, msgs []jetstream.Msg) error {
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox + ".*")
	if err != nil {
		return fmt.Errorf("subscribe to the ack replies: %w", err)
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return fmt.Errorf("unbound the ack replies: %w", err)
	}
	waiting := make(map[string]bool, len(msgs))
	for i, m := range msgs {
		reply := inbox + "." + strconv.Itoa(i)
		if err := c.nc.PublishRequest(m.Reply(), reply, ackPayload); err != nil {
			return fmt.Errorf("ack %d of %d: %w", i+1, len(msgs), err)
		}
		waiting[reply] = true
	}
	for len(waiting) > 0 {
		r, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("%d of %d acks unconfirmed: %w", len(waiting), len(msgs), err)
		}
		if err := replyError(r); err != nil {
			return err
		}
		delete(waiting, r.Subject)
	}
	return nil
}

func (c *conn) close() {
	c.nc.Close()
	if c.release != nil {
		c.release()
	}
}

// dial connects to the configured server and makes sure the stream exists.
func dial(ctx context.Context, cfg Config, log *slog.Logger, jsOpts ...jetstream.JetStreamOpt) (*conn, error) {
	c := &conn{reconnected: make(chan struct{})}
	opts := []natsgo.Option{
		natsgo.Name(cfg.Name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250 * time.Millisecond),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "server", cfg.where(), "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(*natsgo.Conn) {
			c.onReconnect()
			log.Info("nats reconnected", "server", cfg.where())
		}),
	}
	var err error
	if cfg.EmbeddedDir != "" {
		c.nc, c.release, err = dialEmbedded(ctx, cfg.EmbeddedDir, log, opts...)
	} else {
		c.nc, err = natsgo.Connect(cfg.URL, append(opts, natsgo.Timeout(5*time.Second))...)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.where(), err)
	}
	if c.js, err = jetstream.New(c.nc, jsOpts...); err != nil {
		c.close()
		return nil, fmt.Errorf("jetstream on %s: %w", cfg.where(), err)
	}
	if err := ensureStream(ctx, c.js, cfg); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// ensureStream creates the stream when it is missing and checks that an
// existing one captures the subject.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	st, err := js.Stream(ctx, cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        cfg.Stream,
			Description: "recoflow shopper events",
			Subjects:    []string{cfg.Subject},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      cfg.MaxAge,
			Replicas:    cfg.Replicas,
			Duplicates:  DefaultDuplicateWindow,
		})
		if err == nil || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil // created here, or by a process that raced us
		}
		return fmt.Errorf("create JetStream stream %s on %s: %w", cfg.Stream, cfg.where(), err)
	}
	if err != nil {
		return fmt.Errorf("JetStream stream %s on %s: %w", cfg.Stream, cfg.where(), err)
	}
	subjects := st.CachedInfo().Config.Subjects
	for _, s := range subjects {
		if subjectCovers(s, cfg.Subject) {
			return nil
		}
	}
	return fmt.Errorf("JetStream stream %s on %s captures %q, not subject %q: %w",
		cfg.Stream, cfg.where(), subjects, cfg.Subject, stream.ErrNotFound)
}

// subjectCovers reports whether every subject matched by sub is also
// matched by the stream subject pattern pat ('*' one token, '>' the rest).
func subjectCovers(pat, sub string) bool {
	p, s := strings.Split(pat, "."), strings.Split(sub, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return i < len(s)
		case i >= len(s):
			return false
		case tok == "*":
			if s[i] == ">" {
				return false
			}
		case tok != s[i]:
			return false
		}
	}
	return len(p) == len(s)
}
