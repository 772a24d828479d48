package laketest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/lake"
)

// LargeSize is the size of the object the suite streams through Put: more
// than 16 MiB, so S3 backends take their multipart path, and not a multiple
// of any usual part size.
const LargeSize = 17<<20 + 333

// Run runs the acceptance suite against the buckets that open returns. open
// is called once per subtest with that subtest's t; it returns an empty
// bucket (or an empty prefix of one) and registers its cleanup with t. The
// suite closes nothing itself.
func Run(t *testing.T, open func(t *testing.T) lake.Bucket) {
	tests := []struct {
		name string
		fn   func(*testing.T, lake.Bucket)
	}{
		{"RoundTrip", testRoundTrip},
		{"Large", testLarge},
		{"Overwrite", testOverwrite},
		{"GetRange", testGetRange},
		{"Attributes", testAttributes},
		{"Missing", testMissing},
		{"List", testList},
		{"ListStops", testListStops},
		{"Delete", testDelete},
		{"ConcurrentPut", testConcurrentPut},
		{"ConcurrentPutSameKey", testConcurrentPutSameKey},
		{"FailingReader", testFailingReader},
		{"Cancelled", testCancelled},
		{"Copier", testCopier},
		{"Linker", testLinker},
		{"Lease", testLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t)
			if b == nil {
				t.Fatal("open returned a nil bucket")
			}
			tt.fn(t, b)
		})
	}
}

// put stores s at key or fails the test.
func put(t *testing.T, b lake.Bucket, key, s string) {
	t.Helper()
	if err := b.Put(t.Context(), key, strings.NewReader(s)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// read drains rc, closes it and returns its content, or fails the test.
func read(t *testing.T, what string, rc io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("%s: reading: %v", what, err)
	}
	return string(data)
}

// get returns the content of key or fails the test.
func get(t *testing.T, b lake.Bucket, key string) string {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	return read(t, fmt.Sprintf("Get(%q)", key), rc, err)
}

// wantGet checks the content of key.
func wantGet(t *testing.T, b lake.Bucket, key, want string) {
	t.Helper()
	if got := get(t, b, key); got != want {
		t.Errorf("Get(%q) = %q, want %q", key, short(got), short(want))
	}
}

// wantMissing checks that Get, GetRange and Attributes of key all report
// lake.ErrNotFound.
func wantMissing(t *testing.T, b lake.Bucket, key string) {
	t.Helper()
	ctx := t.Context()
	if rc, err := b.Get(ctx, key); !errors.Is(err, lake.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get(%q) error = %v, want lake.ErrNotFound", key, err)
	}
	if rc, err := b.GetRange(ctx, key, 1, 2); !errors.Is(err, lake.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("GetRange(%q) error = %v, want lake.ErrNotFound", key, err)
	}
	if _, err := b.Attributes(ctx, key); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Attributes(%q) error = %v, want lake.ErrNotFound", key, err)
	}
}

