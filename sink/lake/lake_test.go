package lake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoflow/recoflow/batch"
	"github.com/recoflow/recoflow/internal/testenv"
	rlake "github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	lakes3 "github.com/recoflow/recoflow/lake/s3"
	"github.com/recoflow/recoflow/sink"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// backends runs fn against a fresh file lake always, and against S3 when
// RECOFLOW_TEST_S3 names one (each run in its own prefix).
func backends(t *testing.T, fn func(t *testing.T, b rlake.Bucket)) {
	t.Run("file", func(t *testing.T) {
		b, err := lakefile.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fn(t, b)
	})
	t.Run("s3", func(t *testing.T) { fn(t, openS3(t)) })
}

// openS3 opens the bucket named by RECOFLOW_TEST_S3 under a fresh prefix,
// or skips.
func openS3(t *testing.T) rlake.Bucket {
	t.Helper()
	raw := testenv.URL(t, testenv.S3Var)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		t.Fatalf("%s=%q: want s3://bucket[/prefix]?endpoint=…", testenv.S3Var, raw)
	}
	q := u.Query()
	cfg := lakes3.Config{
		Bucket:   u.Host,
		Prefix:   strings.Trim(strings.Trim(u.Path, "/")+"/sink-test-"+strings.ToLower(strconv.FormatInt(time.Now().UnixNano(), 36)), "/"),
		Endpoint: q.Get("endpoint"),
		Region:   q.Get("region"),
		Create:   true,
	}
	cfg.PathStyle, _ = strconv.ParseBool(q.Get("path_style"))
	b, err := lakes3.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		b.List(ctx, "", func(k string) error { keys = append(keys, k); return nil })
		for _, k := range keys {
			b.Delete(ctx, k)
		}
	})
	return b
}

func sinkOpts(o sink.Options) sink.Options {
	o.Logger = quiet()
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = time.Millisecond, 20*time.Millisecond
	}
	return o
}

