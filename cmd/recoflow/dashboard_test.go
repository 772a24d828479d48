package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/recoflow/recoflow/internal/testenv"
)

// demoProcess is a running `recoflow demo` with its printed dashboard URL.
type demoProcess struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	dir  string

	exited chan struct{} // closed once the process has exited

	mu  sync.Mutex
	out bytes.Buffer
}

func (d *demoProcess) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

type lockedWriter struct{ d *demoProcess }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.out.Write(p)
}

var dashboardLine = regexp.MustCompile(`dashboard\s+(http://\S+)/dashboard/`)

// startDemo runs `recoflow demo` on a temporary directory, listening on any
// free port, and waits (bounded) for it to print its dashboard URL.
func startDemo(t *testing.T) *demoProcess {
	t.Helper()
	return startDemoIn(t, t.TempDir())
}

func startDemoIn(t *testing.T, dir string) *demoProcess {
	t.Helper()
	bin := buildBinary(t)
	d := &demoProcess{dir: dir, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, "demo", "--dir", d.dir, "--listen", "127.0.0.1:0", "--rate", "100", "--log-level", "warn")
	pr, pw := io.Pipe()
	d.cmd.Stdout = pw
	d.cmd.Stderr = lockedWriter{d}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	found := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.out.WriteString(line + "\n")
			d.mu.Unlock()
			if m := dashboardLine.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { d.cmd.Wait(); pw.Close(); <-scanned; close(d.exited) }()
	select {
	case d.base = <-found:
	case <-time.After(90 * time.Second):
		t.Fatalf("demo printed no dashboard URL within 90s:\n%s", d.output())
	}
	return d
}

// stop sends SIGINT and checks a clean exit within 30 s.
func (d *demoProcess) stop(t *testing.T) {
	t.Helper()
	d.stopWant(t, 0)
}

// stopWant sends SIGINT and checks the process stops within 30 s with the
// given exit code.
func (d *demoProcess) stopWant(t *testing.T, want int) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("demo did not stop within 30s of SIGINT:\n%s", d.output())
	}
	if code := d.cmd.ProcessState.ExitCode(); code != want {
		t.Fatalf("demo exited with %d after SIGINT, want %d:\n%s", code, want, d.output())
	}
	if out := d.output(); !strings.Contains(out, "== stopped:") {
		t.Errorf("demo's output lacks its stop summary:\n%s", out)
	}
}

