package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/api"
	lakefile "github.com/recoflow/recoflow/lake/file"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// TestFailedStagesShowErrors: with nothing in the lake and a failed stage,
// every endpoint still answers 200, with the errors to show.
func TestFailedStagesShowErrors(t *testing.T) {
	st := &Stages{}
	st.Set("train", "running", "", nil)
	st.Set("train", "failed", "train the recommender", errors.New("boom: no training data"))
	h := Handler("/dashboard/", Options{LakeDir: filepath.Join(t.TempDir(), "lake"), Stages: st, Live: &Live{}})
	code, body := get(t, h, "/dashboard/api/stages")
	if code != 200 {
		t.Fatalf("stages: %d %s", code, body)
	}
	var d struct {
		Stages   []Stage `json:"stages"`
		Training part    `json:"training"`
		Model    part    `json:"model"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Stages) != 1 || d.Stages[0].State != "failed" || !strings.Contains(d.Stages[0].Error, "boom") || d.Stages[0].Finished.IsZero() {
		t.Errorf("stages: %+v", d.Stages)
	}
	if d.Training.Error == "" || d.Model.Error == "" {
		t.Errorf("missing lake files give no errors: %s", body)
	}
	if code, body := get(t, h, "/dashboard/api/live"); code != 200 || !strings.Contains(body, `"total":0`) {
		t.Errorf("live: %d %s", code, body)
	}
	if code, body := get(t, h, "/dashboard/"); code != 200 || !strings.Contains(body, "try-form") || strings.Contains(body, "http") {
		t.Errorf("page: %d (must reference nothing external)\n%s", code, body)
	}
	if code, body := get(t, h, "/dashboard/api/catalog"); code != 200 || !strings.Contains(body, "S10_1678") {
		t.Errorf("catalog: %d %.200s", code, body)
	}
}

func TestRecentRecommendations(t *testing.T) {
	lakeDir := t.TempDir()
	dir := filepath.Join(lakeDir, "recommendations", "2026", "01")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	data := `{"customer_number":103,"city":"Nantes","country":"France","recommended_items":[{"id":"S10_1678","score":0.5}],"similar_items":{"product_code":"S10_1949","similar_items":[{"id":"S10_4698","distance":0.1}]}}
{"customer_number":112,"city":"Las Vegas","country":"USA","recommended_items":[{"id":"S12_1099","score":0.4}],"similar_items":null}
`
	if err := os.WriteFile(filepath.Join(dir, "recoflow-1.json"), []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
	recs, obj, err := recentRecommendations(filepath.Join(lakeDir, "recommendations"), 10, sampleNames())
	if err != nil || len(recs) != 2 || !strings.HasSuffix(obj, "recoflow-1.json") {
		t.Fatalf("%v %q %+v", err, obj, recs)
	}
	if recs[0].City != "Las Vegas" || recs[1].Recommended[0].Name == "" || recs[1].SimilarTo.Code != "S10_1949" || recs[1].Similar[0].Name == "" {
		t.Errorf("%+v", recs)
	}
}

// TestLiveSeries: a second's events and latencies show once the second is
// over; the second still being counted is left out (its partial count read
// as a stall at the chart's right edge).
func TestLiveSeries(t *testing.T) {
	now := time.Unix(1_800_000_000, 300e6)
	l := Live{now: func() time.Time { return now }}
	l.Record(3, []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond})
	s := l.Series()
	if len(s) != seriesSeconds || s[len(s)-1].Time != now.Unix()-1 {
		t.Fatalf("during the second: %d points ending at %d, want %d ending at %d", len(s), s[len(s)-1].Time, seriesSeconds, now.Unix()-1)
	}
	for _, p := range s {
		if p.Events != 0 {
			t.Errorf("the partial second is in the series: %+v", p)
		}
	}
	now = now.Add(time.Second)
	s = l.Series()
	last := s[len(s)-1]
	if l.Total() != 3 || last.Time != now.Unix()-1 || last.Events != 3 || last.P50 != 2 || last.P99 != 3 {
		t.Errorf("once over: total %d, last %+v", l.Total(), last)
	}
}

// TestRegister: / and /dashboard redirect to the page, /favicon.ico is an
// icon, and other paths stay the caller's.
func TestRegister(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux, Options{})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) })
	for _, path := range []string{"/", "/dashboard"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/dashboard/" {
			t.Errorf("GET %s: %d to %q, want 302 to /dashboard/", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/favicon.ico", nil))
	if b := rec.Body.Bytes(); rec.Code != 200 || rec.Header().Get("Content-Type") != "image/x-icon" || len(b) < 22 || !bytes.Equal(b[:4], []byte{0, 0, 1, 0}) {
		t.Errorf("favicon: %d %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), len(b))
	}
	if code, body := get(t, mux, "/dashboard/"); code != 200 || !strings.Contains(body, `href="favicon.ico"`) {
		t.Errorf("page: %d", code)
	}
	if code, _ := get(t, mux, "/dashboard/favicon.ico"); code != 200 {
		t.Errorf("/dashboard/favicon.ico: %d", code)
	}
	if code, _ := get(t, mux, "/v1/recommendations"); code != http.StatusTeapot {
		t.Errorf("other paths: %d, want the caller's handler", code)
	}
	if code, _ := get(t, mux, "/nothing"); code != http.StatusTeapot {
		t.Errorf("other paths: %d, want the caller's handler", code)
	}
}

// TestModelFromLake: the model's metrics (with the evaluation section) come
// from any lake, for the version being served, else for LATEST.
func TestModelFromLake(t *testing.T) {
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("testdata", "metrics_evaluation.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ key, data string }{
		{"ml-artifacts/LATEST", "v2\n"},
		{"ml-artifacts/v1/metrics.json", string(fixture)},
		{"ml-artifacts/v2/metrics.json", `{"epochs":[]}`},
		{"ratings_ml_training/_manifest.json", `{"rows":2532}`},
	} {
		p := filepath.Join(dir, filepath.FromSlash(f.key))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	b, err := lakefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	served := ""
	h := Handler("/d/", Options{Lake: b, ModelVersion: func() string { return served }})
	var d struct {
		ModelVersion string `json:"model_version"`
		Model        struct {
			Data struct {
				Evaluation *struct {
					K         int `json:"k"`
					Methods   []struct{ Method string }
					ColdStart []struct{ Method string } `json:"cold_start"`
				} `json:"evaluation"`
			} `json:"data"`
		} `json:"model"`
		Training part `json:"training"`
		Stages   any  `json:"stages"`
	}
	_, body := get(t, h, "/d/api/stages")
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.ModelVersion != "v2" || d.Model.Data.Evaluation != nil || d.Training.Data == nil || d.Stages != nil {
		t.Errorf("LATEST: %s", body)
	}
	served = "v1"
	_, body = get(t, h, "/d/api/stages")
	d.Model.Data.Evaluation = nil
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if ev := d.Model.Data.Evaluation; d.ModelVersion != "v1" || ev == nil || ev.K != 10 || len(ev.Methods) != 5 || len(ev.ColdStart) != 2 {
		t.Errorf("served v1: %.300s", body)
	}
	served = "../x"
	if _, body = get(t, h, "/d/api/stages"); !strings.Contains(body, `"model_version":"v2"`) {
		t.Errorf("an invalid served version must fall back to LATEST: %.300s", body)
	}
}

// TestAPIFigures: the API's request figures per endpoint come from its
// Prometheus registry.
func TestAPIFigures(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, err := api.New(api.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		get(t, srv.Handler(), "/healthz")
	}
	srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/recommendations", strings.NewReader("{}")))
	get(t, srv.Handler(), "/nothing")
	a, err := apiFigures(reg)
	if err != nil {
		t.Fatal(err)
	}
	byRoute := map[string]RouteFigures{}
	for _, r := range a.Routes {
		byRoute[r.Route] = r
	}
	h, v1 := byRoute["/healthz"], byRoute["/v1/recommendations"]
	if a.Requests != 5 || a.ServerErrors != 1 || a.ClientErrors != 1 || a.EngineLoaded || a.Routes[0].Route != "/healthz" {
		t.Errorf("figures: %+v", a)
	}
	if h.Requests != 3 || h.MeanMS <= 0 || h.P99MS <= 0 || v1.Requests != 1 || v1.ServerErrors != 1 {
		t.Errorf("routes: %+v", a.Routes)
	}
	code, body := get(t, Handler("/", Options{Metrics: reg}), "/api/stages")
	if code != 200 || !strings.Contains(body, `"requests":5`) {
		t.Errorf("stages: %d %s", code, body)
	}
}