// list returns the keys under prefix or fails the test.
func list(t *testing.T, b lake.Bucket, prefix string) []string {
	t.Helper()
	keys := []string{}
	if err := b.List(t.Context(), prefix, func(k string) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

// wantList checks the keys under prefix, in order.
func wantList(t *testing.T, b lake.Bucket, prefix string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := list(t, b, prefix); !slices.Equal(got, want) {
		t.Errorf("List(%q) = %q, want %q", prefix, got, want)
	}
}

func short(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%s… (%d bytes)", s[:64], len(s))
	}
	return s
}

// stream returns n deterministic pseudo-random bytes from seed, through a
// reader that is only an io.Reader (no Seek, no WriteTo, no Len), as a
// pipe or an encoder would give them.
func stream(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return struct{ io.Reader }{io.LimitReader(rand.NewChaCha8(s), n)}
}

func hashOf(t *testing.T, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("hashing: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}

// failingReader yields n bytes of r, then err.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func testRoundTrip(t *testing.T, b lake.Bucket) {
	if b.String() == "" {
		t.Error("String() is empty")
	}
	for _, tc := range []struct{ key, body string }{
		{"hello.txt", "hello, lake"},
		{"empty", ""},
		{"ratings_ml_training/customerNumber=103/part-00000.snappy.parquet", "PAR1…PAR1"},
		{"with space/ü=1/a+b&c;d,e.json", `{"x":1}`},
		{"deep/a/b/c/d/e/f/g.bin", "\x00\x01\x02\xff"},
	} {
		put(t, b, tc.key, tc.body)
		wantGet(t, b, tc.key, tc.body)
		a, err := b.Attributes(t.Context(), tc.key)
		if err != nil {
			t.Fatalf("Attributes(%q): %v", tc.key, err)
		}
		if a.Size != int64(len(tc.body)) {
			t.Errorf("Attributes(%q).Size = %d, want %d", tc.key, a.Size, len(tc.body))
		}
	}
}

func testLarge(t *testing.T, b lake.Bucket) {
	const key = "large/object.bin"
	if err := b.Put(t.Context(), key, stream(1, LargeSize)); err != nil {
		t.Fatalf("Put of %d bytes: %v", LargeSize, err)
	}
	wantSum, _ := hashOf(t, stream(1, LargeSize))
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sum, n := hashOf(t, rc)
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n != LargeSize || sum != wantSum {
		t.Errorf("Get read %d bytes (sha256 %x), want %d bytes (sha256 %x)", n, sum[:8], int64(LargeSize), wantSum[:8])
	}
	if a, err := b.Attributes(t.Context(), key); err != nil || a.Size != LargeSize {
		t.Errorf("Attributes = %+v, %v; want size %d", a, err, int64(LargeSize))
	}
	// A range across the 8 MiB and 16 MiB boundaries where multipart
	// uploads usually split.
	for _, off := range []int64{8<<20 - 100, 16<<20 - 7, LargeSize - 50} {
		want := make([]byte, 200)
		full := stream(1, LargeSize)
		if _, err := io.CopyN(io.Discard, full, off); err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadFull(full, want)
		want = want[:m]
		rc, err := b.GetRange(t.Context(), key, off, 200)
		if got := read(t, fmt.Sprintf("GetRange(%d, 200)", off), rc, err); got != string(want) {
			t.Errorf("GetRange(%d, 200) returned %d bytes that differ from the %d written", off, len(got), len(want))
		}
	}
}

func testOverwrite(t *testing.T, b lake.Bucket) {
	put(t, b, "k", "the first version, longer than the second")
	put(t, b, "k", "v2")
	wantGet(t, b, "k", "v2")
	if a, err := b.Attributes(t.Context(), "k"); err != nil || a.Size != 2 {
		t.Errorf("Attributes after overwrite = %+v, %v; want size 2", a, err)
	}
	put(t, b, "k", "")
	wantGet(t, b, "k", "")
	wantList(t, b, "", "k")
}

func testGetRange(t *testing.T, b lake.Bucket) {
	put(t, b, "digits", "0123456789")
	for _, tc := range []struct {
		off, length int64
		want        string
	}{
		{0, 10, "0123456789"},
		{0, -1, "0123456789"},
		{3, 4, "3456"},
		{7, -1, "789"},
		{7, 100, "789"},
		{9, 1, "9"},
		{5, 0, ""},
		{10, -1, ""},
		{12, 3, ""},
	} {
		rc, err := b.GetRange(t.Context(), "digits", tc.off, tc.length)
		got := read(t, fmt.Sprintf("GetRange(%d, %d)", tc.off, tc.length), rc, err)
		if got != tc.want {
			t.Errorf("GetRange(%d, %d) = %q, want %q", tc.off, tc.length, got, tc.want)
		}
	}
	if rc, err := b.GetRange(t.Context(), "digits", -1, 2); err == nil {
		rc.Close()
		t.Error("GetRange with a negative offset succeeded")
	}
}

func testAttributes(t *testing.T, b lake.Bucket) {
	before := time.Now()
	put(t, b, "a/b.bin", strings.Repeat("x", 1234))
	a, err := b.Attributes(t.Context(), "a/b.bin")
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != 1234 {
		t.Errorf("Size = %d, want 1234", a.Size)
	}
	// Stores keep whole seconds and clocks differ a little.
	if d := a.ModTime.Sub(before); d < -time.Minute || d > time.Hour {
		t.Errorf("ModTime = %v, want about %v", a.ModTime, before)
	}
}

func testMissing(t *testing.T, b lake.Bucket) {
	wantMissing(t, b, "missing")
	wantMissing(t, b, "missing/deeper/key.parquet")
	put(t, b, "dir/object", "x")
	wantMissing(t, b, "dir") // a prefix is not an object
	wantMissing(t, b, "dir/object/below")
	wantMissing(t, b, "dir/objec")
}

// listKeys are stored by testList: they catch a walk that visits "a/" before
// "a-b" and "a.txt", and prefixes that match a longer partition value.
var listKeys = []string{
	"a-b",
	"a.txt",
	"a/b",
	"a/c/d",
	"ab",
	"b/x/y/z",
	"customerNumber=103/part-0.parquet",
	"customerNumber=1030/part-0.parquet",
	"customerNumber=103_/part-0.parquet",
}

func testList(t *testing.T, b lake.Bucket) {
	wantList(t, b, "")
	for _, i := range rand.Perm(len(listKeys)) {
		put(t, b, listKeys[i], listKeys[i])
	}
	sorted := slices.Sorted(slices.Values(listKeys))
	if !slices.Equal(sorted, listKeys) {
		t.Fatal("listKeys is not sorted")
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", listKeys},
		{"a", []string{"a-b", "a.txt", "a/b", "a/c/d", "ab"}},
		{"a/", []string{"a/b", "a/c/d"}},
		{"a/c", []string{"a/c/d"}},
		{"a/c/", []string{"a/c/d"}},
		{"a/b", []string{"a/b"}},
		{"a.", []string{"a.txt"}},
		{"b/", []string{"b/x/y/z"}},
		{"b/x/y/z", []string{"b/x/y/z"}},
		{"customerNumber=103/", []string{"customerNumber=103/part-0.parquet"}},
		{"customerNumber=103", listKeys[6:]},
		{"nope", nil},
		{"nope/", nil},
		{"a/nope/", nil},
		{"b/x/y/z/", nil},
	} {
		wantList(t, b, tc.prefix, tc.want...)
	}
}

func testListStops(t *testing.T, b lake.Bucket) {
	for _, k := range []string{"p/1", "p/2", "p/3"} {
		put(t, b, k, k)
	}
	stop := errors.New("stop here")
	var seen []string
	err := b.List(t.Context(), "p/", func(k string) error {
		seen = append(seen, k)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List returned %v, want the error from fn", err)
	}
	if !slices.Equal(seen, []string{"p/1", "p/2"}) {
		t.Errorf("fn saw %q, want [p/1 p/2]", seen)
	}
}

func testDelete(t *testing.T, b lake.Bucket) {
	put(t, b, "a/b", "1")
	put(t, b, "a/c", "2")
	put(t, b, "x/y/z", "3")
	for range 2 {
		if err := b.Delete(t.Context(), "a/b"); err != nil {
			t.Fatalf("Delete(a/b): %v", err)
		}
	}
	wantMissing(t, b, "a/b")
	wantGet(t, b, "a/c", "2")
	wantList(t, b, "", "a/c", "x/y/z")
	for _, k := range []string{"never/was", "a/c/below", "a"} {
		if err := b.Delete(t.Context(), k); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v", k, err)
		}
	}
	for _, k := range []string{"a/c", "x/y/z"} {
		if err := b.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	wantList(t, b, "")
	// The prefixes emptied above take new objects again, and an emptied
	// prefix can become an object.
	put(t, b, "x/y/z", "4")
	wantList(t, b, "", "x/y/z")
	if err := b.Delete(t.Context(), "x/y/z"); err != nil {
		t.Fatal(err)
	}
	put(t, b, "x/y", "5")
	wantList(t, b, "", "x/y")
	wantGet(t, b, "x/y", "5")
}

func testConcurrentPut(t *testing.T, b lake.Bucket) {
	const writers, each = 8, 4
	var (
		wg   sync.WaitGroup
		want []string
	)
	errs := make(chan error, writers*each)
	for w := range writers {
		for i := range each {
			want = append(want, fmt.Sprintf("c/w%d/part-%d", w, i))
		}
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("c/w%d/part-%d", w, i)
				body := strings.Repeat(key, 1000+w*100+i)
				if err := b.Put(t.Context(), key, strings.NewReader(body)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	slices.Sort(want)
	wantList(t, b, "c/", want...)
	for _, k := range want {
		var w, i int
		if _, err := fmt.Sscanf(k, "c/w%d/part-%d", &w, &i); err != nil {
			t.Fatal(err)
		}
		wantGet(t, b, k, strings.Repeat(k, 1000+w*100+i))
	}
}

func testConcurrentPutSameKey(t *testing.T, b lake.Bucket) {
	const writers = 6
	bodies := make([]string, writers)
	for i := range bodies {
		bodies[i] = strings.Repeat(string(rune('A'+i)), 200<<10+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for _, body := range bodies {
		wg.Go(func() {
			if err := b.Put(t.Context(), "same", strings.NewReader(body)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	if got := get(t, b, "same"); !slices.Contains(bodies, got) {
		t.Errorf("after concurrent Puts the object is none of the bodies written: %s", short(got))
	}
	wantList(t, b, "", "same")
}

func testFailingReader(t *testing.T, b lake.Bucket) {
	boom := errors.New("reader broke")
	put(t, b, "f/old", "previous content")
	for _, n := range []int64{0, 1 << 20, 20 << 20} {
		for _, key := range []string{"f/old", "f/new"} {
			r := &failingReader{r: stream(2, 1<<40), n: n, err: boom}
			err := b.Put(t.Context(), key, r)
			if err == nil {
				t.Fatalf("Put(%q) from a reader failing after %d bytes succeeded", key, n)
			}
			if !errors.Is(err, boom) {
				t.Errorf("Put(%q) from a failing reader: error %v does not wrap the reader's", key, err)
			}
		}
		wantGet(t, b, "f/old", "previous content")
		wantMissing(t, b, "f/new")
		wantList(t, b, "", "f/old")
	}
}

// cancelReader cancels its context after its first read.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

func testCancelled(t *testing.T, b lake.Bucket) {
	put(t, b, "k", "kept")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error %v, want context.Canceled", op, err)
		}
	}
	check("Put", b.Put(ctx, "k", strings.NewReader("new")))
	check("Put", b.Put(ctx, "other", strings.NewReader("new")))
	if rc, err := b.Get(ctx, "k"); err == nil {
		// Reading may be lazy, but it must not succeed.
		_, err = io.ReadAll(rc)
		rc.Close()
		check("Get", err)
	}
	_, err := b.Attributes(ctx, "k")
	check("Attributes", err)
	check("List", b.List(ctx, "", func(string) error { return nil }))
	check("Delete", b.Delete(ctx, "k"))

	// Cancelled while the body is being read.
	for _, size := range []int64{64 << 10, 20 << 20} {
		ctx, cancel := context.WithCancel(t.Context())
		err := b.Put(ctx, "k", &cancelReader{r: stream(3, size), cancel: cancel})
		cancel()
		if err == nil {
			t.Errorf("Put of %d bytes cancelled midway succeeded", size)
		}
	}
	wantGet(t, b, "k", "kept")
	wantList(t, b, "", "k")
}

func testCopier(t *testing.T, b lake.Bucket) {
	c, ok := b.(lake.Copier)
	if !ok {
		t.Skipf("%s does not implement lake.Copier", b)
	}
	ctx := t.Context()
	put(t, b, "c/src", "one")
	for range 2 {
		if err := c.Copy(ctx, "c/src", "c/dst"); err != nil {
			t.Fatalf("Copy: %v", err)
		}
	}
	wantGet(t, b, "c/dst", "one")
	put(t, b, "c/src", "two")
	wantGet(t, b, "c/dst", "one") // a copy, not an alias
	if err := c.Copy(ctx, "c/src", "c/dst"); err != nil {
		t.Fatalf("Copy over an existing object: %v", err)
	}
	wantGet(t, b, "c/dst", "two")
	if err := c.Copy(ctx, "c/src", "other/deep/dst"); err != nil {
		t.Fatalf("Copy to a new prefix: %v", err)
	}
	wantGet(t, b, "other/deep/dst", "two")
	if err := c.Copy(ctx, "c/src", "c/src"); err != nil {
		t.Errorf("Copy onto itself: %v", err)
	}
	wantGet(t, b, "c/src", "two")
	if err := c.Copy(ctx, "c/missing", "c/x"); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Copy of a missing object: error %v, want lake.ErrNotFound", err)
	}
	wantList(t, b, "", "c/dst", "c/src", "other/deep/dst")
}

func testLinker(t *testing.T, b lake.Bucket) {
	l, ok := b.(lake.Linker)
	if !ok {
		t.Skipf("%s does not implement lake.Linker", b)
	}
	ctx := t.Context()
	put(t, b, "runs/1/a/x", "1")
	put(t, b, "runs/1/m", "1")
	put(t, b, "runs/2/b/y", "2")
	put(t, b, "runs/2/m", "2")
	resolve := func(name, want string) {
		t.Helper()
		got, err := l.Resolve(ctx, name)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := l.Resolve(ctx, "cur"); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Resolve of a missing name: error %v, want lake.ErrNotFound", err)
	}
	for range 2 {
		if err := l.Link(ctx, "runs/1", "cur"); err != nil {
			t.Fatalf("Link: %v", err)
		}
	}
	resolve("cur", "runs/1")
	resolve("runs/1", "runs/1")
	wantList(t, b, "cur/", "cur/a/x", "cur/m")
	wantList(t, b, "cur", "cur/a/x", "cur/m")
	wantGet(t, b, "cur/m", "1")

	if err := l.Link(ctx, "runs/2", "cur"); err != nil {
		t.Fatalf("Link to a new target: %v", err)
	}
	resolve("cur", "runs/2")
	wantList(t, b, "cur/", "cur/b/y", "cur/m")
	wantGet(t, b, "cur/m", "2")
	wantList(t, b, "", "cur/b/y", "cur/m", "runs/1/a/x", "runs/1/m", "runs/2/b/y", "runs/2/m")

	if err := l.Link(ctx, "runs/3", "cur"); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Link to a missing target: error %v, want lake.ErrNotFound", err)
	}
	resolve("cur", "runs/2")

	if err := l.Link(ctx, "runs/1", "pub/latest"); err != nil {
		t.Fatalf("Link with a nested name: %v", err)
	}
	resolve("pub/latest", "runs/1")
	wantList(t, b, "pub/", "pub/latest/a/x", "pub/latest/m")
	for _, bad := range [][2]string{{"runs/1", "runs/1"}, {"runs", "runs/1/again"}, {"runs/1/a", "runs"}} {
		if err := l.Link(ctx, bad[0], bad[1]); err == nil {
			t.Errorf("Link(%q, %q) succeeded though one contains the other", bad[0], bad[1])
		}
	}
}

// testLease checks a Leaser: one holder at a time per name, a clear error
// naming the holder, independent names, and release letting the next in.
func testLease(t *testing.T, b lake.Bucket) {
	l, ok := b.(lake.Leaser)
	if !ok {
		t.Skip("the bucket grants no leases")
	}
	ctx := t.Context()
	const ttl = time.Minute
	a, err := l.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "holder A"}, ttl)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if a.Err() != nil {
		t.Fatalf("a fresh lease reports %v", a.Err())
	}
	_, err = l.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "holder B"}, ttl)
	var held *lake.LeaseHeldError
	if !errors.Is(err, lake.ErrLeaseHeld) || !errors.As(err, &held) {
		t.Fatalf("second Lease: %v, want a LeaseHeldError", err)
	}
	if held.Holder.Owner != "holder A" || held.Holder.PID != os.Getpid() || held.Holder.Host == "" {
		t.Errorf("the error names holder %+v, want holder A with this host and pid %d", held.Holder, os.Getpid())
	}
	if msg := err.Error(); !strings.Contains(msg, "holder A") || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(msg, `"dataset"`) {
		t.Errorf("error %q does not name the lease, the holder and its pid", msg)
	}
	other, err := l.Lease(ctx, "other", lake.LeaseHolder{Owner: "holder C"}, ttl)
	if err != nil {
		t.Fatalf("a lease of another name: %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("repeated Release: %v", err)
	}
	bl, err := l.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "holder B"}, ttl)
	if err != nil {
		t.Fatalf("Lease after release: %v", err)
	}
	select {
	case <-bl.Lost():
		t.Fatalf("a held lease reports lost: %v", bl.Err())
	default:
	}
	if err := bl.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Lease(ctx, "a/b", lake.LeaseHolder{}, ttl); err == nil {
		t.Error("a lease name with a slash was accepted")
	}
}
