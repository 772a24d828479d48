package sink

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/recoflow/recoflow/batch"
)

// Defaults of Options.
const (
	// DefaultBufferSize and DefaultBufferInterval are Firehose's default
	// buffering hints: a flush at 5 MiB or after 60 s, whichever first.
	DefaultBufferSize     = 5 << 20
	DefaultBufferInterval = 60 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between two
	// attempts at writing a flush.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultRetain is how long IDs stay known after their batch was
	// acknowledged, to catch copies the source sent before it saw the ack.
	DefaultRetain = 30 * time.Second
	// DefaultHorizon is how long a ledger entry is kept at most.
	DefaultHorizon = 24 * time.Hour
	// refreshEvery rate-limits the ledger re-reads that redelivered batches
	// cause.
	refreshEvery = time.Second
	// sweepEvery is how often idle sinks retire ledger entries.
	sweepEvery = 5 * time.Second
)

// DefaultPolicy is Firehose's default buffering: 5 MiB or 60 s.
var DefaultPolicy = batch.Policy{Bytes: DefaultBufferSize, Period: DefaultBufferInterval}

// Options tune a Buffered sink. The zero value takes every default.
type Options struct {
	// Policy says when a buffer is flushed (default DefaultPolicy). A flush
	// holds whole batches: a batch that does not fit the buffer's byte or
	// count limit starts a new buffer, and a single batch larger than the
	// limits makes a flush of its own.
	Policy batch.Policy
	// MaxInFlight bounds the bytes (record data, error reasons and raw
	// inputs) handed in but not yet acknowledged; Write blocks while they
	// are at the limit. Default 4 × Policy.Bytes, or 64 MiB when the
	// policy has no byte limit; it must be at least 2 × Policy.Bytes. A
	// buffer holding half of it is flushed whatever the policy says.
	MaxInFlight int64
	// MinBackoff and MaxBackoff bound the exponential backoff (with jitter)
	// between attempts at writing a flush; defaults DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Retain is how long the IDs of an acknowledged flush stay known (and
	// its ledger entry stays) so that a copy the source sent before it got
	// the acknowledgement is still recognised (default DefaultRetain). Each
	// known ID costs about 85 bytes of memory (measured with 1 M IDs):
	// 26 MB at 10,000 records/s with the default.
	Retain time.Duration
	// Horizon bounds how long a ledger entry is kept: entries older than
	// this are deleted, and their IDs could then be written again. It must
	// exceed the longest time a source may take to redeliver an
	// unacknowledged message, downtime included (default DefaultHorizon).
	Horizon time.Duration
	// Logger receives warnings about retries and failed acknowledgements
	// (default: slog.Default()).
	Logger *slog.Logger
	// Now is the clock for flush times and ledger ages (default time.Now).
	// Buffer periods are always timed by the real clock.
	Now func() time.Time
	// NewID returns a fresh flush ID, unique across sinks and runs (default:
	// 16 random base32 letters and digits, lower case).
	NewID func() string
	// Acknowledged, when set, asks the source whether it has acknowledged
	// the messages with the given IDs for good (it will not deliver them
	// again), one answer per ID. The sink asks it, after each flush and
	// every few seconds while idle, about the IDs of ledger entries left by stopped runs that it cannot
	// retire otherwise: entries whose flush was written and acknowledged,
	// in part or in full, but whose acknowledgement was not yet recorded in
	// the ledger when the run died. Without it such an entry stays until
	// Horizon. It may block; an error makes the sink ask again later.
	// SetAcknowledged sets it on a running sink.
	Acknowledged func(ctx context.Context, ids []string) ([]bool, error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Policy == (batch.Policy{}) {
		o.Policy = DefaultPolicy
	}
	if err := o.Policy.Validate(); err != nil {
		return o, err
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 64 << 20
		if o.Policy.Bytes > 0 {
			o.MaxInFlight = 4 * o.Policy.Bytes
		}
	}
	if o.MaxInFlight < 0 || o.MaxInFlight < 2*o.Policy.Bytes {
		return o, fmt.Errorf("sink: max in-flight bytes %d must be at least twice the buffer size %d", o.MaxInFlight, o.Policy.Bytes)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.Horizon <= 0 {
		o.Horizon = DefaultHorizon
	}
	if o.Horizon < o.Retain {
		return o, fmt.Errorf("sink: horizon %s is shorter than the retention %s", o.Horizon, o.Retain)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = newID
	}
	return o, nil
}

func newID() string { return strings.ToLower(rand.Text()[:16]) }

// Stats counts what a Buffered sink has done since it started.
type Stats struct {
	Batches       uint64 // batches taken by Write
	Records       uint64 // records taken
	Errors        uint64 // error records taken (including records a Checker rejected)
	Duplicates    uint64 // records and error records dropped: their ID was in flight or already written
	Flushes       uint64 // flushes made durable (empty ones included)
	Written       uint64 // records made durable
	ErrorsWritten uint64 // error records made durable
	Retries       uint64 // failed attempts at writing a flush
	Acked         uint64 // batches acknowledged
	AckErrors     uint64 // acknowledgements that returned an error
	Recovered     uint64 // ledger entries found by recovery and refreshes
	Marked        uint64 // ledger entries recorded as acknowledged (Ledger.Acknowledge)
	Retired       uint64 // ledger entries retired
	InFlightBytes int64  // bytes handed in and not yet acknowledged
}

type stats struct {
	batches, records, errors, dups, flushes, written, errorsWritten,
	retries, acked, ackErrors, recovered, marked, retired atomic.Uint64
	inflight atomic.Int64
}

// idKey is a 128-bit hash of an ID: the dedup index keeps these rather
// than the IDs, so that its memory does not grow with the IDs' length. Two
// different IDs share a key with a probability below 2⁻⁸⁰ even among
// billions.
type idKey [2]uint64

// entry tracks the IDs of one flush (or of one recovered ledger entry)
// until they may be forgotten.
type entry struct {
	key       string    // ledger key; "" without a ledger or while open
	cut       time.Time // zero while open
	ids       []idKey
	recovered bool
	unseen    map[idKey]string // recovered: durable IDs not yet redelivered (nor known acknowledged)
	unwritten map[idKey]string // recovered: IDs of objects that do not exist, not yet written again
	pending   int              // unacknowledged batches that refer to it
	lastAck   time.Time
	ackFailed bool
	marked    bool // the ledger records it as acknowledged
	retired   bool
}

// settled reports whether none of e's IDs can come back except as a copy
// sent before the source received an acknowledgement: every batch that
// refers to it is acknowledged, none failed, and, for a recovered entry not
// recorded as acknowledged, every ID has come back (and been written).
func (e *entry) settled() bool {
	if e.pending > 0 || e.ackFailed || len(e.unseen) > 0 || len(e.unwritten) > 0 {
		return false
	}
	return e.recovered || !e.lastAck.IsZero()
}

// pending is one batch taken by Write.
type pending struct {
	b      Batch
	weight int64 // semaphore weight held
	bytes  int64
	refs   []*entry
}

// flush is a buffer being filled or waiting to be written.
type flush struct {
	Flush
	opened  time.Time
	bytes   int64
	entry   *entry
	batches []*pending
}

// Buffered is a Sink that buffers records by a batch.Policy and hands each
// flush to a Writer, retrying until it is durable, then acknowledges the
// batches it completes, in order. Create it with New.
type Buffered struct {
	w       Writer
	ledger  Ledger
	checker Checker
	opts    Options
	log     *slog.Logger
	sem     *semaphore.Weighted

	ctx    context.Context // ends when the sink stops for good
	cancel context.CancelFunc
	stop   context.Context // ends when Close stops intake
	stopFn context.CancelFunc

	in        chan *pending
	loopDone  chan struct{}
	writeDone chan struct{}
	closeOnce sync.Once

	// owned by the loop goroutine
	batcher     *batch.Batcher
	open        *flush
	seq         uint64
	lastRefresh time.Time

	qmu        sync.Mutex
	queue      []*flush
	loopExited bool
	qsignal    chan struct{}

	ackedFn atomic.Pointer[func(ctx context.Context, ids []string) ([]bool, error)]
	lastAsk time.Time // owned by the write loop
	seeds   [2]maphash.Seed
	dmu     sync.Mutex
	ids     map[idKey]*entry
	entries map[*entry]struct{}
	byKey   map[string]*entry
	// unwritten maps the IDs of recovered entries whose objects do not
	// exist to their entry, until they are written again.
	unwritten map[idKey]*entry

	st stats
}

var _ Sink = (*Buffered)(nil)

// New returns a sink that writes through w. When w implements Ledger, New
// first recovers the IDs that earlier runs made durable (blocking on the
// destination; ctx covers only that) and fails if it cannot read them.
// When w implements Checker, records it rejects become error records. The
// sink runs until Close; ctx's cancellation does not stop it.
func New(ctx context.Context, w Writer, opts Options) (*Buffered, error) {
	if w == nil {
		return nil, errors.New("sink: nil writer")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Buffered{
		w:         w,
		opts:      opts,
		log:       opts.Logger,
		sem:       semaphore.NewWeighted(opts.MaxInFlight),
		in:        make(chan *pending),
		loopDone:  make(chan struct{}),
		writeDone: make(chan struct{}),
		batcher:   batch.New(opts.Policy, opts.Now),
		qsignal:   make(chan struct{}, 1),
		seeds:     [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		ids:       make(map[idKey]*entry),
		entries:   make(map[*entry]struct{}),
		byKey:     make(map[string]*entry),
		unwritten: make(map[idKey]*entry),
	}
	if opts.Acknowledged != nil {
		s.SetAcknowledged(opts.Acknowledged)
	}
	s.ledger, _ = w.(Ledger)
	s.checker, _ = w.(Checker)
	if s.ledger != nil {
		found, err := s.ledger.Recover(ctx, opts.Now().Add(-opts.Horizon), nil)
		if err != nil {
			return nil, fmt.Errorf("sink: recover ledger: %w", err)
		}
		s.adopt(found)
		s.lastRefresh = opts.Now()
	}
	base := context.WithoutCancel(ctx)
	s.ctx, s.cancel = context.WithCancel(base)
	s.stop, s.stopFn = context.WithCancel(s.ctx)
	go s.loop()
	go s.writeLoop()
	return s, nil
}

// SetAcknowledged sets Options.Acknowledged (nil unsets it). It does not
// block and is safe to call at any time, typically by the pipeline once the
// source is open.
func (s *Buffered) SetAcknowledged(fn func(ctx context.Context, ids []string) ([]bool, error)) {
	if fn == nil {
		s.ackedFn.Store(nil)
		return
	}
	s.ackedFn.Store(&fn)
}

// Stats returns the sink's counters. It does not block.
func (s *Buffered) Stats() Stats {
	return Stats{
		Batches: s.st.batches.Load(), Records: s.st.records.Load(), Errors: s.st.errors.Load(),
		Duplicates: s.st.dups.Load(), Flushes: s.st.flushes.Load(), Written: s.st.written.Load(),
		ErrorsWritten: s.st.errorsWritten.Load(), Retries: s.st.retries.Load(), Acked: s.st.acked.Load(),
		AckErrors: s.st.ackErrors.Load(), Recovered: s.st.recovered.Load(), Marked: s.st.marked.Load(), Retired: s.st.retired.Load(),
		InFlightBytes: s.st.inflight.Load(),
	}
}

func recordSize(r Record) int64     { return int64(len(r.Data)) + 1 }
func errorSize(e ErrorRecord) int64 { return int64(len(e.Raw) + len(e.Reason)) }

// Write implements Sink.
func (s *Buffered) Write(ctx context.Context, b Batch) error {
	if s.stop.Err() != nil {
		return ErrClosed
	}
	if s.checker != nil {
		b = s.check(b)
	}
	var size int64
	for _, r := range b.Records {
		size += recordSize(r)
	}
	for _, e := range b.Errors {
		size += errorSize(e)
	}
	weight := min(size, s.opts.MaxInFlight)
	if weight > 0 {
		actx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(s.stop, cancel)
		err := s.sem.Acquire(actx, weight)
		stop()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return ErrClosed
		}
	}
	p := &pending{b: b, weight: weight, bytes: size}
	select {
	case s.in <- p:
		s.st.inflight.Add(size)
		return nil
	case <-ctx.Done():
		s.sem.Release(weight)
		return ctx.Err()
	case <-s.stop.Done():
		s.sem.Release(weight)
		return ErrClosed
	}
}

// check turns the records the writer rejects into error records.
func (s *Buffered) check(b Batch) Batch {
	var keep []Record
	for i, r := range b.Records {
		err := s.checker.Check(r)
		if err == nil {
			if keep != nil {
				keep = append(keep, r)
			}
			continue
		}
		if keep == nil {
			keep = append(make([]Record, 0, len(b.Records)), b.Records[:i]...)
			b.Errors = append([]ErrorRecord(nil), b.Errors...)
		}
		b.Errors = append(b.Errors, ErrorRecord{ID: r.ID, Raw: r.Data, Reason: err.Error(), Time: r.Time})
	}
	if keep != nil {
		b.Records = keep
	}
	return b
}

// Close implements Sink.
func (s *Buffered) Close(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		<-s.writeDone
		return nil
	}
	s.stopFn()
	select {
	case <-s.writeDone:
	case <-ctx.Done():
		s.cancel()
		<-s.writeDone
		<-s.loopDone
		return fmt.Errorf("close sink: %w (what was in flight is left unacknowledged)", ctx.Err())
	}
	<-s.loopDone
	// Everything is acknowledged, and no more copies will be handed in:
	// retire what the ledger no longer needs.
	s.sweep(ctx, true)
	s.cancel()
	return nil
}

// loop owns the buffer: it takes batches, applies the policy and cuts
// flushes for writeLoop.
func (s *Buffered) loop() {
	defer close(s.loopDone)
	defer func() {
		s.qmu.Lock()
		s.loopExited = true
		s.qmu.Unlock()
		s.signal()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		if d, ok := s.batcher.Deadline(); ok {
			timer.Reset(max(0, d.Sub(s.opts.Now())))
			tc = timer.C
		}
		select {
		case p := <-s.in:
			s.add(p)
		case <-tc:
			s.cut() // the real clock reached the deadline the timer was set for
		case <-s.stop.Done():
			if s.ctx.Err() == nil {
				s.cut()
			}
			return
		}
	}
}

func (s *Buffered) signal() {
	select {
	case s.qsignal <- struct{}{}:
	default:
	}
}

// add puts a batch into the open buffer, without the IDs already in flight
// or written, and cuts the buffer when the policy says so.
func (s *Buffered) add(p *pending) {
	s.st.batches.Add(1)
	s.st.records.Add(uint64(len(p.b.Records)))
	s.st.errors.Add(uint64(len(p.b.Errors)))
	if p.b.Redelivered && s.ledger != nil && s.opts.Now().Sub(s.lastRefresh) >= refreshEvery {
		s.refresh()
	}
	var (
		recs []Record
		errs []ErrorRecord
		size int64
		dups uint64
	)
	seen := make(map[idKey]struct{}, len(p.b.Records)+len(p.b.Errors))
	refs := make(map[*entry]struct{})
	var keys []idKey // of the kept records, then the kept error records
	// dup reports whether id was seen before, referring the batch to the
	// entry that holds it.
	dup := func(id string) bool {
		k := s.key(id)
		if _, ok := seen[k]; ok {
			return true
		}
		if e, ok := s.ids[k]; ok {
			if e.unseen != nil {
				delete(e.unseen, k)
			}
			refs[e] = struct{}{}
			return true
		}
		seen[k] = struct{}{}
		keys = append(keys, k)
		if e, ok := s.unwritten[k]; ok {
			// Written again now: the old entry may go once this batch is
			// acknowledged.
			delete(s.unwritten, k)
			delete(e.unwritten, k)
			refs[e] = struct{}{}
		}
		return false
	}
	s.dmu.Lock()
	for _, r := range p.b.Records {
		if dup(r.ID) {
			dups++
			continue
		}
		recs = append(recs, r)
		size += recordSize(r)
	}
	for _, e := range p.b.Errors {
		if dup(e.ID) {
			dups++
			continue
		}
		errs = append(errs, e)
		size += errorSize(e)
	}
	s.dmu.Unlock()
	s.st.dups.Add(dups)

	n := len(recs) + len(errs)
	if n > 0 && !s.batcher.Fits(n, size) {
		s.cut()
	}
	f := s.open
	if f == nil {
		f = &flush{opened: s.opts.Now()}
		s.open = f
	}
	s.dmu.Lock()
	if n > 0 {
		if f.entry == nil {
			f.entry = &entry{}
			s.entries[f.entry] = struct{}{}
		}
		for _, k := range keys {
			s.ids[k] = f.entry
		}
		f.entry.ids = append(f.entry.ids, keys...)
		refs[f.entry] = struct{}{}
	}
	for e := range refs {
		e.pending++
		p.refs = append(p.refs, e)
	}
	s.dmu.Unlock()
	f.Records = append(f.Records, recs...)
	f.Errors = append(f.Errors, errs...)
	f.bytes += size
	f.batches = append(f.batches, p)
	s.batcher.Add(n, size)
	if s.batcher.Full() || f.entry == nil || f.bytes >= s.opts.MaxInFlight/2 {
		// Full, or nothing to write (only acknowledgements, which need not
		// wait), or holding half of the in-flight limit.
		s.cut()
	}
}

// cut closes the open buffer and queues it for writing.
func (s *Buffered) cut() {
	f := s.open
	s.open = nil
	s.batcher.Reset()
	if f == nil || len(f.batches) == 0 {
		return
	}
	s.seq++
	f.Seq = s.seq
	f.ID = s.opts.NewID()
	f.Cut = s.opts.Now().UTC()
	f.Time = f.opened.UTC()
	for _, r := range f.Records {
		if !r.Time.IsZero() && r.Time.Before(f.Time) {
			f.Time = r.Time.UTC()
		}
	}
	for _, e := range f.Errors {
		if !e.Time.IsZero() && e.Time.Before(f.Time) {
			f.Time = e.Time.UTC()
		}
	}
	if f.entry != nil {
		s.dmu.Lock()
		f.entry.cut = f.Cut
		if s.ledger != nil {
			f.entry.key = s.ledger.EntryKey(&f.Flush)
			s.byKey[f.entry.key] = f.entry
		}
		s.dmu.Unlock()
	}
	s.qmu.Lock()
	s.queue = append(s.queue, f)
	s.qmu.Unlock()
	s.signal()
}

// refresh re-reads the ledger for entries that other workers (or earlier
// runs) made durable since the last read, retrying until it succeeds or the
// sink stops.
func (s *Buffered) refresh() {
	known := func(key string) bool {
		s.dmu.Lock()
		defer s.dmu.Unlock()
		_, ok := s.byKey[key]
		return ok
	}
	for attempt := 0; ; attempt++ {
		start := s.opts.Now()
		found, err := s.ledger.Recover(s.ctx, start.Add(-s.opts.Horizon), known)
		if err == nil {
			s.adopt(found)
			s.lastRefresh = start
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		d := s.backoff(attempt)
		s.log.Warn("sink ledger refresh failed, retrying", "attempt", attempt+1, "retry_in", d, "err", err)
		if !sleep(s.ctx, d) {
			return
		}
	}
}

// adopt makes recovered ledger entries known: first the durable IDs of
// every entry, then the IDs that are not durable in any.
func (s *Buffered) adopt(found []Entry) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	adopted := make([]*entry, len(found))
	for i, fe := range found {
		if len(fe.IDs) == 0 && len(fe.Unwritten) == 0 {
			continue
		}
		if _, ok := s.byKey[fe.Key]; ok {
			continue
		}
		e := &entry{key: fe.Key, cut: fe.Cut, recovered: true}
		if !fe.Acked.IsZero() {
			// Acknowledged: its IDs come back only as copies sent before
			// the acknowledgement, within Retain of it.
			e.marked, e.lastAck = true, fe.Acked
		} else {
			e.unseen = make(map[idKey]string, len(fe.IDs))
		}
		for _, id := range fe.IDs {
			k := s.key(id)
			if _, ok := s.ids[k]; ok {
				continue
			}
			s.ids[k] = e
			e.ids = append(e.ids, k)
			if e.unseen != nil {
				e.unseen[k] = id
			}
		}
		s.entries[e] = struct{}{}
		s.byKey[e.key] = e
		s.st.recovered.Add(1)
		adopted[i] = e
	}
	for i, fe := range found {
		e := adopted[i]
		if e == nil || len(fe.Unwritten) == 0 || !fe.Acked.IsZero() {
			continue
		}
		// Never written, so never acknowledged by this entry's run: the
		// messages come again and are written then (or were, by a later
		// run, and the source acknowledged them); the entry goes after that.
		e.unwritten = make(map[idKey]string, len(fe.Unwritten))
		for _, id := range fe.Unwritten {
			k := s.key(id)
			if _, ok := s.ids[k]; ok {
				continue // durable in another entry
			}
			if _, ok := s.unwritten[k]; ok {
				continue
			}
			s.unwritten[k] = e
			e.unwritten[k] = id
		}
	}
}

// writeLoop writes the queued flushes in order and acknowledges their
// batches.
func (s *Buffered) writeLoop() {
	defer close(s.writeDone)
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		f := s.next(tick.C)
		if f == nil {
			return
		}
		if !s.deliver(f) {
			return
		}
		s.sweep(s.ctx, false)
	}
}

// next returns the next queued flush, or nil once there will be none.
func (s *Buffered) next(tick <-chan time.Time) *flush {
	for {
		s.qmu.Lock()
		if len(s.queue) > 0 {
			f := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.qmu.Unlock()
			return f
		}
		done := s.loopExited
		s.qmu.Unlock()
		if done || s.ctx.Err() != nil {
			return nil
		}
		select {
		case <-s.qsignal:
		case <-tick:
			s.sweep(s.ctx, false)
		case <-s.ctx.Done():
			return nil
		}
	}
}

// deliver writes f until it is durable, then acknowledges its batches. It
// returns false when the sink stopped first.
func (s *Buffered) deliver(f *flush) bool {
	if len(f.Records)+len(f.Errors) > 0 {
		for attempt := 0; ; attempt++ {
			err := s.w.Write(s.ctx, &f.Flush)
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				return false
			}
			s.st.retries.Add(1)
			d := s.backoff(attempt)
			s.log.Warn("sink write failed, retrying", "flush", f.ID, "seq", f.Seq, "attempt", attempt+1, "retry_in", d, "err", err)
			if !sleep(s.ctx, d) {
				return false
			}
		}
	}
	s.st.flushes.Add(1)
	s.st.written.Add(uint64(len(f.Records)))
	s.st.errorsWritten.Add(uint64(len(f.Errors)))
	for _, p := range f.batches {
		s.ack(p)
	}
	return true
}

