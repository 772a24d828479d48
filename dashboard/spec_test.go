package dashboard

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/internal/testenv"
	lakefile "github.com/recoflow/recoflow/lake/file"
)

// specLake writes a lake holding the movie shop's model version v1 — its
// metrics.json from an implicit-feedback training (testdata, as train
// wrote it: implicit_feedback, no RMSE), its dataset spec — and the
// training manifest of the spec's lake dataset (movie_orders). With
// withEvaluation false the metrics' evaluation section is left out, as
// train --evaluation=false writes them.
func specLake(t *testing.T, withEvaluation bool) string {
	t.Helper()
	fixture, err := os.ReadFile(filepath.Join("testdata", "metrics_implicit.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !withEvaluation {
		var m map[string]any
		if err := json.Unmarshal(fixture, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "evaluation")
		if fixture, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	for key, data := range map[string]string{
		"ml-artifacts/LATEST":               "v1\n",
		"ml-artifacts/v1/metrics.json":      string(fixture),
		"ml-artifacts/v1/dataset/spec.yaml": datasettest.ShopSpecYAML,
		"movie_orders/_manifest.json":       `{"run_id":"20261128T012111Z-46ca09c2","rows":2000,"partitions":["a","b","c"],"finished_at":"2026-11-28T01:21:11Z","dataset":"movie_orders","spec":"movie-shop"}`,
	} {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSpecModelStages: for a model trained on a spec, api/stages gives the
// training manifest of the spec's lake dataset (not the lab's, which this
// lake lacks) and the implicit-feedback metrics with no RMSE.
func TestSpecModelStages(t *testing.T) {
	b, err := lakefile.Open(specLake(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	code, body := get(t, Handler("/d/", Options{Lake: b}), "/d/api/stages")
	var d struct {
		Training part `json:"training"`
		Model    struct {
			Data struct {
				Holdout map[string]any `json:"holdout"`
			} `json:"data"`
			Error string `json:"error"`
		} `json:"model"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || code != 200 {
		t.Fatalf("%d %v: %.300s", code, err, body)
	}
	if d.Training.Error != "" || d.Training.Data == nil {
		t.Errorf("training data: %+v, want the movie_orders manifest", d.Training)
	}
	if d.Model.Error != "" || d.Model.Data.Holdout["implicit_feedback"] != true || d.Model.Data.Holdout["rmse"] != nil {
		t.Errorf("model: %.400s", body)
	}
}

// TestSpecModelPage renders the page of an implicit-feedback model in
// headless Chromium, with and without the evaluation section: the Model
// and batch panels show the figures, say there is no RMSE rather than
// showing a table of dashes, and nothing reads NaN or undefined.
func TestSpecModelPage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	chrome := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		if testenv.Require() {
			t.Fatalf("no chromium on PATH but %s=1: install it (apt-get install -y chromium)", testenv.RequireVar)
		}
		t.Skip("no chromium on PATH (apt-get install -y chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.Flag("user-data-dir", t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	for _, tc := range []struct {
		name           string
		withEvaluation bool
		ready          string // the quality panel has drawn
	}{
		{"evaluation", true, `document.querySelectorAll('#evaluation tbody tr').length > 0`},
		{"hold-out only", false, `!!document.getElementById('holdout-rmse-none')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := lakefile.Open(specLake(t, tc.withEvaluation))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			srv := httptest.NewServer(Handler("/dashboard/", Options{Lake: b, Live: &Live{}}))
			defer srv.Close()
			ready := `document.getElementById('training-rows').textContent.trim() === '2,000' && ` +
				`Number(document.getElementById('loss-chart').dataset.points) > 0 && ` + tc.ready
			err = chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/dashboard/"))
			if err == nil {
				_, err = chromedp.Run(ctx, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(30*time.Second),
					chromedp.WithPollingInterval(100*time.Millisecond)))
			}
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
			if err != nil {
				t.Fatalf("page not drawn: %v\n%s", err, page)
			}
			html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerHTML`))
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"NaN", "undefined", "Infinity"} {
				if strings.Contains(page, bad) || strings.Contains(html, ">"+bad+"<") {
					t.Errorf("the page shows %q:\n%s", bad, page)
				}
			}
			quality, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('quality').innerText`))
			errs, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
				`['batch-error', 'model-error'].map((id) => document.getElementById(id).innerText).join('')`))
			if strings.TrimSpace(errs) != "" {
				t.Errorf("errors shown: %s", errs)
			}
			if strings.Contains(quality, "RMSE") != !tc.withEvaluation || strings.Contains(quality, "1–5 scale") {
				t.Errorf("quality panel (evaluation %t):\n%s", tc.withEvaluation, quality)
			}
			if !tc.withEvaluation && !strings.Contains(quality, "No RMSE: implicit feedback") {
				t.Errorf("hold-out panel does not say why there is no RMSE:\n%s", quality)
			}
			if tc.withEvaluation && (!strings.Contains(quality, "hybrid") || !strings.Contains(quality, "bpr")) {
				t.Errorf("evaluation panel:\n%s", quality)
			}
			t.Logf("quality panel:\n%s", quality)
		})
	}
}
