package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/sink"
	"github.com/recoflow/recoflow/stream"
)

// Options tune Run.
type Options struct {
	// Log receives the pipeline's log lines; nil discards them.
	Log *slog.Logger
	// Registerer, when set, gets the pipeline's Prometheus metrics.
	Registerer prometheus.Registerer
	// ShutdownGrace bounds how long Run spends, after ctx ends, flushing
	// and acknowledging what is in flight (default 30 s). What does not
	// make it is delivered again by the stream later, never lost.
	ShutdownGrace time.Duration
	// MaxBackoff caps the wait between retries while the store or the
	// source fails (default 10 s).
	MaxBackoff time.Duration
	// OnComputed, when set, is called after each batch is transformed with
	// the number of records and, for each message, the time from its
	// arrival in the broker to the moment its recommendations were computed
	// (publish-to-compute: the time it waited in the stream, which after a
	// restart includes the backlog, plus the computation; benchmarks use
	// it).
	OnComputed func(n int, publishToCompute []time.Duration)
	// MaxInFlightBytes bounds the messages read from the source and not
	// yet acknowledged, in bytes (each message's data plus
	// MessageOverhead): Run reads no further batch while they are at the
	// bound, so memory follows the bytes, whatever the messages' size.
	// Default DefaultMaxInFlightBytes. The source's own bound (in
	// messages) applies too.
	MaxInFlightBytes int64
}

// DefaultMaxInFlightBytes is Options.MaxInFlightBytes's default: about
// 12,000 of the lab's events, two to three of the lake sink's default 5 MiB
// buffers of outputs (one filling while another is written). A sink that
// flushes only at larger sizes needs a larger bound, at least twice its
// buffer size: under it, reads wait for the sink's interval flush.
const DefaultMaxInFlightBytes = 16 << 20

// MessageOverhead is what Run counts for each message beyond its data: the
// broker client's message, headers and metadata, the stream.Message and the
// output record's recommendations (measured: about 1 KiB a message of the
// lab's events in flight, in the live heap of recoflow stream).
const MessageOverhead = 1024

// Names of the pipeline's latency metrics.
const (
	// MetricPublishToCompute is the time from an event's arrival in the
	// broker to its recommendations being computed. It includes the time
	// the event waited in the stream before it was read: after a restart
	// or a stall, the age of the backlog. DESIGN.md §10's latency target is
	// on it, measured without a backlog.
	MetricPublishToCompute = "recoflow_stream_publish_to_compute_seconds"
	// MetricCompute is the time the pipeline spends computing one batch's
	// recommendations (decode, embed, vector search), without any queueing.
	MetricCompute = "recoflow_stream_compute_seconds"
	// MetricFallbacks counts the records with a fallback, by part
	// (recommended_items, similar_items) and reason.
	MetricFallbacks = "recoflow_stream_fallbacks_total"
)

// metrics are the pipeline's Prometheus collectors.
type metrics struct {
	events           *prometheus.CounterVec
	publishToCompute prometheus.Histogram
	compute          prometheus.Histogram
	retries          *prometheus.CounterVec
	batchSize        prometheus.Histogram
	fallbacks        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recoflow_stream_events_total", Help: "Events processed, by outcome (ok or error).",
		}, []string{"outcome"}),
		publishToCompute: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricPublishToCompute, Help: "Time from an event's arrival in the broker to its recommendations being computed, including the time it waited in the stream (a backlog after a restart).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 20),
		}),
		compute: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricCompute, Help: "Time spent computing one batch's recommendations (decode, embed, vector search), without queueing.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricFallbacks, Help: "Records whose recommended_items or similar_items are a fallback, by part and reason.",
		}, []string{"part", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recoflow_stream_retries_total", Help: "Retries of a batch or a read, by cause.",
		}, []string{"cause"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "recoflow_stream_batch_size", Help: "Messages per batch read from the stream.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
	}
	if reg != nil {
		m.events = register(reg, m.events)
		m.publishToCompute = register(reg, m.publishToCompute)
		m.compute = register(reg, m.compute)
		m.retries = register(reg, m.retries)
		m.batchSize = register(reg, m.batchSize)
		m.fallbacks = register(reg, m.fallbacks)
	}
	return m
}

// AckReporter is implemented by sources that can tell which messages their
// consumer group has acknowledged for good (stream/nats.Source, from the
// durable consumer's acknowledgement floor; stream/kafka.Source, from the
// group's committed offsets). Run hands it to a sink that
// asks (sink.Buffered.SetAcknowledged), so that ledger entries left by
// killed runs are retired once the source has acknowledged their messages.
type AckReporter interface {
	Acknowledged(ctx context.Context, ids []string) ([]bool, error)
}

// ackAsker is implemented by sinks that ask the source what it has
// acknowledged (sink.Buffered).
type ackAsker interface {
	SetAcknowledged(fn func(ctx context.Context, ids []string) ([]bool, error))
}

// register registers c with reg, or returns the collector reg already has
// under its name (a second Run on the same registry counts into the same
// series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic(err)
		}
		if prev, ok := are.ExistingCollector.(C); ok {
			return prev
		}
	}
	return c
}

