package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/batch"
)

// memWriter is a test double for a destination: it keeps flushes in memory,
// and can be made to fail or to block.
type memWriter struct {
	mu      sync.Mutex
	flushes []Flush
	failN   int           // fail this many more writes
	gate    chan struct{} // when not nil, each write waits for a value or close
	calls   int
}

func (m *memWriter) Write(ctx context.Context, f *Flush) error {
	m.mu.Lock()
	m.calls++
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failN > 0 {
		m.failN--
		return errors.New("destination down (test)")
	}
	m.flushes = append(m.flushes, *f)
	return nil
}

func (m *memWriter) snapshot() []Flush {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.flushes)
}

// written returns every record ID written, in order.
func (m *memWriter) written() []string {
	var ids []string
	for _, f := range m.snapshot() {
		for _, r := range f.Records {
			ids = append(ids, r.ID)
		}
		for _, e := range f.Errors {
			ids = append(ids, "err:"+e.ID)
		}
	}
	return ids
}

// acks collects acknowledgements in the order they happen.
type acks struct {
	mu  sync.Mutex
	ids []string
	ch  chan string
}

func newAcks() *acks { return &acks{ch: make(chan string, 1000)} }

func (a *acks) fn(name string) AckFunc {
	return func(context.Context) error {
		a.mu.Lock()
		a.ids = append(a.ids, name)
		a.mu.Unlock()
		a.ch <- name
		return nil
	}
}

func (a *acks) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ids)
}

func (a *acks) wait(t *testing.T, name string) {
	t.Helper()
	select {
	case got := <-a.ch:
		if got != name {
			t.Fatalf("acknowledged %q, want %q", got, name)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no acknowledgement of %q within 5 s", name)
	}
}

func (a *acks) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-a.ch:
		t.Fatalf("unexpected acknowledgement of %q", got)
	case <-time.After(d):
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func rec(id string, n int) Record {
	return Record{ID: id, Data: []byte(fmt.Sprintf(`{"id":%q,"pad":"%0*d"}`, id, n, 0))}
}

func newSink(t *testing.T, w Writer, o Options) *Buffered {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = time.Millisecond
		o.MaxBackoff = 10 * time.Millisecond
	}
	s, err := New(t.Context(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"bad policy", Options{Policy: batch.Policy{Count: -1}}, false},
		{"in-flight below twice the buffer", Options{Policy: batch.Policy{Bytes: 100}, MaxInFlight: 150}, false},
		{"horizon below retain", Options{Retain: time.Hour, Horizon: time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.o.withDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("withDefaults: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && tt.o.Policy == (batch.Policy{}) && o.Policy != DefaultPolicy {
				t.Fatalf("default policy %v", o.Policy)
			}
		})
	}
	if _, err := New(t.Context(), nil, Options{}); err == nil {
		t.Fatal("New accepted a nil writer")
	}
}

func TestSizeFlushBeforeInterval(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 1000, Period: time.Hour}})
	a := newAcks()
	start := time.Now()
	for i := range 3 { // 3 × 400 bytes: the third does not fit, the first two flush
		if err := s.Write(t.Context(), Batch{Records: []Record{rec(fmt.Sprint(i), 380)}, Ack: a.fn(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	a.wait(t, "0")
	a.wait(t, "1")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("size flush took %s", d)
	}
	a.none(t, 100*time.Millisecond) // the third waits for its buffer to fill or its hour
	if got := w.snapshot(); len(got) != 1 || len(got[0].Records) != 2 {
		t.Fatalf("flushes %+v, want one of 2 records", got)
	}
}

func TestIntervalFlush(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 1 << 20, Period: 150 * time.Millisecond}})
	a := newAcks()
	start := time.Now()
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 10)}, Ack: a.fn("a")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("b", 10)}, Ack: a.fn("b")}); err != nil {
		t.Fatal(err)
	}
	a.wait(t, "a")
	a.wait(t, "b")
	d := time.Since(start)
	if d < 140*time.Millisecond || d > 2*time.Second {
		t.Fatalf("interval flush after %s, want about 150 ms", d)
	}
	if got := w.snapshot(); len(got) != 1 || len(got[0].Records) != 2 {
		t.Fatalf("flushes %+v, want one of 2 records", got)
	}
}

