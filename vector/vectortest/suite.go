package vectortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
)

// Harness tells the suite how to make stores of one backend.
type Harness struct {
	// Open returns a new, empty store of dimension vector.DefaultDim that
	// no other store shares. The suite closes it.
	Open func(t *testing.T) vector.Store
	// Reopen, if set, closes st and opens the same storage again, to check
	// that a loaded version survives.
	Reopen func(t *testing.T, st vector.Store) vector.Store
	// MinRecall is the least recall@10 against exact search accepted on the
	// suite's clustered data (default 1: exact).
	MinRecall float64
}

// Run runs the acceptance suite: every backend of vector.Store must pass it.
func Run(t *testing.T, h Harness) {
	if h.MinRecall == 0 {
		h.MinRecall = 1
	}
	open := func(t *testing.T) vector.Store {
		t.Helper()
		st := h.Open(t)
		t.Cleanup(func() { st.Close() })
		return st
	}
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("LoadAndLookUp", func(t *testing.T) { testLoadAndLookUp(t, open(t)) })
	t.Run("SearchOrder", func(t *testing.T) { testSearchOrder(t, open(t)) })
	t.Run("Recall", func(t *testing.T) { testRecall(t, open(t), h.MinRecall) })
	t.Run("Exclusion", func(t *testing.T) { testExclusion(t, open(t)) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, open(t)) })
	t.Run("Similar", func(t *testing.T) { testSimilar(t, open(t)) })
	t.Run("BadQueries", func(t *testing.T) { testBadQueries(t, open(t)) })
	t.Run("BadLoads", func(t *testing.T) { testBadLoads(t, open(t)) })
	t.Run("Swap", func(t *testing.T) { testSwap(t, open(t)) })
	t.Run("StringIDs", func(t *testing.T) { testStringIDs(t, open(t)) })
	t.Run("IDTypeSwap", func(t *testing.T) { testIDTypeSwap(t, open(t)) })
	t.Run("SwapUnderReads", func(t *testing.T) { testSwapUnderReads(t, open(t)) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, h.Open(t)) })
	if h.Reopen != nil {
		t.Run("Reopen", func(t *testing.T) {
			st := h.Open(t)
			small := smallItems()
			load(t, st, "persisted", small, smallUsers())
			st = h.Reopen(t, st)
			defer st.Close()
			info, err := st.Version(context.Background())
			if err != nil || info.Version != "persisted" || info.Items != len(small) {
				t.Fatalf("after reopening: version %+v, %v; want %q with %d items", info, err, "persisted", len(small))
			}
			checkSmallSearch(t, st)
		})
		t.Run("ReopenStringIDs", func(t *testing.T) {
			st := h.Open(t)
			loadShop(t, st, "shop")
			st = h.Reopen(t, st)
			defer st.Close()
			checkShop(t, st, "shop")
		})
	}
}

// e returns a DefaultDim vector with the given leading components.
func e(xs ...float32) []float32 {
	v := make([]float32, vector.DefaultDim)
	copy(v, xs)
	return v
}

// smallItems have known cosine distances to e(1): A 0, B 1−1/√1.25,
// E 1−1/√3, C 1, D 2.
func smallItems() []embedding.Entry {
	return []embedding.Entry{
		{ID: "S10_1678", Vector: e(1)},            // A
		{ID: "S10_1949", Vector: e(1, 0.5)},       // B
		{ID: "S10_2016", Vector: e(0, 1)},         // C
		{ID: "S10_4698", Vector: e(-2)},           // D
		{ID: "S12_1099", Vector: e(1, 1, 1)},      // E
		{ID: "S18_3232", Vector: e(0.1, 0, 0, 1)}, // F
	}
}