// waitRecommendations waits (bounded) until an object with at least one
// record lands under <dir>/lake/recommendations/.
func (d *demoProcess) waitRecommendations(t *testing.T, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var found string
		filepath.WalkDir(filepath.Join(d.dir, "lake", "recommendations"), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".json") && !strings.HasPrefix(e.Name(), ".") {
				if info, err := e.Info(); err == nil && info.Size() > 0 {
					found = p
					return fs.SkipAll
				}
			}
			return nil
		})
		if found != "" {
			return found
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no recommendations in the lake within %s:\n%s", within, d.output())
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestDemoLive runs the README's first command as a process: the batch
// stages, then the stream, producer, API and dashboard; recommendations
// must land in the lake, the API and the dashboard must answer with the
// run's figures, and SIGINT must stop it all cleanly.
func TestDemoLive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the whole demo")
	}
	start := time.Now()
	d := startDemo(t)
	obj := d.waitRecommendations(t, 90*time.Second)
	t.Logf("first recommendations after %s: %s", time.Since(start).Round(time.Millisecond), obj)

	// The API answers from the model.
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(d.base+"/v1/recommendations", "application/json",
		strings.NewReader(`{"user":{"city":"Nantes","country":"France","creditlimit":21000},"limit":5}`))
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Fallback     bool   `json:"fallback"`
		ModelVersion string `json:"model_version"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(ans.Items) != 5 || ans.Fallback || ans.ModelVersion == "" {
		t.Fatalf("/v1/recommendations: %s %+v %v", resp.Status, ans, err)
	}

	// The dashboard's data: stages done, the run's figures, the live feed.
	var stages struct {
		Stages   []struct{ Name, State, Error string } `json:"stages"`
		Training struct {
			Data struct {
				Rows int64 `json:"rows"`
			} `json:"data"`
		} `json:"training"`
		ModelVersion string `json:"model_version"`
		Engine       struct {
			Data struct {
				StoreItems int `json:"store_items"`
			} `json:"data"`
		} `json:"engine"`
	}
	getJSON(t, d.base+"/dashboard/api/stages", &stages)
	states := map[string]string{}
	for _, s := range stages.Stages {
		states[s.Name] = s.State
	}
	for name, want := range map[string]string{"seed": "done", "etl": "done", "train": "done", "vectors load": "done",
		"stream": "running", "produce": "running", "serve": "running"} {
		if states[name] != want {
			t.Errorf("stage %q is %q, want %q (%+v)", name, states[name], want, stages.Stages)
		}
	}
	if stages.Training.Data.Rows != 2532 || stages.ModelVersion != ans.ModelVersion || stages.Engine.Data.StoreItems == 0 {
		t.Errorf("dashboard stages: rows %d (want 2532), model %q (API %q), vectors %d",
			stages.Training.Data.Rows, stages.ModelVersion, ans.ModelVersion, stages.Engine.Data.StoreItems)
	}
	var live struct {
		Total  int64 `json:"total"`
		Recent struct {
			Records []struct {
				Recommended []struct{ Code, Name string } `json:"recommended"`
			} `json:"records"`
		} `json:"recent"`
	}
	getJSON(t, d.base+"/dashboard/api/live", &live)
	if live.Total == 0 || len(live.Recent.Records) == 0 || len(live.Recent.Records[0].Recommended) == 0 ||
		live.Recent.Records[0].Recommended[0].Name == "" {
		t.Errorf("dashboard live: %+v", live)
	}
	resp, err = c.Get(d.base + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte(`id="try-form"`)) {
		t.Errorf("GET /dashboard/: %s\n%.300s", resp.Status, page)
	}

	d.stop(t)
}

// TestDemoStageFails: when a batch stage fails, the demo still serves the
// dashboard, which shows the error; Ctrl-C then exits with the failure.
func TestDemoStageFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the demo")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "shop.db", "x"), 0o777); err != nil { // seed cannot write its database
		t.Fatal(err)
	}
	d := startDemoIn(t, dir)
	var stages struct {
		Stages []struct{ Name, State, Error string } `json:"stages"`
		Model  struct{ Error string }                `json:"model"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		getJSON(t, d.base+"/dashboard/api/stages", &stages)
		got := map[string]string{}
		for _, s := range stages.Stages {
			got[s.Name] = s.State + ": " + s.Error
		}
		if strings.HasPrefix(got["seed"], "failed: ") && strings.Contains(got["seed"], "shop.db") &&
			strings.HasPrefix(got["etl"], "skipped") && strings.HasPrefix(got["stream"], "failed: ") && stages.Model.Error != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stages never showed the failure: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _ := getStatus(t, d.base+"/dashboard/"); code != 200 {
		t.Errorf("dashboard page: %d", code)
	}
	d.stopWant(t, 1)
	if !strings.Contains(d.output(), "demo step 1 (seed the shop database)") {
		t.Errorf("demo's output lacks the failure:\n%s", d.output())
	}
}

func getStatus(t *testing.T, url string) (int, error) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// chromiumPath finds headless Chromium; without it the browser test skips,
// or fails when RECOFLOW_REQUIRE_SERVICES=1 (CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.Require() {
		t.Fatalf("no chromium on PATH but %s=1: install it (apt-get install -y chromium)", testenv.RequireVar)
	}
	t.Skip("no chromium on PATH (apt-get install -y chromium); set " + testenv.RequireVar + "=1 to make this a failure")
	return ""
}