func open(t *testing.T, b rlake.Bucket, o Options, so sink.Options) *sink.Buffered {
	t.Helper()
	s, err := New(t.Context(), b, o, sinkOpts(so))
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

func record(id string) sink.Record {
	return sink.Record{ID: id, Data: []byte(fmt.Sprintf(`{"session_id":%q,"recommended_items":[{"id":"S10_1678","score":0.9}]}`, id))}
}

func list(t *testing.T, b rlake.Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(context.Background(), prefix, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func readAll(t *testing.T, b rlake.Bucket, key string) []byte {
	t.Helper()
	r, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rd io.Reader = r
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		rd = zr
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return data
}

// lines returns the JSON objects of every object under prefix.
func lines(t *testing.T, b rlake.Bucket, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, k := range list(t, b, prefix) {
		sc := bufio.NewScanner(bytes.NewReader(readAll(t, b, k)))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: line %q: %v", k, sc.Text(), err)
			}
			out = append(out, m)
		}
	}
	return out
}

// outputIDs counts, per input ID, the output records and error records in
// the lake.
func outputIDs(t *testing.T, b rlake.Bucket, o Options) map[string]int {
	t.Helper()
	o, _ = o.withDefaults()
	n := map[string]int{}
	for _, m := range lines(t, b, o.Prefix) {
		n[m["session_id"].(string)]++
	}
	for _, m := range lines(t, b, o.ErrorPrefix) {
		n[m["id"].(string)]++
	}
	return n
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"custom", Options{Stream: "shop.events_1", Prefix: "out", ErrorPrefix: "dlq/", LedgerPrefix: "state/ledger"}, true},
		{"slash in stream", Options{Stream: "a/b"}, false},
		{"temp stream", Options{Stream: ".tmp-x"}, false},
		{"nested prefixes", Options{Prefix: "recs/", ErrorPrefix: "recs/errors/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := lakefile.Open(t.TempDir())
			_, err := NewWriter(b, tt.o)
			if (err == nil) != tt.ok {
				t.Fatalf("NewWriter: %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := NewWriter(nil, Options{}); err == nil {
		t.Fatal("nil bucket accepted")
	}
}

func TestLayout(t *testing.T) {
	backends(t, func(t *testing.T, b rlake.Bucket) {
		// 23:59:59.9 in UTC-5 is 04:59:59 the next day in UTC.
		now := time.Date(2025, 12, 31, 23, 59, 59, 900e6, time.FixedZone("EST", -5*3600))
		s := open(t, b, Options{Stream: "shop"}, sink.Options{Policy: batch.Policy{Count: 2}, Now: func() time.Time { return now }, NewID: func() string { return "0123456789abcdef" }})
		if err := s.Write(t.Context(), sink.Batch{
			Records: []sink.Record{record("s1"), {ID: "s2", Data: []byte("{\n \"session_id\": \"s2\"\n}")}},
			Errors:  []sink.ErrorRecord{{ID: "s3", Raw: []byte(`{"customer_number":`), Reason: "unexpected end of JSON input"}},
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		const name = "2026/01/01/04/shop-2026-01-01-04-59-59-0123456789abcdef.json"
		if got := list(t, b, DefaultPrefix); !slices.Equal(got, []string{DefaultPrefix + name}) {
			t.Fatalf("records at %v, want %s", got, DefaultPrefix+name)
		}
		if got := list(t, b, DefaultErrorPrefix); !slices.Equal(got, []string{DefaultErrorPrefix + name}) {
			t.Fatalf("errors at %v", got)
		}
		want := `{"session_id":"s1","recommended_items":[{"id":"S10_1678","score":0.9}]}` + "\n" + `{"session_id":"s2"}` + "\n"
		if got := string(readAll(t, b, DefaultPrefix+name)); got != want {
			t.Fatalf("records object:\n%s\nwant:\n%s", got, want)
		}
		errs := lines(t, b, DefaultErrorPrefix)
		if len(errs) != 1 || errs[0]["id"] != "s3" || errs[0]["reason"] != "unexpected end of JSON input" ||
			errs[0]["raw"] != `{"customer_number":` || errs[0]["time"] != "2026-01-01T04:59:59.9Z" || errs[0]["raw_encoding"] != nil {
			t.Fatalf("error lines %v", errs)
		}
		// Everything was acknowledged at Close, so the ledger is empty.
		if got := list(t, b, DefaultLedgerPrefix); len(got) != 0 {
			t.Fatalf("ledger left after a clean Close: %v", got)
		}
	})
}

func TestGzip(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	s := open(t, b, Options{Gzip: true}, sink.Options{Policy: batch.Policy{Count: 100}})
	var recs []sink.Record
	for i := range 50 {
		recs = append(recs, record(fmt.Sprint("s", i)))
	}
	if err := s.Write(t.Context(), sink.Batch{Records: recs, Errors: []sink.ErrorRecord{{ID: "bad", Raw: []byte{0xff, 0xfe, 'x'}, Reason: "not UTF-8"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	keys := list(t, b, DefaultPrefix)
	if len(keys) != 1 || !strings.HasSuffix(keys[0], ".json.gz") {
		t.Fatalf("keys %v", keys)
	}
	if got := lines(t, b, DefaultPrefix); len(got) != 50 || got[49]["session_id"] != "s49" {
		t.Fatalf("%d lines", len(got))
	}
	errs := lines(t, b, DefaultErrorPrefix)
	if len(errs) != 1 || errs[0]["raw_encoding"] != "base64" {
		t.Fatalf("error lines %v", errs)
	}
	raw, _ := base64.StdEncoding.DecodeString(errs[0]["raw"].(string))
	if !bytes.Equal(raw, []byte{0xff, 0xfe, 'x'}) {
		t.Fatalf("raw %q", raw)
	}
}

func TestCheck(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	s := open(t, b, Options{}, sink.Options{Policy: batch.Policy{Count: 100}})
	if err := s.Write(t.Context(), sink.Batch{Records: []sink.Record{
		record("ok"),
		{ID: "empty", Data: []byte("  ")},
		{ID: "broken", Data: []byte("{\"a\":\n")},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, m := range lines(t, b, DefaultErrorPrefix) {
		reasons[m["id"].(string)] = m["reason"].(string)
	}
	if reasons["empty"] != "empty record data" || !strings.Contains(reasons["broken"], "newline") || len(reasons) != 2 {
		t.Fatalf("reasons %v", reasons)
	}
}

// flakyBucket is a test double around a real bucket: while down, every
// Put, Delete and Attributes fails, as with a lake that has gone away;
// while held, every Put waits to be released.
type flakyBucket struct {
	rlake.Bucket
	down atomic.Bool
	hold chan struct{} // when not nil, Put waits for a receive from it
	puts atomic.Int64
	fail atomic.Int64
}

var errDown = errors.New("lake unreachable (test)")

func (f *flakyBucket) Put(ctx context.Context, key string, r io.Reader) error {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.down.Load() {
		f.fail.Add(1)
		return errDown
	}
	f.puts.Add(1)
	return f.Bucket.Put(ctx, key, r)
}

func (f *flakyBucket) Delete(ctx context.Context, key string) error {
	if f.down.Load() {
		return errDown
	}
	return f.Bucket.Delete(ctx, key)
}

func (f *flakyBucket) Attributes(ctx context.Context, key string) (rlake.Attributes, error) {
	if f.down.Load() {
		return rlake.Attributes{}, errDown
	}
	return f.Bucket.Attributes(ctx, key)
}

// ackLog records acknowledged batch names.
type ackLog struct {
	mu    sync.Mutex
	names []string
}

func (a *ackLog) fn(name string) sink.AckFunc {
	return func(context.Context) error {
		a.mu.Lock()
		a.names = append(a.names, name)
		a.mu.Unlock()
		return nil
	}
}

func (a *ackLog) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.names)
}

func TestAckAfterDurablePut(t *testing.T) {
	inner, _ := lakefile.Open(t.TempDir())
	fb := &flakyBucket{Bucket: inner, hold: make(chan struct{})}
	s := open(t, fb, Options{}, sink.Options{Policy: batch.Policy{Count: 1}})
	var acks ackLog
	if err := s.Write(t.Context(), sink.Batch{Records: []sink.Record{record("a")}, Ack: acks.fn("a")}); err != nil {
		t.Fatal(err)
	}
	fb.hold <- struct{}{} // the ledger entry
	time.Sleep(100 * time.Millisecond)
	if got := acks.list(); len(got) != 0 {
		t.Fatalf("acknowledged %v before the records object was written", got)
	}
	fb.hold <- struct{}{} // the records object
	deadline := time.Now().Add(5 * time.Second)
	for len(acks.list()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := acks.list(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("acks %v", got)
	}
	if n := len(list(t, inner, DefaultPrefix)); n != 1 {
		t.Fatalf("%d records objects", n)
	}
	close(fb.hold)
}

func TestLakeDownThenBack(t *testing.T) {
	inner, _ := lakefile.Open(t.TempDir())
	fb := &flakyBucket{Bucket: inner}
	s := open(t, fb, Options{}, sink.Options{Policy: batch.Policy{Count: 10, Period: 20 * time.Millisecond}, MaxInFlight: 64 << 10})
	var acks ackLog
	var want []string
	write := func(from, to int) {
		for i := from; i < to; i++ {
			name := fmt.Sprint("b", i)
			want = append(want, name)
			recs := []sink.Record{record(name + "-1"), record(name + "-2")}
			if err := s.Write(t.Context(), sink.Batch{Records: recs, Ack: acks.fn(name)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 20)
	for len(acks.list()) < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	fb.down.Store(true)
	write(20, 60)
	time.Sleep(300 * time.Millisecond)
	if got := len(acks.list()); got != 20 {
		t.Fatalf("%d batches acknowledged while the lake was down, want 20", got)
	}
	if fb.fail.Load() == 0 || s.Stats().Retries == 0 {
		t.Fatal("no failed attempts while the lake was down")
	}
	fb.down.Store(false)
	write(60, 80)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := acks.list(); !slices.Equal(got, want) {
		t.Fatalf("acks %v, want %v in order", got, want)
	}
	n := outputIDs(t, inner, Options{})
	if len(n) != 160 {
		t.Fatalf("%d IDs written, want 160", len(n))
	}
	for id, c := range n {
		if c != 1 {
			t.Fatalf("%s written %d times", id, c)
		}
	}
}

// crashBucket is a test double that kills the "process" at one Put: the
// first puts Puts succeed; the next one either fails without storing or
// stores and then fails (the crash came before the reply); from then on
// every write fails, as for a dead process.
type crashBucket struct {
	rlake.Bucket
	puts         int
	storeThenDie bool
	mu           sync.Mutex
	dead         bool
}

var errCrashed = errors.New("process crashed (test)")

func (c *crashBucket) Put(ctx context.Context, key string, r io.Reader) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return errCrashed
	}
	if c.puts > 0 {
		c.puts--
		return c.Bucket.Put(ctx, key, r)
	}
	c.dead = true
	if c.storeThenDie {
		c.Bucket.Put(ctx, key, r)
	}
	return errCrashed
}

func (c *crashBucket) Delete(ctx context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return errCrashed
	}
	return c.Bucket.Delete(ctx, key)
}

// kill makes every later write fail, as for a dead process.
func (c *crashBucket) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead = true
}

func (c *crashBucket) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// source is a test double of a stream that redelivers what is not
// acknowledged. Every fifth message is malformed and becomes an error
// record, as the pipeline would make it.
type source struct {
	mu      sync.Mutex
	ids     []string
	acked   map[string]bool
	lost    map[string]bool // acknowledgements that never reach the source
	now     func() time.Time
	ackedAt map[string]time.Time // with now: when each was acknowledged
}

func newSource(n int) *source {
	s := &source{acked: map[string]bool{}, lost: map[string]bool{}}
	for i := range n {
		s.ids = append(s.ids, fmt.Sprintf("m%04d", i))
	}
	return s
}

func (s *source) unacked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.ids {
		if !s.acked[id] {
			out = append(out, id)
		}
	}
	return out
}

// deliver hands every unacknowledged message to k in batches of random
// sizes, in an order shuffled by rng, and returns once k has taken them.
func (s *source) deliver(t *testing.T, k sink.Sink, rng *rand.Rand, redelivered bool) {
	t.Helper()
	ids := s.unacked()
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for len(ids) > 0 {
		n := min(len(ids), 1+rng.IntN(6))
		part := ids[:n]
		ids = ids[n:]
		var b sink.Batch
		for _, id := range part {
			if num, _ := strconv.Atoi(id[1:]); num%5 == 0 {
				b.Errors = append(b.Errors, sink.ErrorRecord{ID: id, Raw: []byte(`{"session_id":`), Reason: "unexpected end of JSON input"})
			} else {
				b.Records = append(b.Records, record(id))
			}
		}
		b.Redelivered = redelivered
		b.Ack = func(context.Context) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, id := range part {
				if s.lost[id] {
					return errors.New("acknowledgement lost (test)")
				}
				s.acked[id] = true
				if s.now != nil {
					s.ackedAt[id] = s.now()
				}
			}
			return nil
		}
		if err := k.Write(t.Context(), b); err != nil {
			if errors.Is(err, sink.ErrClosed) {
				return
			}
			t.Fatal(err)
		}
	}
}

// acknowledged reports which of ids the source has acknowledged, as a
// broker's consumer state would (sink.Options.Acknowledged).
func (s *source) acknowledged(_ context.Context, ids []string) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bool, len(ids))
	for i, id := range ids {
		out[i] = s.acked[id]
	}
	return out, nil
}

func checkExactlyOnce(t *testing.T, b rlake.Bucket, o Options, src *source) {
	t.Helper()
	n := outputIDs(t, b, o)
	for _, id := range src.ids {
		if n[id] != 1 {
			t.Fatalf("%s has %d outputs, want exactly 1", id, n[id])
		}
	}
	if len(n) != len(src.ids) {
		t.Fatalf("%d IDs in the output, want %d", len(n), len(src.ids))
	}
}

// TestCrashRedeliveryExactlyOnce crashes a sink at every Put in turn (before
// or after the object is stored), then lets a new sink on the same lake
// take the redelivered messages, regrouped and reordered: every message
// must end up as exactly one record or one error record.
func TestCrashRedeliveryExactlyOnce(t *testing.T) {
	backends(t, func(t *testing.T, b rlake.Bucket) {
		const messages = 60
		maxPuts := 14
		if _, ok := b.(*lakefile.Bucket); !ok {
			maxPuts = 5 // S3 round trips are slower; the file lake covers every point
		}
		for puts := 0; puts <= maxPuts; puts++ {
			for _, storeThenDie := range []bool{false, true} {
				t.Run(fmt.Sprintf("puts=%d/stored=%v", puts, storeThenDie), func(t *testing.T) {
					tag := fmt.Sprintf("crash-%d-%v/", puts, storeThenDie)
					o := Options{Prefix: tag + "recs/", ErrorPrefix: tag + "errs/", LedgerPrefix: tag + "ledger/"}
					so := sink.Options{Policy: batch.Policy{Count: 8, Period: time.Hour}}
					rng := rand.New(rand.NewPCG(uint64(puts), 7))
					src := newSource(messages)
					// Run 1 dies at its puts-th Put.
					cb := &crashBucket{Bucket: b, puts: puts, storeThenDie: storeThenDie}
					s1, err := New(t.Context(), cb, o, sinkOpts(so))
					if err != nil {
						t.Fatal(err)
					}
					src.deliver(t, s1, rng, false)
					for deadline := time.Now().Add(5 * time.Second); !cb.isDead() && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
					if !cb.isDead() {
						t.Fatal("run 1 never reached its crash point")
					}
					ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
					s1.Close(ctx) // a crash: whatever is not acknowledged stays so
					cancel()
					// Run 2 takes the redelivery, regrouped, and loses some
					// acknowledgements.
					for i, id := range src.unacked() {
						if i%3 == 0 {
							src.lost[id] = true
						}
					}
					s2 := open(t, b, o, so)
					src.deliver(t, s2, rng, true)
					if err := s2.Close(t.Context()); err != nil {
						t.Fatal(err)
					}
					// Run 3 gets what run 2's lost acknowledgements left.
					clear(src.lost)
					s3 := open(t, b, o, so)
					src.deliver(t, s3, rng, true)
					if err := s3.Close(t.Context()); err != nil {
						t.Fatal(err)
					}
					if left := src.unacked(); len(left) != 0 {
						t.Fatalf("unacknowledged after three runs: %v", left)
					}
					checkExactlyOnce(t, b, o, src)
				})
			}
		}
	})
}

// TestSharedLedgerAcrossWorkers: worker A writes a flush and stops before
// acknowledging; the source redelivers to worker B, which was already
// running, marked as redelivered. B must re-read the ledger and write
// nothing twice.
func TestSharedLedgerAcrossWorkers(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	var clock atomic.Int64
	clock.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	so := sink.Options{Policy: batch.Policy{Count: 100, Period: time.Hour}, Now: now}
	src := newSource(20)
	sb := open(t, b, Options{}, so) // B starts first
	sa := open(t, b, Options{}, so)
	for _, id := range src.ids {
		src.lost[id] = true // A dies before its acknowledgements reach the source
	}
	src.deliver(t, sa, rand.New(rand.NewPCG(1, 2)), false)
	if err := sa.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	clear(src.lost)
	clock.Add(int64(2 * time.Second)) // redelivery comes after the ack wait
	src.deliver(t, sb, rand.New(rand.NewPCG(3, 4)), true)
	if err := sb.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, b, Options{}, src)
	if st := sb.Stats(); st.Duplicates != 20 || st.Recovered == 0 {
		t.Fatalf("worker B stats %+v", st)
	}
}

// TestLedgerRetention: entries are deleted once acknowledged and older than
// Retain; an entry whose acknowledgement failed stays until Horizon, and
// recovery deletes entries older than Horizon.
func TestLedgerRetention(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	var clock atomic.Int64
	clock.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	so := sink.Options{Policy: batch.Policy{Count: 1}, Now: now, Retain: time.Minute, Horizon: time.Hour}
	s := open(t, b, Options{}, so)
	var acks ackLog
	write := func(id string, ack sink.AckFunc) {
		if err := s.Write(t.Context(), sink.Batch{Records: []sink.Record{record(id)}, Ack: ack}); err != nil {
			t.Fatal(err)
		}
	}
	waitAcks := func(n int) {
		for deadline := time.Now().Add(5 * time.Second); len(acks.list()) < n && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	write("a", acks.fn("a"))
	write("lost", func(ctx context.Context) error { acks.fn("lost")(ctx); return errors.New("ack lost (test)") })
	waitAcks(2)
	if n := len(ledgerEntries(t, b, Options{})); n != 2 {
		t.Fatalf("%d ledger entries, want 2", n)
	}
	clock.Add(int64(2 * time.Minute))
	write("b", acks.fn("b"))
	waitAcks(3)
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if got = ledgerEntries(t, b, Options{}); len(got) == 2 {
			break
		}
	}
	if len(got) != 2 {
		t.Fatalf("ledger after Retain: %v, want the failed one and b's", got)
	}
	// A redelivery of "a" after its entry was retired would be written
	// again: Retain must cover the source's redelivery delay. "lost" is
	// still known.
	write("lost", acks.fn("lost again"))
	waitAcks(4)
	if n := outputIDs(t, b, Options{})["lost"]; n != 1 {
		t.Fatalf("lost written %d times", n)
	}
	// A crash: no Close. The next run, an hour and more later, deletes the
	// old entries.
	clock.Add(int64(2 * time.Hour))
	s2 := open(t, b, Options{}, so)
	if got := list(t, b, DefaultLedgerPrefix); len(got) != 0 {
		t.Fatalf("ledger entries past the horizon: %v", got)
	}
	if err := s2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// ledgerEntries lists the ledger's entries, without their acknowledgement
// records.
func ledgerEntries(t *testing.T, b rlake.Bucket, o Options) []string {
	t.Helper()
	o, _ = o.withDefaults()
	var out []string
	for _, k := range list(t, b, o.LedgerPrefix) {
		if !strings.HasSuffix(k, ackSuffix) {
			out = append(out, k)
		}
	}
	return out
}

// ledgerIDs counts the IDs the ledger's entries name.
func ledgerIDs(t *testing.T, b rlake.Bucket, o Options) int {
	t.Helper()
	n := 0
	for _, k := range ledgerEntries(t, b, o) {
		var e ledgerEntry
		if err := json.Unmarshal(readAll(t, b, k), &e); err != nil {
			t.Fatal(err)
		}
		for _, ob := range e.Objects {
			n += len(ob.IDs)
		}
	}
	return n
}

// TestCrashLoopLedgerBounded kills the stream again and again: each run
// takes the source's redelivery plus new messages, writes and acknowledges
// some flushes, and dies at a Put — while writing a flush, while recording
// an acknowledgement, while retiring. The ledger must keep only entries
// that still protect something: an ID the source has not acknowledged, or
// one acknowledged less than Retain ago. Entries of killed runs that the
// source has since acknowledged are retired by a later run, not kept for
// the whole horizon, so the ledger does not grow with the crashes; and
// every message still ends up as exactly one output.
func TestCrashLoopLedgerBounded(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	var clock atomic.Int64
	clock.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	const (
		cycles   = 30
		perCycle = 12
		cycle    = 5 * time.Second // each run lives this long on the test's clock
		retain   = 30 * time.Second
	)
	src := &source{acked: map[string]bool{}, lost: map[string]bool{}, now: now, ackedAt: map[string]time.Time{}}
	so := sink.Options{Policy: batch.Policy{Count: 8, Period: 20 * time.Millisecond}, Now: now, Retain: retain, Horizon: 24 * time.Hour,
		Acknowledged: src.acknowledged}
	o := Options{}
	rng := rand.New(rand.NewPCG(9, 9))
	var sizes []int
	maxIDs := 0
	for c := range cycles {
		for i := range perCycle {
			src.mu.Lock()
			src.ids = append(src.ids, fmt.Sprintf("m%04d", c*perCycle+i))
			src.mu.Unlock()
		}
		cb := &crashBucket{Bucket: b, puts: 4 + rng.IntN(12), storeThenDie: rng.IntN(2) == 0}
		s, err := New(t.Context(), cb, o, sinkOpts(so))
		if err != nil {
			t.Fatal(err)
		}
		src.deliver(t, s, rng, c > 0)
		// It dies at its crash Put, or, when it gets through everything
		// first, right after (acknowledged, not yet retired).
		for deadline := time.Now().Add(10 * time.Second); !cb.isDead() && len(src.unacked()) > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		cb.kill()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		s.Close(ctx)
		cancel()
		clock.Add(int64(cycle))

		// Every entry left must still protect something.
		entries := ledgerEntries(t, b, o)
		sizes = append(sizes, len(entries))
		maxIDs = max(maxIDs, ledgerIDs(t, b, o))
		src.mu.Lock()
		for _, k := range entries {
			var e ledgerEntry
			if err := json.Unmarshal(readAll(t, b, k), &e); err != nil {
				t.Fatal(err)
			}
			var last time.Time
			protects := false
			for _, ob := range e.Objects {
				for _, id := range ob.IDs {
					if !src.acked[id] {
						protects = true
					}
					if at := src.ackedAt[id]; at.After(last) {
						last = at
					}
				}
			}
			// A later run retires it once Retain has passed since the
			// acknowledgement; allow it a few runs to get there.
			if !protects && now().Sub(last) > retain+3*cycle {
				t.Errorf("after crash %d: entry %s kept, though the source acknowledged all its IDs %s ago", c+1, k, now().Sub(last))
			}
		}
		src.mu.Unlock()
		if t.Failed() {
			t.Fatalf("ledger entries after each crash: %v", sizes)
		}
	}
	// A last run that is not killed takes what is left and stops cleanly
	// once Retain has passed.
	s := open(t, b, o, so)
	src.deliver(t, s, rng, true)
	clock.Add(int64(2 * retain))
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left := src.unacked(); len(left) != 0 {
		t.Fatalf("unacknowledged after the last run: %v", left)
	}
	checkExactlyOnce(t, b, o, src)
	if got := ledgerEntries(t, b, o); len(got) != 0 {
		t.Fatalf("ledger after a clean stop: %d entries (%d IDs), want none", len(got), ledgerIDs(t, b, o))
	}
	t.Logf("ledger entries after each of %d crashes: %v (at most %d IDs)", cycles, sizes, maxIDs)
}

func TestRecoverFailsLoudly(t *testing.T) {
	inner, _ := lakefile.Open(t.TempDir())
	bad := DefaultLedgerPrefix + DefaultStream + "/2025-01-01-00-00-00-x.json"
	if err := inner.Put(t.Context(), bad, strings.NewReader(`{"version":99}`)); err != nil {
		t.Fatal(err)
	}
	_, err := New(t.Context(), inner, Options{}, sinkOpts(sink.Options{Horizon: 1000 * 24 * time.Hour}))
	if err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("New with an unreadable ledger: %v", err)
	}
}

var keyPattern = regexp.MustCompile(`^recommendations/\d{4}/\d{2}/\d{2}/\d{2}/recoflow-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[a-z2-7]{16}\.json$`)

func TestDefaultNames(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	s := open(t, b, Options{}, sink.Options{Policy: batch.Policy{Count: 1}})
	for i := range 3 {
		if err := s.Write(t.Context(), sink.Batch{Records: []sink.Record{record(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	keys := list(t, b, DefaultPrefix)
	if len(keys) != 3 {
		t.Fatalf("keys %v", keys)
	}
	for _, k := range keys {
		if !keyPattern.MatchString(k) {
			t.Fatalf("key %q does not match %s", k, keyPattern)
		}
	}
}