func TestCountFlushAndOrder(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 4}})
	a := newAcks()
	var want []string
	for i := range 10 {
		name := fmt.Sprint("b", i)
		want = append(want, name)
		b := Batch{Records: []Record{rec(name+"x", 5), rec(name+"y", 5)}, Ack: a.fn(name)}
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.list(); !slices.Equal(got, want) {
		t.Fatalf("acks %v, want %v", got, want)
	}
	fl := w.snapshot()
	if len(fl) != 5 {
		t.Fatalf("%d flushes, want 5 of 4 records", len(fl))
	}
	for i, f := range fl {
		if f.Seq != uint64(i+1) || f.ID == "" || f.Cut.IsZero() || f.Time.IsZero() || f.Time.Location() != time.UTC {
			t.Fatalf("flush %d: %+v", i, f)
		}
	}
}

func TestAckOnlyAfterDurable(t *testing.T) {
	w := &memWriter{gate: make(chan struct{})}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 1}})
	a := newAcks()
	for _, n := range []string{"a", "b"} {
		if err := s.Write(t.Context(), Batch{Records: []Record{rec(n, 1)}, Ack: a.fn(n)}); err != nil {
			t.Fatal(err)
		}
	}
	a.none(t, 200*time.Millisecond) // the write of "a" is blocked: nothing is durable
	w.gate <- struct{}{}
	a.wait(t, "a")
	a.none(t, 100*time.Millisecond)
	w.gate <- struct{}{}
	a.wait(t, "b")
}

func TestRetryUntilDurable(t *testing.T) {
	w := &memWriter{failN: 5}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 1}})
	a := newAcks()
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 1)}, Ack: a.fn("a")}); err != nil {
		t.Fatal(err)
	}
	a.wait(t, "a")
	if err := s.Close(t.Context()); err != nil { // the sink's counters are final
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Retries != 5 || st.Written != 1 || st.Acked != 1 || st.InFlightBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
	if got := w.written(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("written %v", got)
	}
}

func TestBackoff(t *testing.T) {
	s := &Buffered{opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 20 {
			d := s.backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestBackpressure(t *testing.T) {
	w := &memWriter{gate: make(chan struct{})}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 100}, MaxInFlight: 200})
	a := newAcks()
	// 150 bytes: flushed at once (over 100), and its write blocks.
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 130)}, Ack: a.fn("a")}); err != nil {
		t.Fatal(err)
	}
	// Another 150 does not fit in the 50 left: Write blocks until ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	err := s.Write(ctx, Batch{Records: []Record{rec("b", 130)}, Ack: a.fn("b")})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write past the in-flight limit: %v, want a deadline error", err)
	}
	if st := s.Stats(); st.InFlightBytes > 200 {
		t.Fatalf("in flight %d bytes, limit 200", st.InFlightBytes)
	}
	done := make(chan error)
	go func() { done <- s.Write(t.Context(), Batch{Records: []Record{rec("c", 130)}, Ack: a.fn("c")}) }()
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the sink was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(w.gate) // the destination is back
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.wait(t, "a")
	a.wait(t, "c")
	if got := w.written(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("written %v", got)
	}
}

func TestOversizedBatch(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 100}, MaxInFlight: 200})
	a := newAcks()
	big := Batch{Records: []Record{rec("a", 150), rec("b", 150)}, Ack: a.fn("big")}
	if err := s.Write(t.Context(), big); err != nil {
		t.Fatal(err)
	}
	a.wait(t, "big")
}

func TestCloseFlushesAndAcks(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 1 << 20, Period: time.Hour}})
	a := newAcks()
	for _, n := range []string{"a", "b", "c"} {
		if err := s.Write(t.Context(), Batch{Records: []Record{rec(n, 1)}, Ack: a.fn(n)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.list(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("acks after Close: %v", got)
	}
	if got := w.written(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("written %v", got)
	}
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("d", 1)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseDeadlineLeavesUnacked(t *testing.T) {
	w := &memWriter{failN: 1 << 30}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 1}})
	a := newAcks()
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 1)}, Ack: a.fn("a")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close while the destination is down: %v", err)
	}
	if got := a.list(); len(got) != 0 {
		t.Fatalf("acknowledged %v without a durable write", got)
	}
}