// TestDashboardBrowser loads the demo's dashboard in headless Chromium,
// checks every panel shows the run's figures, submits the try-it form,
// reads the recommendations and saves a screenshot (go test -artifacts
// keeps it).
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs the demo and a browser")
	}
	chrome := chromiumPath(t)
	d := startDemo(t)
	d.waitRecommendations(t, 90*time.Second)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 1600), chromedp.Flag("user-data-dir", t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	// Every panel, with real figures: no placeholder left.
	const panelsReady = `(() => {
	  const txt = (id) => document.getElementById(id).textContent.trim();
	  const rows = [...document.querySelectorAll('#stage-rows tr[data-stage]')];
	  return txt('training-rows') === '2,532' && txt('training-partitions') !== '–' &&
	    /^\d{8}T\d{6}Z$/.test(txt('model-version')) && /^\d+ items/.test(txt('vectors-loaded')) &&
	    Number(document.getElementById('loss-chart').dataset.points) > 0 &&
	    document.querySelectorAll('#holdout-rows tr').length >= 4 &&
	    Number(document.getElementById('throughput-chart').dataset.points) > 0 &&
	    Number(txt('stream-total').replace(/,/g, '')) > 0 &&
	    document.querySelectorAll('#feed-rows tr.rec').length > 0 &&
	    rows.length >= 7 && rows.every((r) => !r.querySelector('.error')) &&
	    document.querySelectorAll('#try-shopper option').length > 1;
	})()`
	text := func(id string) string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('`+id+`').innerText`))
		if err != nil {
			t.Errorf("read #%s: %v", id, err)
		}
		return v
	}
	err := chromedp.Do(ctx, chromedp.Navigate(d.base+"/dashboard/"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](panelsReady,
			chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	}
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		t.Fatalf("dashboard panels: %v\npage:\n%s\ndemo:\n%s", err, page, d.output())
	}
	stageText, feedText, holdoutText := text("stage-rows"), text("feed-rows"), text("holdout-rows")
	for _, want := range []string{"seed", "etl", "train", "vectors load", "stream", "produce", "serve", "running", "done"} {
		if !strings.Contains(stageText, want) {
			t.Errorf("stages panel lacks %q:\n%s", want, stageText)
		}
	}
	if !regexp.MustCompile(`\d{4} `).MatchString(feedText) { // product names such as "1969 Corvair Monza"
		t.Errorf("recommendation feed shows no product names:\n%s", feedText)
	}
	if !strings.Contains(holdoutText, "popularity") || !strings.Contains(holdoutText, "global mean") {
		t.Errorf("hold-out panel lacks the baselines:\n%s", holdoutText)
	}
	t.Logf("batch panel:\n%s", text("batch"))

	// Try it: the first shopper of the list, a product, the form's answer.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#try-shopper"), "0"),
		chromedp.Evaluate[chromedp.Void](`void document.getElementById('try-shopper').dispatchEvent(new Event('change'))`),
		chromedp.SetValue(chromedp.CSS("#try-product"), "S18_3232"),
		chromedp.Click(chromedp.CSS("#try-submit")),
	)
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](
			`document.querySelectorAll('#try-recommended li[data-id]').length >= 5 && document.querySelectorAll('#try-similar li[data-id]').length >= 5`,
			chromedp.WithPollingTimeout(20*time.Second)))
	}
	if err != nil {
		t.Fatalf("try-it form: %v (form error %q)", err, text("try-error"))
	}
	recommended, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#try-recommended li[data-id]')].map((li) => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	similar, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#try-similar li[data-id]')].map((li) => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("try-it: recommended %q; similar to S18_3232: %q", recommended, similar)
	for _, s := range append(recommended, similar...) {
		if !strings.Contains(s, "(S") { // "Name (S18_1234)"
			t.Errorf("try-it item %q lacks a product name and code", s)
		}
	}
	city, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('try-city').value`))
	if err != nil || city == "" {
		t.Errorf("picking a shopper left the city %q (%v)", city, err)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o666); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	cancelT()
	cancel()
	d.stop(t)
}