var smallOrder = []vector.Hit{
	{ID: "S10_1678", Distance: 0},
	{ID: "S10_1949", Distance: 1 - 1/math.Sqrt(1.25)},
	{ID: "S12_1099", Distance: 1 - 1/math.Sqrt(3)},
	{ID: "S18_3232", Distance: 1 - 0.1/math.Sqrt(1.01)},
	{ID: "S10_2016", Distance: 1},
	{ID: "S10_4698", Distance: 2},
}

func smallUsers() []embedding.Entry {
	return []embedding.Entry{
		{ID: "103", Vector: e(0.25, -1.5, 3e-7)},
		{ID: "112", Vector: e(1, 2, 3)},
		{ID: "114", Vector: e(-0.1)},
	}
}

func load(t *testing.T, st vector.Store, version string, items, users []embedding.Entry) vector.Info {
	t.Helper()
	info, err := st.Load(context.Background(), version, vector.FromSlice(items), vector.FromSlice(users))
	if err != nil {
		t.Fatalf("load %s: %v", version, err)
	}
	return info
}

func checkHits(t *testing.T, what string, got, want []vector.Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || math.Abs(got[i].Distance-want[i].Distance) > 1e-5 {
			t.Fatalf("%s: hit %d is %s at %.7f, want %s at %.7f\n got %v\nwant %v",
				what, i, got[i].ID, got[i].Distance, want[i].ID, want[i].Distance, got, want)
		}
	}
}

func checkSmallSearch(t *testing.T, st vector.Reader) {
	t.Helper()
	got, err := st.SearchItems(context.Background(), e(1), 10)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "search e(1)", got, smallOrder)
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: error %v, want one wrapping %q", what, err, sentinel)
	}
}

func testEmpty(t *testing.T, st vector.Store) {
	ctx := context.Background()
	if st.Dim() != vector.DefaultDim {
		t.Errorf("Dim() = %d, want %d", st.Dim(), vector.DefaultDim)
	}
	_, err := st.Version(ctx)
	wantErr(t, "Version of an empty store", err, vector.ErrEmpty)
	_, err = st.SearchItems(ctx, e(1), 5)
	wantErr(t, "SearchItems on an empty store", err, vector.ErrEmpty)
	_, err = st.SearchItemsBatch(ctx, []vector.Query{{Vector: e(1), K: 5}})
	wantErr(t, "SearchItemsBatch on an empty store", err, vector.ErrEmpty)
	_, err = st.ItemVector(ctx, "S10_1678")
	wantErr(t, "ItemVector on an empty store", err, vector.ErrEmpty)
	_, err = st.UserVector(ctx, "103")
	wantErr(t, "UserVector on an empty store", err, vector.ErrEmpty)
	if s := st.String(); s == "" {
		t.Error("String() is empty")
	}
}

func testLoadAndLookUp(t *testing.T, st vector.Store) {
	ctx := context.Background()
	// Users come from a CSV file in the lab's format.
	var csv bytes.Buffer
	w, err := embedding.NewWriter(&csv)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range smallUsers() {
		if err := w.Write(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Minute)
	info, err := st.Load(ctx, "2025-01-02T03-04-05", vector.FromSlice(smallItems()),
		vector.FromCSV(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(csv.Bytes())), nil }))
	if err != nil {
		t.Fatal(err)
	}
	want := vector.Info{Version: "2025-01-02T03-04-05", Dim: vector.DefaultDim, Items: 6, Users: 3, IDs: vector.LabIDs}
	check := func(what string, got vector.Info) {
		t.Helper()
		at := got.LoadedAt
		got.LoadedAt = time.Time{}
		if got != want || at.Before(before) || at.After(time.Now().Add(time.Minute)) {
			t.Fatalf("%s = %+v (loaded at %v), want %+v loaded about now", what, got, at, want)
		}
	}
	check("Load's info", info)
	v, err := st.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("Version", v)

	for _, it := range smallItems() {
		got, err := st.ItemVector(ctx, it.ID)
		if err != nil {
			t.Fatalf("ItemVector(%s): %v", it.ID, err)
		}
		if !slices.Equal(got, it.Vector) {
			t.Fatalf("ItemVector(%s) = %v, want %v bit for bit", it.ID, got, it.Vector)
		}
		got[0] = 42 // a copy: must not change the store
	}
	again, _ := st.ItemVector(ctx, "S10_1678")
	if again[0] != 1 {
		t.Fatal("changing a returned vector changed the store")
	}
	for _, id := range []string{"103", " 0103 "} { // integer ids match in canonical form
		u, err := st.UserVector(ctx, id)
		if err != nil || !slices.Equal(u, smallUsers()[0].Vector) {
			t.Fatalf("UserVector(%q) = %v, %v; want %v", id, u, err, smallUsers()[0].Vector)
		}
	}
	_, err = st.ItemVector(ctx, "S99_9999")
	wantErr(t, "ItemVector of an unknown item", err, vector.ErrNotFound)
	for _, id := range []string{"999", "9223372036854775807", "alice", ""} {
		_, err = st.UserVector(ctx, id)
		wantErr(t, fmt.Sprintf("UserVector(%q) of an unknown user or one that cannot be an int", id), err, vector.ErrNotFound)
	}
	checkSmallSearch(t, st)
}