func (s *Buffered) ack(p *pending) {
	var err error
	if p.b.Ack != nil {
		err = p.b.Ack(s.ctx)
	}
	s.st.acked.Add(1)
	if err != nil {
		s.st.ackErrors.Add(1)
		s.log.Warn("sink acknowledgement failed; the source may deliver the batch again", "err", err)
	}
	now := s.opts.Now()
	s.dmu.Lock()
	for _, e := range p.refs {
		e.pending--
		e.lastAck = now
		if err != nil {
			e.ackFailed = true
		}
	}
	s.dmu.Unlock()
	s.st.inflight.Add(-p.bytes)
	if p.weight > 0 {
		s.sem.Release(p.weight)
	}
}

// sweep records in the ledger the entries that became settled (so that a
// run after a crash need not wait for their IDs), and forgets the entries
// whose IDs cannot come back: settled and Retain passed since the last
// acknowledgement (at once when all is set), or older than Horizon. With a
// ledger, the entry is deleted first.
func (s *Buffered) sweep(ctx context.Context, all bool) {
	s.askSource(ctx)
	now := s.opts.Now()
	var due, mark []*entry
	s.dmu.Lock()
	for e := range s.entries {
		if e.cut.IsZero() || e.retired {
			continue
		}
		old := now.Sub(e.cut) >= s.opts.Horizon
		settled := e.settled()
		since := e.cut
		if e.lastAck.After(since) {
			since = e.lastAck
		}
		calm := all || now.Sub(since) >= s.opts.Retain
		switch {
		case old && e.pending == 0, settled && calm:
			due = append(due, e)
		case settled && !e.marked && e.key != "" && s.ledger != nil:
			mark = append(mark, e)
		}
	}
	s.dmu.Unlock()
	for _, e := range due {
		if s.ledger != nil && e.key != "" {
			if err := s.ledger.Retire(ctx, e.key); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("sink ledger retire failed; will retry", "entry", e.key, "err", err)
				}
				continue
			}
			s.st.retired.Add(1)
		}
		s.dmu.Lock()
		e.retired = true
		for _, id := range e.ids {
			if s.ids[id] == e {
				delete(s.ids, id)
			}
		}
		for id := range e.unwritten {
			if s.unwritten[id] == e {
				delete(s.unwritten, id)
			}
		}
		delete(s.entries, e)
		if s.byKey[e.key] == e {
			delete(s.byKey, e.key)
		}
		s.dmu.Unlock()
	}
	for _, e := range mark {
		s.dmu.Lock()
		at := e.lastAck
		if at.IsZero() {
			at = now
		}
		s.dmu.Unlock()
		if err := s.ledger.Acknowledge(ctx, e.key, at); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("sink ledger acknowledgement record failed; will retry", "entry", e.key, "err", err)
			}
			continue
		}
		s.st.marked.Add(1)
		s.dmu.Lock()
		e.marked = true
		s.dmu.Unlock()
	}
}

