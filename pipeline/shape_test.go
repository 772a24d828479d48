package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/sink"
	"github.com/recoflow/recoflow/stream"
	streamnats "github.com/recoflow/recoflow/stream/nats"
)

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedLake lake.Bucket
	sharedEng  *recommend.Engine
	sharedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEng != nil {
		sharedEng.Close()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// prepareShared runs the demo's batch stages once for the tests that only
// read what they make, and opens the engine.
func prepareShared(t testing.TB) (lake.Bucket, *recommend.Engine) {
	t.Helper()
	sharedOnce.Do(func() {
		ctx := context.Background()
		if sharedDir, sharedErr = os.MkdirTemp("", "pipeline-test-"); sharedErr != nil {
			return
		}
		var out strings.Builder
		if err := cli.Run(ctx, []string{"demo", "--batch-only", "--dir", sharedDir, "--log-level", "warn"}, cli.Options{Stdout: &out, Stderr: &out}); err != nil {
			sharedErr = fmt.Errorf("demo: %v\n%s", err, out.String())
			return
		}
		if sharedLake, sharedErr = connect.Lake(ctx, "file://"+filepath.Join(sharedDir, "lake"), connect.LakeOptions{}); sharedErr != nil {
			return
		}
		sharedEng, sharedErr = recommend.Open(ctx, sharedLake, "file://"+filepath.Join(sharedDir, "vectors"), "", recommend.Options{})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedLake, sharedEng
}

// labKeys are the keys of every output record, in the lab's order.
var labKeys = []string{"session_id", "customer_number", "city", "country", "credit_limit", "browse_history", "recommended_items", "similar_items"}

// topKeys returns the keys of a JSON object in the order written.
func topKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("record is not an object: %s", data)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v in %s", err, data)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%v in %s", err, data)
		}
	}
	return keys
}

// unratedProduct is a catalogue product that no model version holds (the
// demo's S18_3233 is one: a product nobody ordered, so nobody rated); its
// features are S18_3233's.
const unratedProduct = "S99_0001"

// shapeEvents are lab records whose browsed item is a product the store
// holds, a catalogue product it does not hold, a product in no catalogue,
// and none at all.
func shapeEvents() map[string]string {
	ev := func(session, history string) string {
		return fmt.Sprintf(`{"session_id":%q,"customer_number":478,"city":"Pasadena","country":"USA","credit_limit":59811,"browse_history":[%s]}`, session, history)
	}
	return map[string]string{
		"stored":    ev("stored", `{"product_code":"S10_1678","quantity":"7","in_shopping_cart":true}`),
		"unrated":   ev("unrated", `{"product_code":"S10_1678","quantity":"1","in_shopping_cart":false},{"product_code":"`+unratedProduct+`","quantity":2,"in_shopping_cart":true}`),
		"unknown":   ev("unknown", `{"product_code":"NOWHERE_1","quantity":"1","in_shopping_cart":true}`),
		"nohistory": ev("nohistory", ``),
	}
}