// Run reads src until ctx ends, transforms each batch with t and hands the
// result to snk, which acknowledges the batch once durable. It blocks until
// ctx ends or the source or sink fails for good; then it stops reading,
// flushes and acknowledges what is in flight (within ShutdownGrace), closes
// the sink and the source, and returns nil after a clean shutdown. Run owns
// src and snk from the start and closes both.
func Run(ctx context.Context, src stream.Source, t *Transformer, snk sink.Sink, opts Options) (err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 30 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.MaxInFlightBytes <= 0 {
		opts.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	log := opts.Log
	m := newMetrics(opts.Registerer)
	t.fallbacks.Store(m.fallbacks)
	if ar, ok := src.(AckReporter); ok {
		if asker, ok := snk.(ackAsker); ok {
			asker.SetAcknowledged(ar.Acknowledged)
		}
	}
	// The reader reads the next batch while this goroutine transforms the
	// current one. It stops with rctx; the source is closed only after it
	// has returned.
	rctx, stopReading := context.WithCancel(ctx)
	rd := &reader{src: src, m: m, log: log, maxBytes: opts.MaxInFlightBytes, maxBackoff: opts.MaxBackoff,
		out: make(chan readResult, 1), released: make(chan struct{}, 1)}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		rd.run(rctx)
	}()
	defer func() {
		stopReading()
		<-readerDone
		// Shutdown: what the sink holds is flushed and acknowledged; then
		// the source lets go of what is left (delivered again later).
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownGrace)
		defer cancel()
		if cerr := snk.Close(gctx); cerr != nil && err == nil {
			err = fmt.Errorf("close sink: %w", cerr)
		}
		if cerr := src.Close(gctx); cerr != nil && err == nil {
			err = fmt.Errorf("close source: %w", cerr)
		}
	}()

	for {
		var r readResult
		select {
		case <-ctx.Done():
			return nil
		case r = <-rd.out:
		}
		if ctx.Err() != nil {
			return nil
		}
		if r.err != nil {
			return r.err
		}
		batch, ack := r.batch, r.ack
		m.batchSize.Observe(float64(len(batch)))

		var recs []sink.Record
		var errs []sink.ErrorRecord
		for attempt := 1; ; attempt++ {
			var terr error
			began := time.Now()
			recs, errs, terr = t.Transform(ctx, batch)
			if terr == nil {
				m.compute.Observe(time.Since(began).Seconds())
			}
			if terr == nil {
				break
			}
			if ctx.Err() != nil {
				return nil // the batch is not acked: the stream delivers it again
			}
			m.retries.WithLabelValues("store").Inc()
			if attempt == 1 || attempt%10 == 0 {
				log.Warn("recommendations unavailable; retrying the batch", "err", terr, "attempt", attempt, "events", len(batch))
			}
			if !sleep(ctx, backoff(attempt, opts.MaxBackoff)) {
				return nil
			}
		}
		computed := time.Now()
		lat := make([]time.Duration, 0, len(batch))
		for _, msg := range batch {
			if !msg.Time.IsZero() {
				d := computed.Sub(msg.Time)
				lat = append(lat, d)
				m.publishToCompute.Observe(d.Seconds())
			}
		}
		if opts.OnComputed != nil {
			opts.OnComputed(len(batch), lat)
		}
		m.events.WithLabelValues("ok").Add(float64(len(recs)))
		m.events.WithLabelValues("error").Add(float64(len(errs)))
		if err := snk.Write(ctx, sink.Batch{
			Records: recs, Errors: errs, Ack: sink.AckFunc(ack),
			// The source does not say which messages are redeliveries;
			// the sink then checks its ledger (at most once a second).
			Redelivered: true,
		}); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("hand batch to sink: %w", err)
		}
	}
}

// readResult is a batch read, with the function that acknowledges it, or
// the error that ends the reads.
type readResult struct {
	batch stream.Batch
	ack   stream.AckFunc
	err   error
}

// reader reads batches ahead of the transform, one at a time, while the
// bytes read and not yet acknowledged are under maxBytes; it retries a
// failing source with backoff.
type reader struct {
	src        stream.Source
	m          *metrics
	log        *slog.Logger
	maxBytes   int64
	maxBackoff time.Duration
	out        chan readResult

	inflight atomic.Int64  // bytes read and not yet acknowledged
	released chan struct{} // signalled when an acknowledgement releases bytes
}

func (r *reader) run(ctx context.Context) {
	failures := 0
	for {
		for r.inflight.Load() >= r.maxBytes {
			select {
			case <-ctx.Done():
				return
			case <-r.released:
			}
		}
		batch, ack, err := r.src.ReadBatch(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, stream.ErrClosed) {
				select {
				case r.out <- readResult{err: err}:
				case <-ctx.Done():
				}
				return
			}
			failures++
			r.m.retries.WithLabelValues("source").Inc()
			r.log.Warn("stream read failed; retrying", "source", r.src.String(), "err", err, "attempt", failures)
			if !sleep(ctx, backoff(failures, r.maxBackoff)) {
				return
			}
			continue
		}
		failures = 0
		var size int64
		for _, msg := range batch {
			size += int64(len(msg.Data)) + MessageOverhead
		}
		r.inflight.Add(size)
		var once sync.Once
		release := func() {
			once.Do(func() {
				r.inflight.Add(-size)
				select {
				case r.released <- struct{}{}:
				default:
				}
			})
		}
		// Released whatever the acknowledgement's outcome: a batch whose
		// acknowledgement failed is the stream's to deliver again.
		wrapped := func(ctx context.Context) error {
			defer release()
			return ack(ctx)
		}
		select {
		case r.out <- readResult{batch: batch, ack: wrapped}:
		case <-ctx.Done():
			return // not acknowledged: the stream delivers it again
		}
	}
}

// backoff is an exponential delay with jitter: 100 ms, 200 ms, … up to max.
func backoff(attempt int, max time.Duration) time.Duration {
	d := 100 * time.Millisecond << min(attempt-1, 10)
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
