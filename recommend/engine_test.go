package recommend_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

// exact returns the k items nearest to q by cosine, brute force, nearest
// first, skipping exclude.
func exact(items map[string][]float32, q []float32, k int, exclude ...string) []recommend.Item {
	var all []recommend.Item
	for id, v := range items {
		if slices.Contains(exclude, id) {
			continue
		}
		c := model.Cosine(q, v)
		all = append(all, recommend.Item{ID: id, Score: c, Distance: 1 - c})
	}
	slices.SortFunc(all, func(a, b recommend.Item) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID))
	})
	return all[:min(k, len(all))]
}

// sameItems compares ids in order and scores to float32 precision.
func sameItems(t *testing.T, what string, got, want []recommend.Item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d\ngot  %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if math.Abs(got[i].Score-want[i].Score) > 1e-5 || math.Abs(got[i].Score+got[i].Distance-1) > 1e-9 {
			t.Fatalf("%s: item %d is %+v, want %+v", what, i, got[i], want[i])
		}
		if got[i].ID != want[i].ID && math.Abs(got[i].Score-want[i].Score) > 1e-6 {
			t.Fatalf("%s: item %d is %s, want %s\ngot  %v\nwant %v", what, i, got[i].ID, want[i].ID, got, want)
		}
	}
}