// catalogEngine is the demo's engine with a catalogue that lists
// unratedProduct.
func catalogEngine(t *testing.T, e *recommend.Engine) *recommend.Engine {
	t.Helper()
	cat := recommend.Catalog{unratedProduct: model.ItemFeatures{ProductLine: "Classic Cars", ProductScale: "1:18", QuantityInStock: 7733, BuyPrice: 57.01, MSRP: 107.57}}
	ce, err := recommend.New(e.Model(), e.Store(), e.Popular(), recommend.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	return ce
}

type similarOut struct {
	ProductCode  *string `json:"product_code"`
	SimilarItems []struct {
		ID       string   `json:"id"`
		Distance *float64 `json:"distance"`
	} `json:"similar_items"`
}

func TestRecordShape(t *testing.T) {
	_, demo := prepareShared(t)
	e := catalogEngine(t, demo)
	events := shapeEvents()
	var msgs []stream.Message
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range events {
			if !yield(id) {
				return
			}
		}
	}) {
		msgs = append(msgs, stream.Message{ID: id, Data: []byte(events[id]), Time: time.Now()})
	}
	for _, annotate := range []bool{false, true} {
		t.Run(fmt.Sprintf("annotate=%v", annotate), func(t *testing.T) {
			tr, err := pipeline.NewTransformer(e, pipeline.TransformOptions{Annotate: annotate})
			if err != nil {
				t.Fatal(err)
			}
			recs, errs, err := tr.Transform(context.Background(), msgs)
			if err != nil || len(errs) > 0 || len(recs) != len(msgs) {
				t.Fatalf("Transform: %d records, errors %v, err %v", len(recs), errs, err)
			}
			wantFallback := map[string]string{"unrated": "item_features", "unknown": "item_unknown"}
			wantCode := map[string]string{"stored": "S10_1678", "unrated": unratedProduct, "unknown": "NOWHERE_1", "nohistory": ""}
			wantSimilar := map[string]int{"stored": 5, "unrated": 5, "unknown": 5, "nohistory": 0}
			for _, r := range recs {
				keys := topKeys(t, r.Data)
				want := labKeys
				if annotate && wantFallback[r.ID] != "" {
					want = append(slices.Clone(labKeys), pipeline.FieldFallback)
				}
				if !slices.Equal(keys, want) {
					t.Errorf("%s: keys %v, want %v\n%s", r.ID, keys, want, r.Data)
				}
				var out struct {
					Recommended []struct {
						ID    string   `json:"id"`
						Score *float64 `json:"score"`
					} `json:"recommended_items"`
					Similar  *similarOut       `json:"similar_items"`
					Fallback map[string]string `json:"recommendation_fallback"`
				}
				if err := json.Unmarshal(r.Data, &out); err != nil {
					t.Fatal(err)
				}
				if len(out.Recommended) != 10 || out.Recommended[0].ID == "" || out.Recommended[0].Score == nil {
					t.Errorf("%s: recommended_items %s", r.ID, r.Data)
				}
				if out.Similar == nil || out.Similar.ProductCode == nil || out.Similar.SimilarItems == nil {
					t.Fatalf("%s: similar_items is not {product_code, similar_items: […]}: %s", r.ID, r.Data)
				}
				if *out.Similar.ProductCode != wantCode[r.ID] || len(out.Similar.SimilarItems) != wantSimilar[r.ID] {
					t.Errorf("%s: similar_items for %q with %d items, want %q with %d: %s", r.ID, *out.Similar.ProductCode,
						len(out.Similar.SimilarItems), wantCode[r.ID], wantSimilar[r.ID], r.Data)
				}
				for _, it := range out.Similar.SimilarItems {
					if it.ID == "" || it.Distance == nil || it.ID == wantCode[r.ID] {
						t.Errorf("%s: similar item %+v", r.ID, it)
					}
				}
				if annotate && wantFallback[r.ID] != "" {
					if got := out.Fallback["similar_items"]; got != wantFallback[r.ID] {
						t.Errorf("%s: recommendation_fallback %v, want similar_items: %s", r.ID, out.Fallback, wantFallback[r.ID])
					}
				}
				if strings.Contains(string(r.Data), "null") {
					t.Errorf("%s: null in %s", r.ID, r.Data)
				}
			}
		})
	}
}

// Fallbacks are counted by part and reason, and the latency metrics say
// what they measure: an event that waited an hour in the stream shows in
// the publish-to-compute histogram, not in the compute one.
func TestRunMetrics(t *testing.T) {
	_, demo := prepareShared(t)
	e := catalogEngine(t, demo)
	events := shapeEvents()
	var msgs []stream.Message
	queued := time.Now().Add(-time.Hour) // a backlog read after a restart
	for _, id := range []string{"stored", "unrated", "unknown", "nohistory"} {
		msgs = append(msgs, stream.Message{ID: "mem:" + id, Data: []byte(events[id]), Time: queued})
	}
	src := newMemSource(msgs, 10)
	tr, err := pipeline.NewTransformer(e, pipeline.TransformOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snk := newDiscardSink()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, src, tr, snk, pipeline.Options{Registerer: reg}) }()
	select {
	case <-src.allAckd:
	case <-time.After(60 * time.Second):
		t.Fatal("not every event was acknowledged within 60 s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	counts := map[string]uint64{}
	fallbacks := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				sums[mf.GetName()], counts[mf.GetName()] = h.GetSampleSum(), h.GetSampleCount()
			}
			if mf.GetName() == pipeline.MetricFallbacks {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				fallbacks[strings.Join(labels, ",")] = m.GetCounter().GetValue()
			}
		}
	}
	wantFallbacks := map[string]float64{"part=similar_items,reason=item_features": 1, "part=similar_items,reason=item_unknown": 1}
	if !maps.Equal(fallbacks, wantFallbacks) {
		t.Errorf("%s: %v, want %v", pipeline.MetricFallbacks, fallbacks, wantFallbacks)
	}
	if counts[pipeline.MetricPublishToCompute] != 4 || sums[pipeline.MetricPublishToCompute] < 4*3600 {
		t.Errorf("%s: %d samples summing %.0f s, want 4 of at least an hour each", pipeline.MetricPublishToCompute,
			counts[pipeline.MetricPublishToCompute], sums[pipeline.MetricPublishToCompute])
	}
	if counts[pipeline.MetricCompute] < 1 || sums[pipeline.MetricCompute] >= 3600 {
		t.Errorf("%s: %d samples summing %.0f s, want the computation only, without the hour in the stream", pipeline.MetricCompute,
			counts[pipeline.MetricCompute], sums[pipeline.MetricCompute])
	}
	if _, ok := counts["recoflow_stream_compute_latency_seconds"]; ok {
		t.Error("the old name, which called the queueing time compute latency, is still registered")
	}
}

