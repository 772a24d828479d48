package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestLiveSeries(t *testing.T) {
	var l Live
	l.Record(3, []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond})
	var last Point
	for _, p := range l.Series() { // the recorded second, even when the clock ticked since
		if p.Events > 0 {
			last = p
		}
	}
	if l.Total() != 3 || last.Events != 3 || last.P50 != 2 || last.P99 != 3 {
		t.Errorf("total %d, last %+v", l.Total(), last)
	}
}