func TestCloseUnblocksWriters(t *testing.T) {
	w := &memWriter{gate: make(chan struct{})}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 100}, MaxInFlight: 200})
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 180)}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Write(t.Context(), Batch{Records: []Record{rec("b", 180)}}) }()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error)
	go func() { closed <- s.Close(t.Context()) }()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Write during Close: %v", err)
	}
	close(w.gate)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestDuplicatesInFlight(t *testing.T) {
	w := &memWriter{gate: make(chan struct{})}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 2}})
	a := newAcks()
	// "a" and "b" fill a flush whose write blocks; the source, impatient,
	// delivers "b" again with "c".
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 1), rec("b", 1)}, Ack: a.fn("first")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("b", 1), rec("c", 1), rec("c", 1)}, Ack: a.fn("again")}); err != nil {
		t.Fatal(err)
	}
	a.none(t, 100*time.Millisecond)
	close(w.gate)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.list(); !slices.Equal(got, []string{"first", "again"}) {
		t.Fatalf("acks %v", got)
	}
	if got := w.written(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("written %v, want each ID once", got)
	}
	if st := s.Stats(); st.Duplicates != 2 {
		t.Fatalf("duplicates %d, want 2", st.Duplicates)
	}
}

func TestOnlyDuplicatesAndEmptyBatches(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Bytes: 1 << 20, Period: time.Hour}})
	a := newAcks()
	if err := s.Write(t.Context(), Batch{Ack: a.fn("empty")}); err != nil {
		t.Fatal(err)
	}
	a.wait(t, "empty") // nothing to write: acknowledged without waiting an hour
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 1)}, Ack: a.fn("a")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 1)}, Ack: a.fn("dup")}); err != nil {
		t.Fatal(err)
	}
	a.none(t, 100*time.Millisecond) // "dup" waits for "a", which waits for its buffer
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.list(); !slices.Equal(got, []string{"empty", "a", "dup"}) {
		t.Fatalf("acks %v", got)
	}
}

func TestErrorRecords(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 3}})
	a := newAcks()
	b := Batch{
		Records: []Record{rec("a", 1)},
		Errors:  []ErrorRecord{{ID: "b", Raw: []byte("{bad"), Reason: "invalid JSON"}, {ID: "a", Raw: []byte("x"), Reason: "dup of a record"}},
		Ack:     a.fn("x"),
	}
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := w.written(); !slices.Equal(got, []string{"a", "err:b"}) {
		t.Fatalf("written %v: an ID is one record or one error record", got)
	}
}

// limitWriter is a memWriter that rejects large records, as Firehose does.
type limitWriter struct{ memWriter }

func (l *limitWriter) Check(r Record) error {
	if len(r.Data) > 20 {
		return errors.New("too large")
	}
	return nil
}

func TestCheckerMakesErrorRecords(t *testing.T) {
	w := &limitWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 10}})
	in := []Record{{ID: "a", Data: []byte(`{}`)}, rec("big", 30), {ID: "c", Data: []byte(`{}`)}}
	if err := s.Write(t.Context(), Batch{Records: in}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	fl := w.snapshot()
	if len(fl) != 1 || len(fl[0].Records) != 2 || len(fl[0].Errors) != 1 || fl[0].Errors[0].Reason != "too large" || fl[0].Errors[0].ID != "big" {
		t.Fatalf("flushes %+v", fl)
	}
	if len(in) != 3 || in[1].ID != "big" {
		t.Fatal("the caller's slice was changed")
	}
}

func TestFlushTime(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 3}, Now: func() time.Time { return now }, NewID: func() string { return "fixed" }})
	old := now.Add(-time.Hour)
	if err := s.Write(t.Context(), Batch{Records: []Record{rec("a", 1), {ID: "b", Data: []byte("{}"), Time: old}, {ID: "c", Data: []byte("{}"), Time: old.Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := w.snapshot()[0]
	if !f.Time.Equal(old) || f.Time.Location() != time.UTC || !f.Cut.Equal(now) || f.ID != "fixed" {
		t.Fatalf("flush time %v cut %v id %q", f.Time, f.Cut, f.ID)
	}
}

func TestConcurrentWriters(t *testing.T) {
	w := &memWriter{}
	s := newSink(t, w, Options{Policy: batch.Policy{Count: 16, Period: 20 * time.Millisecond}, MaxInFlight: 4096})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]int{}
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", g, i)
				b := Batch{Records: []Record{rec(id, 20)}, Ack: func(context.Context) error {
					mu.Lock()
					acked[id]++
					mu.Unlock()
					return nil
				}}
				if err := s.Write(t.Context(), b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(acked) != 800 {
		t.Fatalf("%d batches acknowledged, want 800", len(acked))
	}
	for id, n := range acked {
		if n != 1 {
			t.Fatalf("%s acknowledged %d times", id, n)
		}
	}
	if got := w.written(); len(got) != 800 {
		t.Fatalf("%d written", len(got))
	}
}