// discardSink acknowledges every batch as soon as it is handed in.
type discardSink struct{}

func newDiscardSink() *discardSink { return &discardSink{} }

func (*discardSink) Write(ctx context.Context, b sink.Batch) error {
	if b.Ack != nil {
		return b.Ack(ctx)
	}
	return nil
}

func (*discardSink) Close(context.Context) error { return nil }

// ackSource is a memSource that can say what it has acknowledged.
type ackSource struct{ *memSource }

func (s ackSource) Acknowledged(_ context.Context, ids []string) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bool, len(ids))
	for i, id := range ids {
		out[i] = s.acked[id]
	}
	return out, nil
}

// askingSink records the function Run hands it.
type askingSink struct {
	discardSink
	fn func(ctx context.Context, ids []string) ([]bool, error)
}

func (s *askingSink) SetAcknowledged(fn func(ctx context.Context, ids []string) ([]bool, error)) {
	s.fn = fn
}

// Run lets a sink with a ledger ask a source that can tell what it has
// acknowledged (so that ledger entries of killed runs are retired).
func TestRunConnectsAcknowledged(t *testing.T) {
	src := ackSource{newMemSource(nil, 1)}
	src.acked["mem:1"] = true
	snk := &askingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pipeline.Run(ctx, src, &pipeline.Transformer{}, snk, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	if snk.fn == nil {
		t.Fatal("Run did not hand the source's Acknowledged to the sink")
	}
	got, err := snk.fn(context.Background(), []string{"mem:1", "mem:2"})
	if err != nil || !slices.Equal(got, []bool{true, false}) {
		t.Fatalf("the sink's Acknowledged gives %v, %v", got, err)
	}
}

// The lake sink and the JetStream source are the pair Run connects.
var (
	_ interface {
		SetAcknowledged(func(context.Context, []string) ([]bool, error))
	} = (*sink.Buffered)(nil)
	_ pipeline.AckReporter = (*streamnats.Source)(nil)
)

// The case end to end: on the demo's data, S18_3233 is a catalogue
// product nobody rated. The engine Open builds finds it in the catalogue the
// ETL committed, and its record keeps the lab's eight keys with five
// similar items.
func TestUnratedCatalogueProduct(t *testing.T) {
	b, e := prepareShared(t)
	ctx := context.Background()
	cat, err := recommend.LoadCatalog(ctx, b)
	if err != nil || cat == nil {
		t.Fatalf("the demo's lake has no product catalogue: %v", err)
	}
	const code = "S18_3233"
	if _, ok := cat[code]; !ok {
		t.Fatalf("%s is not in the demo's catalogue", code)
	}
	_, storeErr := e.Store().ItemVector(ctx, code)
	t.Logf("%s in the vector store: %v", code, storeErr == nil)
	tr, err := pipeline.NewTransformer(e, pipeline.TransformOptions{Annotate: true})
	if err != nil {
		t.Fatal(err)
	}
	data := `{"session_id":"s","customer_number":478,"city":"Pasadena","country":"USA","credit_limit":59811,` +
		`"browse_history":[{"product_code":"` + code + `","quantity":"7","in_shopping_cart":true}]}`
	out, err := tr.TransformOne(ctx, "mem:1", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Similar  similarOut        `json:"similar_items"`
		Fallback map[string]string `json:"recommendation_fallback"`
	}
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Similar.SimilarItems) != 5 {
		t.Fatalf("%s: %d similar items, want 5: %s", code, len(rec.Similar.SimilarItems), out)
	}
	want := labKeys
	if storeErr != nil {
		// Not in the store: found from its features, which --annotate shows.
		if rec.Fallback["similar_items"] != "item_features" {
			t.Fatalf("%s (not in the store: %v): recommendation_fallback %v, want similar_items: item_features", code, storeErr, rec.Fallback)
		}
		want = append(slices.Clone(labKeys), pipeline.FieldFallback)
	}
	if keys := topKeys(t, out); !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
}