func testSearchOrder(t *testing.T, st vector.Store) {
	ctx := context.Background()
	load(t, st, "v1", smallItems(), nil)
	got, err := st.SearchItems(ctx, e(1), 3)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "top 3", got, smallOrder[:3])
	if s := got[1].Similarity(); math.Abs(s-1/math.Sqrt(1.25)) > 1e-5 {
		t.Errorf("Similarity() = %v, want %v", s, 1/math.Sqrt(1.25))
	}
	// Scale does not matter to cosine distance.
	got, err = st.SearchItems(ctx, e(1000), 3)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "top 3 of a long query", got, smallOrder[:3])
	got, err = st.SearchItems(ctx, e(1), 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("k = 0: %v, %v; want no hits and no error", got, err)
	}
	got, err = st.SearchItems(ctx, e(1), 100)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "k beyond the item count", got, smallOrder)
}

func testRecall(t *testing.T, st vector.Store, minRecall float64) {
	ctx := context.Background()
	items := Clustered(11, 600, vector.DefaultDim, "P")
	load(t, st, "clustered", items, nil)
	qs := Queries(12, items, 25)
	var total float64
	for i, q := range qs {
		want := Exact(items, q, 10)
		got, err := st.SearchItems(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 {
			t.Fatalf("query %d: %d hits, want 10", i, len(got))
		}
		for j, h := range got {
			if j > 0 && h.Distance < got[j-1].Distance {
				t.Fatalf("query %d: hits not sorted by distance: %v", i, got)
			}
			vec := items[slices.IndexFunc(items, func(e embedding.Entry) bool { return e.ID == h.ID })].Vector
			if d := CosineDistance(q, vec); math.Abs(d-h.Distance) > 1e-5 {
				t.Fatalf("query %d: %s at distance %.7f, its true distance is %.7f", i, h.ID, h.Distance, d)
			}
		}
		total += Recall(got, want)
	}
	if r := total / float64(len(qs)); r < minRecall {
		t.Fatalf("recall@10 = %.3f, want at least %.3f", r, minRecall)
	}
}

func testExclusion(t *testing.T, st vector.Store) {
	ctx := context.Background()
	load(t, st, "v1", smallItems(), nil)
	got, err := st.SearchItems(ctx, e(1), 3, "S10_1678")
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "top 3 without the item itself", got, smallOrder[1:4])
	got, err = st.SearchItems(ctx, e(1), 2, "S10_1949", "S10_1678", "no-such-item", "S10_4698")
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "top 2 without three items", got, []vector.Hit{smallOrder[2], smallOrder[3]})
	got, err = st.SearchItems(ctx, e(1), 10, "S10_1678")
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "everything but the item", got, smallOrder[1:])
}