func newEngine(t *testing.T, store vector.Reader, opts recommend.Options) *recommend.Engine {
	t.Helper()
	f := getFixture(t)
	e, err := recommend.New(f.model, store, f.popular, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestItemsForUser(t *testing.T) {
	f := getFixture(t)
	e := newEngine(t, f.store, recommend.Options{})
	ctx := context.Background()
	shoppers := []model.UserFeatures{
		{City: "City 3", Country: "USA", CreditLimit: 25000},     // like customers of the shop
		{City: "Tokyo", Country: "Japan", CreditLimit: 120000},   // a city and country never seen
		{City: " city 7 ", Country: "NORWAY ", CreditLimit: 1e9}, // messy text, huge credit
	}
	for _, u := range shoppers {
		emb := e.UserEmbedding(u)
		if len(emb) != f.model.Dim() {
			t.Fatalf("%+v: embedding of %d values", u, len(emb))
		}
		a, err := e.ItemsForUser(ctx, emb, 5)
		if err != nil {
			t.Fatalf("%+v: %v", u, err)
		}
		if a.Fallback || a.Reason != "" || a.ModelVersion != fixtureVersion {
			t.Errorf("%+v: answer %+v, want the model's", u, a)
		}
		sameItems(t, fmt.Sprintf("%+v", u), a.Items, exact(f.items, emb, 5))
		for i := 1; i < len(a.Items); i++ {
			if a.Items[i].Score > a.Items[i-1].Score {
				t.Errorf("%+v: scores not descending: %v", u, a.Items)
			}
		}
	}
	// Exclusions do not count towards k.
	emb := e.UserEmbedding(shoppers[0])
	top, _ := e.ItemsForUser(ctx, emb, 3)
	a, err := e.ItemsForUser(ctx, emb, 3, top.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	sameItems(t, "excluding the best", a.Items, exact(f.items, emb, 3, top.Items[0].ID))
	// More than the catalogue: all of it.
	a, err = e.ItemsForUser(ctx, emb, 1000)
	if err != nil || len(a.Items) != len(f.items) {
		t.Errorf("k = 1000: %d items, %v; want all %d", len(a.Items), err, len(f.items))
	}
}

func TestSimilarItems(t *testing.T) {
	f := getFixture(t)
	e := newEngine(t, f.store, recommend.Options{})
	ctx := context.Background()
	for _, code := range []string{"S10_0000", "S10_0007", "S10_0023"} {
		a, err := e.SimilarItems(ctx, code, 4)
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if a.Fallback {
			t.Errorf("%s: fallback %+v", code, a)
		}
		for i, it := range a.Items {
			if it.ID == code {
				t.Errorf("%s: the item itself is among its similar items: %v", code, a.Items)
			}
			if i > 0 && it.Distance < a.Items[i-1].Distance {
				t.Errorf("%s: distances not ascending: %v", code, a.Items)
			}
		}
		sameItems(t, code, a.Items, exact(f.items, f.items[code], 4, code))
	}
	_, err := e.SimilarItems(ctx, "NOPE_1", 4)
	if !errors.Is(err, recommend.ErrUnknownItem) || !errors.Is(err, vector.ErrNotFound) {
		t.Errorf("unknown item: %v, want ErrUnknownItem wrapping vector.ErrNotFound", err)
	}
}

func TestBadQuestions(t *testing.T) {
	f := getFixture(t)
	e := newEngine(t, f.store, recommend.Options{MaxK: 50})
	ctx := context.Background()
	emb := e.UserEmbedding(model.UserFeatures{City: "City 1", Country: "USA", CreditLimit: 1})
	nan := slices.Clone(emb)
	nan[3] = float32(math.NaN())
	for _, tc := range []struct {
		name string
		call func() error
		dim  bool
	}{
		{"k = 0", func() error { _, err := e.ItemsForUser(ctx, emb, 0); return err }, false},
		{"k = -1", func() error { _, err := e.ItemsForUser(ctx, emb, -1); return err }, false},
		{"k above MaxK", func() error { _, err := e.ItemsForUser(ctx, emb, 51); return err }, false},
		{"short embedding", func() error { _, err := e.ItemsForUser(ctx, emb[:5], 3); return err }, true},
		{"no embedding", func() error { _, err := e.ItemsForUser(ctx, nil, 3); return err }, true},
		{"NaN component", func() error { _, err := e.ItemsForUser(ctx, nan, 3); return err }, false},
		{"similar k = 0", func() error { _, err := e.SimilarItems(ctx, "S10_0001", 0); return err }, false},
		{"similar k above MaxK", func() error { _, err := e.SimilarItems(ctx, "S10_0001", 1000); return err }, false},
		{"empty product code", func() error { _, err := e.SimilarItems(ctx, "", 3); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, recommend.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if errors.Is(err, recommend.ErrDimension) != tc.dim {
				t.Errorf("ErrDimension = %v, want %v: %v", !tc.dim, tc.dim, err)
			}
		})
	}
}

func TestDimensionMismatch(t *testing.T) {
	f := getFixture(t)
	st, err := local.Open(context.Background(), t.TempDir(), local.Options{Dim: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = recommend.New(f.model, st, nil, recommend.Options{})
	if !errors.Is(err, recommend.ErrDimension) || !errors.Is(err, vector.ErrDimension) {
		t.Fatalf("New with a 16-dimensional store: %v, want ErrDimension", err)
	}
	t.Log(err)
}

// TestFallback breaks the store in each way the engine must survive, and
// checks that the answer is the popular products, saying why.
func TestFallback(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	pop := f.popular
	closed, err := loadStore(ctx, t.TempDir(), f.bucket, fixtureVersion, fixtureVersion)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	empty, err := local.Open(ctx, t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	renamed, err := loadStore(ctx, t.TempDir(), f.bucket, fixtureVersion, "v2")
	if err != nil {
		t.Fatal(err)
	}
	defer renamed.Close()

	for _, tc := range []struct {
		name   string
		store  vector.Reader
		opts   recommend.Options
		reason recommend.Reason
	}{
		{"closed store", closed, recommend.Options{}, recommend.ReasonStoreUnavailable},
		{"empty store", empty, recommend.Options{}, recommend.ReasonStoreEmpty},
		{"store down", &brokenStore{Reader: f.store, err: fmt.Errorf("connect: %w", vector.ErrUnavailable)}, recommend.Options{}, recommend.ReasonStoreUnavailable},
		{"store failing", &brokenStore{Reader: f.store, err: errors.New("disk on fire")}, recommend.Options{}, recommend.ReasonStoreError},
		{"slow store", &brokenStore{Reader: f.store, block: true}, recommend.Options{SearchTimeout: 20 * time.Millisecond}, recommend.ReasonStoreTimeout},
		{"other version", renamed, recommend.Options{}, recommend.ReasonVersionMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := recommend.New(f.model, tc.store, pop, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			emb := e.UserEmbedding(model.UserFeatures{City: "Tokyo", Country: "Japan", CreditLimit: 5e4})
			a, err := e.ItemsForUser(ctx, emb, 5)
			if err != nil {
				t.Fatal(err)
			}
			checkFallback(t, a, tc.reason, pop, 5, "")
			a, err = e.SimilarItems(ctx, pop[0].ProductCode, 5)
			if err != nil {
				t.Fatal(err)
			}
			checkFallback(t, a, tc.reason, pop, 5, pop[0].ProductCode)
			if st := e.Status(ctx); st.Err == nil {
				t.Errorf("status: ready, want an error")
			}

			// Without a fallback, the same failure is an error.
			opts := tc.opts
			opts.NoFallback = true
			e, err = recommend.New(f.model, tc.store, pop, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.ItemsForUser(ctx, emb, 5); !errors.Is(err, recommend.ErrUnavailable) {
				t.Errorf("NoFallback: %v, want ErrUnavailable", err)
			}
			e, err = recommend.New(f.model, tc.store, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.SimilarItems(ctx, "S10_0001", 5); !errors.Is(err, recommend.ErrUnavailable) {
				t.Errorf("no popular products: %v, want ErrUnavailable", err)
			}
		})
	}

	t.Run("allowed version mismatch", func(t *testing.T) {
		e, err := recommend.New(f.model, renamed, pop, recommend.Options{AllowVersionMismatch: true})
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.SimilarItems(ctx, "S10_0003", 3)
		if err != nil || a.Fallback {
			t.Errorf("got %+v, %v; want the model's answer", a, err)
		}
		if st := e.Status(ctx); st.Err != nil || st.StoreVersion != "v2" {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("zero embedding", func(t *testing.T) {
		e, _ := recommend.New(f.model, f.store, pop, recommend.Options{})
		a, err := e.ItemsForUser(ctx, make([]float32, f.model.Dim()), 4)
		if err != nil {
			t.Fatal(err)
		}
		checkFallback(t, a, recommend.ReasonNoEmbedding, pop, 4, "")
	})

	t.Run("caller gives up", func(t *testing.T) {
		e, _ := recommend.New(f.model, &brokenStore{Reader: f.store, block: true}, pop, recommend.Options{})
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		a, err := e.ItemsForUser(cctx, e.UserEmbedding(model.UserFeatures{}), 4)
		if !errors.Is(err, context.DeadlineExceeded) || len(a.Items) != 0 {
			t.Errorf("got %+v, %v; want the caller's deadline, no fallback", a, err)
		}
	})
}

func checkFallback(t *testing.T, a recommend.Answer, reason recommend.Reason, pop []recommend.Popular, k int, excluded string) {
	t.Helper()
	if !a.Fallback || a.Reason != reason || a.Detail == "" {
		t.Fatalf("answer %+v: want a fallback for %s with its detail", a, reason)
	}
	var want []string
	for _, p := range pop {
		if p.ProductCode != excluded && len(want) < k {
			want = append(want, p.ProductCode)
		}
	}
	var got []string
	for i, it := range a.Items {
		got = append(got, it.ID)
		if i > 0 && it.Score > a.Items[i-1].Score || it.Score < 0 || it.Score > 1 || it.Distance != 1-it.Score {
			t.Errorf("fallback scores: %v", a.Items)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("fallback items %v, want the most popular %v", got, want)
	}
}

// brokenStore is a vector.Reader that fails every call with err, or, with
// block, blocks until the call's context is done. It counts batch calls.
type brokenStore struct {
	vector.Reader
	err     error
	block   bool
	batches atomic.Int32
	calls   atomic.Int32
}

func (b *brokenStore) fail(ctx context.Context) error {
	b.calls.Add(1)
	if b.block {
		<-ctx.Done()
		return fmt.Errorf("store call: %w", ctx.Err())
	}
	return b.err
}

func (b *brokenStore) Version(ctx context.Context) (vector.Info, error) {
	if err := b.fail(ctx); err != nil {
		return vector.Info{}, err
	}
	return b.Reader.Version(ctx)
}

func (b *brokenStore) SearchItems(ctx context.Context, q []float32, k int, exclude ...string) ([]vector.Hit, error) {
	if err := b.fail(ctx); err != nil {
		return nil, err
	}
	return b.Reader.SearchItems(ctx, q, k, exclude...)
}

func (b *brokenStore) SearchItemsBatch(ctx context.Context, qs []vector.Query) ([][]vector.Hit, error) {
	b.batches.Add(1)
	if err := b.fail(ctx); err != nil {
		return nil, err
	}
	return b.Reader.SearchItemsBatch(ctx, qs)
}

func (b *brokenStore) ItemVector(ctx context.Context, id string) ([]float32, error) {
	if err := b.fail(ctx); err != nil {
		return nil, err
	}
	return b.Reader.ItemVector(ctx, id)
}

func TestRecommendBatch(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	counting := &brokenStore{Reader: f.store}
	e := newEngine(t, counting, recommend.Options{MaxK: 100})
	known := model.UserFeatures{City: "City 2", Country: "Norway", CreditLimit: 40000}
	unseen := model.UserFeatures{City: "Lagos", Country: "Nigeria", CreditLimit: 10000}
	reqs := []recommend.Request{
		{User: known, K: 5, SimilarTo: "S10_0004", SimilarK: 3},
		{User: unseen, K: 3, Exclude: []string{"S10_0001"}},
		{User: known, SimilarTo: "S10_0004", SimilarK: 2}, // same item again, no user question
		{User: unseen, K: 4, SimilarTo: "NOPE", SimilarK: 3},
		{User: known, K: -2, SimilarTo: "S10_0005", SimilarK: 1000},
		{Embedding: make([]float32, f.model.Dim()), K: 2},
		{Embedding: []float32{1, 2}, K: 2},
	}
	res := e.RecommendBatch(ctx, reqs)
	if len(res) != len(reqs) {
		t.Fatalf("%d results for %d requests", len(res), len(reqs))
	}
	if n := counting.batches.Load(); n != 1 {
		t.Errorf("%d batch searches, want 1 for the whole batch", n)
	}
	// Each answer is the one the single-question methods give.
	for i, r := range reqs {
		got := res[i]
		if r.K > 0 && r.K <= 100 && r.Embedding == nil {
			emb := e.UserEmbedding(r.User)
			want, err := e.ItemsForUser(ctx, emb, r.K, r.Exclude...)
			if err != nil || got.ItemsErr != nil {
				t.Fatalf("request %d: %v / %v", i, err, got.ItemsErr)
			}
			sameItems(t, fmt.Sprintf("request %d items", i), got.Items.Items, want.Items)
			if !slices.Equal(got.Embedding, emb) {
				t.Errorf("request %d: embedding differs", i)
			}
		}
		if r.SimilarTo == "S10_0004" {
			want, _ := e.SimilarItems(ctx, r.SimilarTo, r.SimilarK)
			if got.SimilarErr != nil {
				t.Fatalf("request %d: %v", i, got.SimilarErr)
			}
			sameItems(t, fmt.Sprintf("request %d similar", i), got.Similar.Items, want.Items)
		}
	}
	if res[2].ItemsErr != nil || res[2].Items.Items != nil || res[2].Embedding != nil {
		t.Errorf("request without K: %+v", res[2])
	}
	if !errors.Is(res[3].SimilarErr, recommend.ErrUnknownItem) || res[3].ItemsErr != nil || len(res[3].Items.Items) != 4 {
		t.Errorf("unknown similar item: %+v", res[3])
	}
	if !errors.Is(res[4].ItemsErr, recommend.ErrInvalid) || !errors.Is(res[4].SimilarErr, recommend.ErrInvalid) {
		t.Errorf("bad ks: %v / %v", res[4].ItemsErr, res[4].SimilarErr)
	}
	if res[5].ItemsErr != nil || !res[5].Items.Fallback || res[5].Items.Reason != recommend.ReasonNoEmbedding {
		t.Errorf("zero embedding: %+v", res[5])
	}
	if !errors.Is(res[6].ItemsErr, recommend.ErrDimension) {
		t.Errorf("short embedding: %v", res[6].ItemsErr)
	}

	// A store that goes down: every question falls back, with one call
	// to find out.
	down := &brokenStore{Reader: f.store, err: fmt.Errorf("dial: %w", vector.ErrUnavailable)}
	e = newEngine(t, down, recommend.Options{})
	res = e.RecommendBatch(ctx, reqs[:2])
	for i, r := range res {
		if r.ItemsErr != nil || !r.Items.Fallback || r.Items.Reason != recommend.ReasonStoreUnavailable {
			t.Errorf("store down, request %d items: %+v", i, r)
		}
	}
	if !res[0].Similar.Fallback || slices.ContainsFunc(res[0].Similar.Items, func(it recommend.Item) bool { return it.ID == "S10_0004" }) {
		t.Errorf("store down, similar: %+v", res[0].Similar)
	}
	if n := down.calls.Load(); n != 1 {
		t.Errorf("store down: %d calls, want 1", n)
	}

	// A caller that gives up gets its context's error everywhere.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for i, r := range newEngine(t, &brokenStore{Reader: f.store, block: true}, recommend.Options{}).RecommendBatch(cctx, reqs[:2]) {
		if !errors.Is(r.ItemsErr, context.Canceled) {
			t.Errorf("cancelled, request %d: %+v", i, r)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	f := getFixture(t)
	e := newEngine(t, f.store, recommend.Options{VersionCheckInterval: time.Millisecond})
	ctx := context.Background()
	emb := e.UserEmbedding(model.UserFeatures{City: "City 4", Country: "Sweden", CreditLimit: 30000})
	want, err := e.ItemsForUser(ctx, emb, 5)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				switch (g + i) % 3 {
				case 0:
					a, err := e.ItemsForUser(ctx, emb, 5)
					if err != nil || a.Fallback || a.Items[0].ID != want.Items[0].ID {
						t.Errorf("concurrent ItemsForUser: %+v, %v", a, err)
						return
					}
				case 1:
					if _, err := e.SimilarItems(ctx, "S10_0002", 3); err != nil {
						t.Error(err)
						return
					}
				default:
					e.RecommendBatch(ctx, []recommend.Request{{User: model.UserFeatures{City: "x"}, K: 2, SimilarTo: "S10_0009", SimilarK: 2}})
					e.Status(ctx)
				}
			}
		})
	}
	wg.Wait()
}

// A product the store does not hold gets similar items when the request
// asks for a fallback: from its catalogue features when the catalogue lists
// it, else the popular products.
func TestRecommendBatchUnknownItemFallback(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	// S99_0001 is a catalogue product nobody rated: absent from the model
	// and the store. Its features are those of a rated Ships model.
	feat := model.ItemFeatures{ProductLine: "Ships", ProductScale: "1:24", QuantityInStock: 1100, BuyPrice: 40, MSRP: 80}
	cat := recommend.Catalog{"S99_0001": feat}
	counting := &brokenStore{Reader: f.store}
	e := newEngine(t, counting, recommend.Options{Catalog: cat})
	u := model.UserFeatures{City: "City 2", Country: "Norway", CreditLimit: 40000}
	reqs := []recommend.Request{
		{User: u, K: 3, SimilarTo: "S99_0001", SimilarK: 4, UnknownItemFallback: true},
		{User: u, K: 3, SimilarTo: "NOWHERE", SimilarK: 4, UnknownItemFallback: true},
		{User: u, K: 3, SimilarTo: "S99_0001", SimilarK: 4}, // no fallback asked
		{User: u, K: 3, SimilarTo: "S10_0004", SimilarK: 4, UnknownItemFallback: true},
	}
	res := e.RecommendBatch(ctx, reqs)
	if n := counting.batches.Load(); n != 1 {
		t.Errorf("%d batch searches, want 1 for the whole batch", n)
	}

	byFeatures := res[0]
	if byFeatures.SimilarErr != nil || !byFeatures.Similar.Fallback || byFeatures.Similar.Reason != recommend.ReasonItemFeatures {
		t.Fatalf("catalogue product: %+v", byFeatures)
	}
	sameItems(t, "catalogue product", byFeatures.Similar.Items, exact(f.items, f.model.EmbedItem(feat), 4, "S99_0001"))
	if !strings.Contains(byFeatures.Similar.Detail, "S99_0001") {
		t.Errorf("detail does not name the product: %q", byFeatures.Similar.Detail)
	}

	nowhere := res[1]
	if nowhere.SimilarErr != nil || !nowhere.Similar.Fallback || nowhere.Similar.Reason != recommend.ReasonItemUnknown {
		t.Fatalf("product in no catalogue: %+v", nowhere)
	}
	var popular []string
	for _, p := range f.popular[:4] {
		popular = append(popular, p.ProductCode)
	}
	var got []string
	for _, it := range nowhere.Similar.Items {
		got = append(got, it.ID)
	}
	if !slices.Equal(got, popular) {
		t.Errorf("product in no catalogue: similar %v, want the popular %v", got, popular)
	}

	if !errors.Is(res[2].SimilarErr, recommend.ErrUnknownItem) {
		t.Errorf("without UnknownItemFallback: %+v, want ErrUnknownItem", res[2])
	}
	if res[3].SimilarErr != nil || res[3].Similar.Fallback || len(res[3].Similar.Items) != 4 {
		t.Errorf("a stored product is answered from its vector: %+v", res[3])
	}

	// NoFallback keeps the error for a product in no catalogue, and still
	// answers from the catalogue's features.
	e = newEngine(t, f.store, recommend.Options{Catalog: cat, NoFallback: true})
	res = e.RecommendBatch(ctx, reqs[:2])
	if res[0].SimilarErr != nil || res[0].Similar.Reason != recommend.ReasonItemFeatures {
		t.Errorf("NoFallback, catalogue product: %+v", res[0])
	}
	if !errors.Is(res[1].SimilarErr, recommend.ErrUnknownItem) {
		t.Errorf("NoFallback, product in no catalogue: %+v", res[1])
	}
}

// countingStore counts the questions a vector.Reader is asked.
type countingStore struct {
	vector.Reader
	batches, queries, itemVectors atomic.Int32
}

func (c *countingStore) SearchItemsBatch(ctx context.Context, qs []vector.Query) ([][]vector.Hit, error) {
	c.batches.Add(1)
	c.queries.Add(int32(len(qs)))
	return c.Reader.SearchItemsBatch(ctx, qs)
}

func (c *countingStore) ItemVector(ctx context.Context, id string) ([]float32, error) {
	c.itemVectors.Add(1)
	return c.Reader.ItemVector(ctx, id)
}

// TestRecommendBatchAsksOnce: identical questions of a batch are one
// search; a batch asked again is answered from the engine's caches, with
// the same answers and without asking the store; after Close the caches
// answer nothing.
func TestRecommendBatchAsksOnce(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	counting := &countingStore{Reader: f.store}
	e := newEngine(t, counting, recommend.Options{})
	known := model.UserFeatures{City: "City 2", Country: "Norway", CreditLimit: 40000}
	unseen := model.UserFeatures{City: "Lagos", Country: "Nigeria", CreditLimit: 10000}
	reqs := []recommend.Request{
		{User: known, K: 5, SimilarTo: "S10_0004", SimilarK: 3},
		{User: known, K: 5, SimilarTo: "S10_0004", SimilarK: 3},
		{User: unseen, K: 5, SimilarTo: "S10_0004", SimilarK: 3},
		{User: unseen, K: 5, Exclude: []string{"S10_0001"}}, // exclusions: its own search
	}
	first := e.RecommendBatch(ctx, reqs)
	if b, q, v := counting.batches.Load(), counting.queries.Load(), counting.itemVectors.Load(); b != 1 || q != 4 || v != 1 {
		t.Errorf("first batch: %d batch calls, %d queries, %d item vector lookups; want 1, 4 (two users, one product, one with exclusions), 1", b, q, v)
	}
	for i, r := range first {
		emb := e.UserEmbedding(reqs[i].User)
		want, err := e.ItemsForUser(ctx, emb, reqs[i].K, reqs[i].Exclude...)
		if err != nil || r.ItemsErr != nil {
			t.Fatalf("request %d: %v / %v", i, err, r.ItemsErr)
		}
		sameItems(t, fmt.Sprintf("request %d items", i), r.Items.Items, want.Items)
		if !slices.Equal(r.Embedding, emb) {
			t.Errorf("request %d: embedding differs", i)
		}
	}
	counting.batches.Store(0)
	counting.queries.Store(0)
	counting.itemVectors.Store(0)
	again := e.RecommendBatch(ctx, reqs)
	if b, q, v := counting.batches.Load(), counting.queries.Load(), counting.itemVectors.Load(); b != 1 || q != 1 || v != 0 {
		t.Errorf("same batch again: %d batch calls, %d queries, %d item vector lookups; want 1, 1 (the one with exclusions), 0", b, q, v)
	}
	for i := range reqs {
		sameItems(t, fmt.Sprintf("request %d items again", i), again[i].Items.Items, first[i].Items.Items)
		sameItems(t, fmt.Sprintf("request %d similar again", i), again[i].Similar.Items, first[i].Similar.Items)
	}
	// The answers are the caller's: changing one changes no other.
	again[0].Items.Items[0].ID = "changed"
	if again[1].Items.Items[0].ID == "changed" || first[0].Items.Items[0].ID == "changed" {
		t.Error("answers share their items")
	}

	e.Close()
	counting.queries.Store(0)
	e.RecommendBatch(ctx, reqs[:1])
	if q := counting.queries.Load(); q != 2 {
		t.Errorf("after Close: %d queries, want 2 (the caches answer nothing)", q)
	}
}

// TestRecommendBatchKnownCustomer: a shopper whose customerNumber the
// model was trained on is embedded with its learned id vector (what
// user_embeddings.csv publishes for it); an id the model does not know
// embeds from the features alone, like the API's /user_embeddings.
func TestRecommendBatchKnownCustomer(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	id := fmt.Sprint(f.recs[0].CustomerNumber)
	if !f.model.KnowsUser(id) {
		t.Fatalf("the fixture's model has no id vector for customer %s", id)
	}
	feats := model.UserFeatures{City: f.recs[0].City, Country: f.recs[0].Country, CreditLimit: float64(f.recs[0].CreditLimit) / 100}
	e := newEngine(t, f.store, recommend.Options{})
	res := e.RecommendBatch(ctx, []recommend.Request{
		{User: feats, UserID: id, K: 3},
		{User: feats, UserID: "999999999", K: 3},
		{User: feats, K: 3},
	})
	for i, r := range res {
		if r.ItemsErr != nil {
			t.Fatalf("request %d: %v", i, r.ItemsErr)
		}
	}
	if want := f.model.EmbedKnownUser(id, feats); !slices.Equal(res[0].Embedding, want) {
		t.Errorf("known customer %s: embedding is not the model's id-aware one", id)
	}
	if slices.Equal(res[0].Embedding, f.model.EmbedUser(feats)) {
		t.Errorf("known customer %s: embedded from features alone", id)
	}
	features := f.model.EmbedUser(feats)
	if !slices.Equal(res[1].Embedding, features) || !slices.Equal(res[2].Embedding, features) {
		t.Errorf("unknown or missing id: embedding is not the features' alone")
	}
}