// askSource asks Options.Acknowledged about the IDs of recovered entries that wait for them: every batch of the
// entry this run handled is acknowledged, and what has not come back may
// have been acknowledged by the run that wrote it. IDs the source has
// acknowledged will not come back; an entry left with none waiting is
// settled from now on.
func (s *Buffered) askSource(ctx context.Context) {
	fn := s.ackedFn.Load()
	if fn == nil || s.ctx.Err() != nil {
		return
	}
	now := s.opts.Now()
	var keys []idKey
	var ids []string
	s.dmu.Lock()
	for e := range s.entries {
		if !e.recovered || e.pending > 0 || e.ackFailed || e.retired {
			continue
		}
		for k, id := range e.unseen {
			keys = append(keys, k)
			ids = append(ids, id)
		}
		for k, id := range e.unwritten {
			keys = append(keys, k)
			ids = append(ids, id)
		}
	}
	s.dmu.Unlock()
	if len(ids) == 0 {
		return
	}
	acked, err := (*fn)(ctx, ids)
	if err == nil && len(acked) != len(ids) {
		err = fmt.Errorf("%d answers for %d IDs", len(acked), len(ids))
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("sink cannot ask the source what it has acknowledged; will retry", "err", err)
		}
		return
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	for i, k := range keys {
		if !acked[i] {
			continue
		}
		// Acknowledged, so written by this entry's run or (an unwritten
		// ID) by a later one: it will not come back.
		var e *entry
		if d, ok := s.ids[k]; ok && d.unseen != nil {
			if _, waiting := d.unseen[k]; waiting {
				delete(d.unseen, k)
				e = d
			}
		}
		if u, ok := s.unwritten[k]; ok {
			delete(s.unwritten, k)
			delete(u.unwritten, k)
			e = u
		}
		if e != nil && e.lastAck.Before(now) {
			e.lastAck = now // copies sent before that acknowledgement: Retain from now
		}
	}
}

// key hashes an ID for the dedup index.
func (s *Buffered) key(id string) idKey {
	return idKey{maphash.String(s.seeds[0], id), maphash.String(s.seeds[1], id)}
}

// backoff returns the wait before attempt+1: exponential from MinBackoff,
// capped at MaxBackoff, with jitter between half and all of it.
func (s *Buffered) backoff(attempt int) time.Duration {
	d := s.opts.MinBackoff
	for i := 0; i < attempt && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// sleep waits for d or until ctx is done, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
