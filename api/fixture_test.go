package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/api"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/sample"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

// fixture is the classicmodels shop (package sample) trained into a model
// saved as version v1, its item embeddings in an embedded vector store, and
// the popular products of its ratings.
type fixture struct {
	dir       string
	model     *model.Model
	store     *local.Store
	popular   []recommend.Popular
	customers []sample.Customer
	products  []string // codes in the store
}

const version = "v1"

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.store.Close()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func getFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() { shared, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return shared
}

func buildFixture() (*fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "api-test-")
	if err != nil {
		return nil, err
	}
	f := &fixture{dir: dir}
	customers, err := sample.Customers()
	if err != nil {
		return nil, err
	}
	products, err := sample.Products()
	if err != nil {
		return nil, err
	}
	ratings, err := sample.Ratings()
	if err != nil {
		return nil, err
	}
	f.customers = customers
	users := map[int]model.UserFeatures{}
	for _, c := range customers {
		users[c.Number] = model.UserFeatures{City: c.City, Country: c.Country, CreditLimit: c.CreditLimit}
	}
	items := map[string]model.ItemFeatures{}
	for _, p := range products {
		items[p.Code] = model.ItemFeatures{ProductLine: p.Line, ProductScale: p.Scale,
			QuantityInStock: float64(p.QuantityInStock), BuyPrice: p.BuyPrice, MSRP: p.MSRP}
	}
	d := model.NewDataset()
	for _, r := range ratings {
		err := d.Add(model.Rating{UserID: fmt.Sprint(r.CustomerNumber), User: users[r.CustomerNumber],
			ItemID: r.ProductCode, Item: items[r.ProductCode], Value: float64(r.ProductRating)})
		if err != nil {
			return nil, err
		}
	}
	res, err := model.Train(ctx, d, model.Config{Seed: 1, Epochs: 4, Workers: 1})
	if err != nil {
		return nil, err
	}
	b, err := lakefile.Open(dir + "/lake")
	if err != nil {
		return nil, err
	}
	if err := res.Save(ctx, b, version); err != nil {
		return nil, err
	}
	if f.model, err = model.Load(ctx, b, version); err != nil {
		return nil, err
	}
	entries := func(file string) vector.Entries {
		return vector.FromCSV(func() (io.ReadCloser, error) { return b.Get(ctx, model.Key(version, file)) })
	}
	if f.store, err = local.Open(ctx, dir+"/vectors", local.Options{}); err != nil {
		return nil, err
	}
	if _, err := f.store.Load(ctx, version, entries(model.ItemEmbeddingsFile), entries(model.UserEmbeddingsFile)); err != nil {
		return nil, err
	}
	for e, err := range entries(model.ItemEmbeddingsFile) {
		if err != nil {
			return nil, err
		}
		f.products = append(f.products, e.ID)
	}
	f.popular = recommend.CountPopular(func(yield func(string, int) bool) {
		for _, r := range ratings {
			if !yield(r.ProductCode, r.ProductRating) {
				return
			}
		}
	})
	return f, nil
}

// engine returns an engine over store (the fixture's when nil).
func (f *fixture) engine(t testing.TB, store vector.Reader, opts recommend.Options) *recommend.Engine {
	t.Helper()
	if store == nil {
		store = f.store
	}
	e, err := recommend.New(f.model, store, f.popular, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testServer runs an api.Server with engine e (none when nil) behind
// httptest. Its log goes to logs.
type testServer struct {
	*httptest.Server
	api  *api.Server
	reg  *prometheus.Registry
	logs *syncBuffer
}

func newServer(t testing.TB, e *recommend.Engine, opts api.Options) *testServer {
	t.Helper()
	ts := &testServer{reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	opts.Registry = ts.reg
	opts.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if e != nil {
		srv.SetEngine(e)
	}
	ts.api = srv
	ts.Server = httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// response is one answer, its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// errorOf decodes a JSON error body.
func (r response) errorOf(t testing.TB) (code, field, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s (%v)", r, err)
	}
	return e.Error.Code, e.Error.Field, e.Error.Message
}

func (ts *testServer) do(t testing.TB, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, r, err)
	}
	return v
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// slowStore delays every call by d, then answers as its Reader does;
// err, when set, is returned instead.
type slowStore struct {
	vector.Reader
	d   time.Duration
	err error
}

func (s *slowStore) wait(ctx context.Context) error {
	select {
	case <-time.After(s.d):
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowStore) Version(ctx context.Context) (vector.Info, error) {
	if err := s.wait(ctx); err != nil {
		return vector.Info{}, err
	}
	return s.Reader.Version(ctx)
}

func (s *slowStore) SearchItems(ctx context.Context, q []float32, k int, ex ...string) ([]vector.Hit, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Reader.SearchItems(ctx, q, k, ex...)
}

func (s *slowStore) SearchItemsBatch(ctx context.Context, qs []vector.Query) ([][]vector.Hit, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Reader.SearchItemsBatch(ctx, qs)
}

func (s *slowStore) ItemVector(ctx context.Context, id string) ([]float32, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Reader.ItemVector(ctx, id)
}