// testSimilar checks SimilarItems, for backends that have it, against
// ItemVector and SearchItems.
func testSimilar(t *testing.T, st vector.Store) {
	ss, ok := st.(vector.SimilarSearcher)
	if !ok {
		t.Skipf("%T does not implement vector.SimilarSearcher", st)
	}
	ctx := context.Background()
	_, err := ss.SimilarItems(ctx, "S10_1678", 3)
	wantErr(t, "similar items in an empty store", err, vector.ErrEmpty)
	load(t, st, "v1", smallItems(), nil)
	got, err := ss.SimilarItems(ctx, "S10_1678", 3)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "3 similar to S10_1678", got, smallOrder[1:4])
	got, err = ss.SimilarItems(ctx, "S10_1678", 2, "S10_1949", "no-such-item", "S10_4698")
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "2 similar to S10_1678 without two more", got, []vector.Hit{smallOrder[2], smallOrder[3]})
	got, err = ss.SimilarItems(ctx, "S10_1678", 10)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "everything similar to S10_1678", got, smallOrder[1:])
	_, err = ss.SimilarItems(ctx, "no-such-item", 3)
	wantErr(t, "similar to an unknown item", err, vector.ErrNotFound)

	items := Clustered(23, 300, vector.DefaultDim, "B")
	load(t, st, "v2", items, nil)
	for i := 0; i < 20; i++ {
		id := items[i*7].ID
		excl := []string{items[i*7+1].ID}
		got, err := ss.SimilarItems(ctx, id, 5+i, excl...)
		if err != nil {
			t.Fatal(err)
		}
		v, err := st.ItemVector(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := st.SearchItems(ctx, v, 5+i, append([]string{id}, excl...)...)
		if err != nil {
			t.Fatal(err)
		}
		checkHits(t, "similar to "+id, got, want)
	}
}

func testBatch(t *testing.T, st vector.Store) {
	ctx := context.Background()
	items := Clustered(21, 300, vector.DefaultDim, "B")
	load(t, st, "v1", items, nil)
	qs := Queries(22, items, 6)
	batch := make([]vector.Query, len(qs))
	for i, q := range qs {
		batch[i] = vector.Query{Vector: q, K: 3 + i, Exclude: []string{items[i].ID}}
	}
	batch[2].K = 0
	got, err := st.SearchItemsBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Fatalf("%d results for %d queries", len(got), len(batch))
	}
	for i, q := range batch {
		one, err := st.SearchItems(ctx, q.Vector, q.K, q.Exclude...)
		if err != nil {
			t.Fatal(err)
		}
		checkHits(t, fmt.Sprintf("batch query %d", i), got[i], one)
	}
	batch[4].Vector = e(1)[:7]
	_, err = st.SearchItemsBatch(ctx, batch)
	wantErr(t, "a batch with one short query", err, vector.ErrDimension)
	got, err = st.SearchItemsBatch(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %v, %v", got, err)
	}
}

func testBadQueries(t *testing.T, st vector.Store) {
	ctx := context.Background()
	load(t, st, "v1", smallItems(), smallUsers())
	_, err := st.SearchItems(ctx, e(1)[:31], 5)
	wantErr(t, "a 31-dimensional query", err, vector.ErrDimension)
	_, err = st.SearchItems(ctx, append(e(1), 1), 5)
	wantErr(t, "a 33-dimensional query", err, vector.ErrDimension)
	_, err = st.SearchItems(ctx, e(), 5)
	wantErr(t, "a zero query", err, vector.ErrInvalid)
	_, err = st.SearchItems(ctx, e(float32(math.NaN())), 5)
	wantErr(t, "a NaN query", err, vector.ErrInvalid)
	_, err = st.SearchItems(ctx, e(float32(math.Inf(1))), 5)
	wantErr(t, "an infinite query", err, vector.ErrInvalid)
	if !strings.Contains(fmt.Sprint(st.SearchItems(ctx, e(1)[:31], 5)), "31") {
		t.Error("the dimension error does not name the query's dimension")
	}
}

func testBadLoads(t *testing.T, st vector.Store) {
	ctx := context.Background()
	load(t, st, "good", smallItems(), smallUsers())
	fails := func(what string, version string, items, users []embedding.Entry, sentinel error, text string) {
		t.Helper()
		_, err := st.Load(ctx, version, vector.FromSlice(items), vector.FromSlice(users))
		if sentinel != nil {
			wantErr(t, what, err, sentinel)
		} else if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if !strings.Contains(err.Error(), text) {
			t.Fatalf("%s: error %q does not mention %q", what, err, text)
		}
		info, err := st.Version(ctx)
		if err != nil || info.Version != "good" {
			t.Fatalf("after %s: live version %+v, %v; want the previous one, %q", what, info, err, "good")
		}
		checkSmallSearch(t, st)
	}
	items := smallItems()
	short := slices.Clone(items)
	short[3] = embedding.Entry{ID: short[3].ID, Vector: e(1)[:16]}
	fails("16-dimensional items", "v2", short, smallUsers(), vector.ErrDimension, "16")
	longUsers := smallUsers()
	longUsers[1].Vector = make([]float32, 64)
	longUsers[1].Vector[0] = 1
	fails("64-dimensional users", "v2", items, longUsers, vector.ErrDimension, "64")
	zero := slices.Clone(items)
	zero[2] = embedding.Entry{ID: "ZERO", Vector: e()}
	fails("a zero item vector", "v2", zero, nil, vector.ErrInvalid, "ZERO")
	nan := slices.Clone(items)
	nan[1] = embedding.Entry{ID: "NAN", Vector: e(float32(math.NaN()))}
	fails("a NaN item vector", "v2", nan, nil, vector.ErrInvalid, "NAN")
	badUser := append(smallUsers(), embedding.Entry{ID: "alice", Vector: e(1)})
	fails("a user id that is not an integer", "v2", items, badUser, vector.ErrInvalid, "alice")
	bigUser := append(smallUsers(), embedding.Entry{ID: "3000000000", Vector: e(1)})
	fails("a user id beyond int", "v2", items, bigUser, vector.ErrInvalid, "3000000000")
	dup := append(slices.Clone(items), embedding.Entry{ID: items[4].ID, Vector: e(0, 0, 1)})
	fails("a duplicate item id", "v2", dup, nil, vector.ErrInvalid, items[4].ID)
	wantDuplicate(t, st, "item", items[4].ID, dup, nil)
	// 0112 is user 112 again once read as an integer.
	dupUser := append(smallUsers(), embedding.Entry{ID: "0112", Vector: e(0, 1)})
	fails("a duplicate user id", "v2", items, dupUser, vector.ErrInvalid, "112")
	wantDuplicate(t, st, "user", "112", items, dupUser)
	fails("no items", "v2", nil, smallUsers(), vector.ErrEmpty, "no item")
	fails("an empty version name", "", items, nil, vector.ErrInvalid, "version")
	fails("a version name with a newline", "v\n2", items, nil, vector.ErrInvalid, "version")

	// A reader that fails half-way.
	boom := errors.New("disk on fire")
	broken := func(yield func(embedding.Entry, error) bool) {
		for _, it := range items[:3] {
			if !yield(it, nil) {
				return
			}
		}
		yield(embedding.Entry{}, boom)
	}
	_, err := st.Load(ctx, "v2", broken, nil)
	wantErr(t, "items that fail to read", err, boom)
	checkSmallSearch(t, st)

	// A cancelled load.
	cctx, cancel := context.WithCancel(ctx)
	slow := func(yield func(embedding.Entry, error) bool) {
		for i, it := range Clustered(5, 20000, vector.DefaultDim, "C") {
			if i == 5000 {
				cancel()
			}
			if !yield(it, nil) {
				return
			}
		}
	}
	_, err = st.Load(cctx, "v2", slow, nil)
	wantErr(t, "a cancelled load", err, context.Canceled)
	if info, err := st.Version(ctx); err != nil || info.Version != "good" {
		t.Fatalf("after a cancelled load: %+v, %v", info, err)
	}
	checkSmallSearch(t, st)
	// Loading the same version again is fine.
	load(t, st, "good", items, smallUsers())
	checkSmallSearch(t, st)
}

// wantDuplicate checks that loading items and users fails with a
// vector.DuplicateIDError naming kind and id (canonical).
func wantDuplicate(t *testing.T, st vector.Store, kind, id string, items, users []embedding.Entry) {
	t.Helper()
	_, err := st.Load(context.Background(), "v2", vector.FromSlice(items), vector.FromSlice(users))
	var dup *vector.DuplicateIDError
	if !errors.As(err, &dup) || dup.Kind != kind || dup.ID != id {
		t.Fatalf("duplicate %s id %q: error %v (%T), want a *vector.DuplicateIDError naming them", kind, id, err, err)
	}
}

func testSwap(t *testing.T, st vector.Store) {
	ctx := context.Background()
	a := Clustered(31, 200, vector.DefaultDim, "A")
	b := Clustered(32, 150, vector.DefaultDim, "B")
	load(t, st, "v1", a, smallUsers())
	load(t, st, "v2", b, nil)
	info, err := st.Version(ctx)
	if err != nil || info.Version != "v2" || info.Items != 150 || info.Users != 0 {
		t.Fatalf("after the swap: %+v, %v", info, err)
	}
	hits, err := st.SearchItems(ctx, a[0].Vector, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if !strings.HasPrefix(h.ID, "B") {
			t.Fatalf("hit %s from the old version after the swap", h.ID)
		}
	}
	_, err = st.ItemVector(ctx, a[0].ID)
	wantErr(t, "an item of the old version", err, vector.ErrNotFound)
	_, err = st.UserVector(ctx, "103")
	wantErr(t, "a user of the old version", err, vector.ErrNotFound)
	if _, err := st.ItemVector(ctx, b[7].ID); err != nil {
		t.Fatal(err)
	}
}

func testSwapUnderReads(t *testing.T, st vector.Store) {
	ctx := context.Background()
	versions := [][]embedding.Entry{
		Clustered(41, 400, vector.DefaultDim, "X"),
		Clustered(42, 300, vector.DefaultDim, "Y"),
		Clustered(43, 500, vector.DefaultDim, "Z"),
	}
	load(t, st, "v0", versions[0], nil)
	var stop atomic.Bool
	var searches atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 3 {
		wg.Go(func() {
			q := versions[0][g].Vector
			for !stop.Load() {
				hits, err := st.SearchItems(ctx, q, 10)
				if err != nil {
					errs <- fmt.Errorf("search during loads: %w", err)
					return
				}
				if len(hits) != 10 {
					errs <- fmt.Errorf("search during loads: %d hits", len(hits))
					return
				}
				for _, h := range hits {
					if h.ID[0] != hits[0].ID[0] {
						errs <- fmt.Errorf("one search saw two versions: %v", hits)
						return
					}
				}
				searches.Add(1)
			}
		})
	}
	for i, items := range versions[1:] {
		load(t, st, fmt.Sprintf("v%d", i+1), items, nil)
	}
	// Let the readers see the last version too.
	for n := searches.Load(); searches.Load() < n+3; {
		time.Sleep(5 * time.Millisecond)
		if len(errs) > 0 {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if info, err := st.Version(ctx); err != nil || info.Version != "v2" {
		t.Fatalf("live version %+v, %v; want v2", info, err)
	}
}

func testClosed(t *testing.T, st vector.Store) {
	ctx := context.Background()
	load(t, st, "v1", smallItems(), smallUsers())
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := st.SearchItems(ctx, e(1), 3)
	wantErr(t, "SearchItems after Close", err, vector.ErrUnavailable)
	_, err = st.Version(ctx)
	wantErr(t, "Version after Close", err, vector.ErrUnavailable)
	_, err = st.ItemVector(ctx, "S10_1678")
	wantErr(t, "ItemVector after Close", err, vector.ErrUnavailable)
	_, err = st.Load(ctx, "v2", vector.FromSlice(smallItems()), nil)
	wantErr(t, "Load after Close", err, vector.ErrUnavailable)
}

// shopIDs are the id types of a shop like README's movie shop: string
// user ids, integer item ids.
var shopIDs = vector.IDTypes{User: vector.IDString, Item: vector.IDInteger}

// shopItems are smallItems with integer ids: "1" is A … "6" is F.
func shopItems() []embedding.Entry {
	items := smallItems()
	for i := range items {
		items[i].ID = fmt.Sprint(i + 1)
	}
	return items
}

var shopOrder = func() []vector.Hit {
	ids := map[string]string{}
	for i, it := range smallItems() {
		ids[it.ID] = fmt.Sprint(i + 1)
	}
	out := slices.Clone(smallOrder)
	for i := range out {
		out[i].ID = ids[out[i].ID]
	}
	return out
}()

// shopUsers have string ids, among them ones a lab store would refuse or
// read as integers.
func shopUsers() []embedding.Entry {
	return []embedding.Entry{
		{ID: "00000000-a762", Vector: e(0.25, -1.5, 3e-7)},
		{ID: "alice", Vector: e(1, 2, 3)},
		{ID: "0103", Vector: e(-0.1)},
		{ID: "103", Vector: e(0, 0.5)},
		{ID: "zoë o'brien, \"quoted\"", Vector: e(3, 0, 1)},
	}
}

func loadShop(t *testing.T, st vector.Store, version string) vector.Info {
	t.Helper()
	info, err := st.Load(context.Background(), version, vector.FromSlice(shopItems()), vector.FromSlice(shopUsers()),
		vector.WithIDTypes(shopIDs))
	if err != nil {
		t.Fatalf("load %s with string user ids: %v", version, err)
	}
	return info
}

// checkShop checks that the live version is loadShop's.
func checkShop(t *testing.T, st vector.Reader, version string) {
	t.Helper()
	ctx := context.Background()
	info, err := st.Version(ctx)
	if err != nil || info.Version != version || info.IDs != shopIDs || info.Users != len(shopUsers()) {
		t.Fatalf("Version = %+v, %v; want %q with id types %+v and %d users", info, err, version, shopIDs, len(shopUsers()))
	}
	for _, u := range shopUsers() {
		got, err := st.UserVector(ctx, u.ID)
		if err != nil || !slices.Equal(got, u.Vector) {
			t.Fatalf("UserVector(%q) = %v, %v; want %v", u.ID, got, err, u.Vector)
		}
	}
	for _, id := range []string{" 103", "00000000-A762", "bob", "3000000000", ""} { // string ids match exactly
		_, err := st.UserVector(ctx, id)
		wantErr(t, fmt.Sprintf("UserVector(%q) with string user ids", id), err, vector.ErrNotFound)
	}
	for _, it := range shopItems() {
		got, err := st.ItemVector(ctx, it.ID)
		if err != nil || !slices.Equal(got, it.Vector) {
			t.Fatalf("ItemVector(%q) = %v, %v; want %v", it.ID, got, err, it.Vector)
		}
	}
	hits, err := st.SearchItems(ctx, e(1), 10)
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "search e(1) with integer item ids", hits, shopOrder)
	hits, err = st.SearchItems(ctx, e(1), 2, "1")
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, "search e(1) excluding item 1", hits, shopOrder[1:3])
}

// testStringIDs: a version with string user ids and integer item ids, as
// a dataset spec declares them, and the loads its types refuse.
func testStringIDs(t *testing.T, st vector.Store) {
	ctx := context.Background()
	info := loadShop(t, st, "shop-v1")
	if info.IDs != shopIDs || info.Users != len(shopUsers()) || info.Items != len(shopItems()) {
		t.Fatalf("Load's info %+v, want id types %+v", info, shopIDs)
	}
	checkShop(t, st, "shop-v1")

	fails := func(what string, items, users []embedding.Entry, text string) {
		t.Helper()
		_, err := st.Load(ctx, "shop-v2", vector.FromSlice(items), vector.FromSlice(users), vector.WithIDTypes(shopIDs))
		wantErr(t, what, err, vector.ErrInvalid)
		if !strings.Contains(err.Error(), text) {
			t.Fatalf("%s: error %q does not mention %q", what, err, text)
		}
		checkShop(t, st, "shop-v1")
	}
	fails("an item id that is not an integer", append(shopItems(), embedding.Entry{ID: "S10_1678", Vector: e(1)}), shopUsers(), "S10_1678")
	fails("an empty user id", shopItems(), append(shopUsers(), embedding.Entry{ID: "", Vector: e(1)}), "empty")
	fails("a user id with NUL", shopItems(), append(shopUsers(), embedding.Entry{ID: "a\x00b", Vector: e(1)}), "NUL")
	fails("a user id that is not UTF-8", shopItems(), append(shopUsers(), embedding.Entry{ID: "caf\xe9", Vector: e(1)}), "UTF-8")
	fails("a duplicate string user id", shopItems(), append(shopUsers(), embedding.Entry{ID: "alice", Vector: e(0, 0, 0, 1)}), "alice")
	_, err := st.Load(ctx, "shop-v2", vector.FromSlice(shopItems()), nil, vector.WithIDTypes(vector.IDTypes{User: "uuid"}))
	wantErr(t, "an unknown id type", err, vector.ErrInvalid)
	checkShop(t, st, "shop-v1")
}

// testIDTypeSwap: versions of other id types replace each other whole,
// and a failed load of another type leaves the live one and its types.
func testIDTypeSwap(t *testing.T, st vector.Store) {
	ctx := context.Background()
	load(t, st, "lab", smallItems(), smallUsers())
	loadShop(t, st, "shop")
	checkShop(t, st, "shop")
	_, err := st.ItemVector(ctx, "S10_1678")
	wantErr(t, "a lab item after the shop's version", err, vector.ErrNotFound)

	// A failing lab load after the shop's: the shop's stays, typed.
	_, err = st.Load(ctx, "lab-bad", vector.FromSlice(smallItems()),
		vector.FromSlice(append(smallUsers(), embedding.Entry{ID: "00000000-a762", Vector: e(1)})))
	wantErr(t, "a string user id in a lab load", err, vector.ErrInvalid)
	if !strings.Contains(err.Error(), "00000000-a762") || !strings.Contains(err.Error(), "32-bit") {
		t.Fatalf("error %q should name the id and say it is not a 32-bit integer", err)
	}
	checkShop(t, st, "shop")

	info := load(t, st, "lab", smallItems(), smallUsers())
	if info.IDs != vector.LabIDs {
		t.Fatalf("lab version's id types %+v, want %+v", info.IDs, vector.LabIDs)
	}
	if v, err := st.Version(ctx); err != nil || v.IDs != vector.LabIDs {
		t.Fatalf("Version after the lab's load: %+v, %v", v, err)
	}
	u, err := st.UserVector(ctx, "0103")
	if err != nil || !slices.Equal(u, smallUsers()[0].Vector) {
		t.Fatalf("UserVector(0103) after the swap back = %v, %v; want user 103's", u, err)
	}
	_, err = st.UserVector(ctx, "alice")
	wantErr(t, "a shop user after the lab's version", err, vector.ErrNotFound)
	checkSmallSearch(t, st)
}
