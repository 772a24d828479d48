package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	case <-time.After(10 * time.Minute): // the batch stages run first; generous: CI is loaded and -race
		t.Fatalf("demo printed no dashboard URL within 10 minutes:\n%s", d.output())
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
	case <-time.After(2 * time.Minute):
		t.Fatalf("demo did not stop within 2 minutes of SIGINT:\n%s", d.output())
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
	obj := d.waitRecommendations(t, 5*time.Minute)
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
// reads the recommendations, then checks the layout at 1,400 and 390 px
// and saves screenshots (go test -artifacts keeps them).
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs the demo and a browser")
	}
	chrome := chromiumPath(t)
	d := startDemo(t)
	d.waitRecommendations(t, 5*time.Minute)

	ctx, cancel := newBrowser(t, chrome)
	defer cancel()

	// Every panel, with real figures: no placeholder left.
	const panelsReady = `(() => {
	  const txt = (id) => document.getElementById(id).textContent.trim();
	  const rows = [...document.querySelectorAll('#stage-rows tr[data-stage]')];
	  return txt('training-rows') === '2,532' && txt('training-partitions') !== '–' &&
	    /^\d{8}T\d{6}Z$/.test(txt('model-version')) && /^\d+ items/.test(txt('vectors-loaded')) &&
	    Number(document.getElementById('loss-chart').dataset.points) > 0 &&
	    Number(document.getElementById('validation-chart').dataset.points) > 0 &&
	    document.querySelectorAll('#quality tr').length >= 4 && !!document.getElementById('api-requests') &&
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
	err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(d.base+"/dashboard/"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](panelsReady,
			chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	}
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		t.Fatalf("dashboard panels: %v\npage:\n%s\ndemo:\n%s", err, page, d.output())
	}
	stageText, feedText, holdoutText := text("stage-rows"), text("feed-rows"), text("quality")
	for _, want := range []string{"seed", "etl", "train", "vectors load", "stream", "produce", "serve", "running", "done"} {
		if !strings.Contains(stageText, want) {
			t.Errorf("stages panel lacks %q:\n%s", want, stageText)
		}
	}
	if !regexp.MustCompile(`\d{4} `).MatchString(feedText) { // product names such as "1969 Corvair Monza"
		t.Errorf("recommendation feed shows no product names:\n%s", feedText)
	}
	// The demo trains with a hold-out, so the panel shows the evaluation
	// table: the model against every baseline, warm and cold-start users.
	for _, want := range []string{"hybrid", "content-only", "popularity", "item-knn", "als", "bpr", "cold start"} {
		if !strings.Contains(holdoutText, want) {
			t.Errorf("hold-out panel lacks %q:\n%s", want, holdoutText)
		}
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

	// The API panel counts the form's requests (at the next refresh).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Number(document.getElementById('api-requests').textContent.replace(/,/g, '')) >= 2`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("the API panel does not count the form's requests: %v (%s)", err, text("api"))
	}
	checkLayout(t, ctx, "demo", 1400)
	checkLayout(t, ctx, "demo", 390)
	cancel()
	d.stop(t)
}

// layoutProblems lists what a reader would see as broken at the current
// width: an element wider than the viewport or whose content sticks out of
// its box (cut text), a word or number broken across lines (a word runs
// between spaces, slashes and hyphens: paths break after a slash), a chart without
// axes or tick labels. Form controls and SVG internals are left out.
const layoutProblems = `(() => {
  const out = [], vw = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '');
  if (document.documentElement.scrollWidth > vw) out.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + vw);
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    if (['SELECT', 'OPTION', 'INPUT', 'DATALIST', 'SCRIPT', 'BR', 'WBR'].includes(el.tagName)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || el.scrollWidth > vw) out.push(name(el) + ' is wider than the viewport: right ' + Math.round(r.right) + ', scrollWidth ' + el.scrollWidth + ' > ' + vw);
    else if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')
      out.push(name(el) + ' content sticks out: scrollWidth ' + el.scrollWidth + ' > clientWidth ' + el.clientWidth + ': ' + el.textContent.trim().slice(0, 60));
  }
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('svg, select, datalist, script')) continue;
    for (const m of n.data.matchAll(/[^\s\/-]+/g)) {
      if (m[0].length > 24) continue; // an identifier longer than a line (a temporary directory's name) may break
      const range = document.createRange();
      range.setStart(n, m.index); range.setEnd(n, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
      if (tops.size > 1) out.push('word broken across lines in ' + name(n.parentElement) + ': ' + JSON.stringify(m[0]));
    }
  }
  for (const svg of document.querySelectorAll('svg.chart')) {
    if (svg.getBoundingClientRect().width === 0) continue;
    if (svg.querySelectorAll('line.axis').length < 4 || svg.querySelectorAll('text').length < 6) out.push(svg.id + ' lacks axes or tick labels');
    const vb = svg.viewBox.baseVal;
    if (!vb || Math.abs(vb.width - svg.getBoundingClientRect().width) > 2) out.push(svg.id + ' is drawn at ' + (vb && vb.width) + ' px for ' + svg.getBoundingClientRect().width + ' px (scaled text)');
  }
  return out;
})()`

// shotsDir is where checkLayout saves screenshots: the test's artifact
// directory (go test -artifacts), and RECOFLOW_SCREENSHOTS when set.
func saveShot(t *testing.T, name string, png []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("RECOFLOW_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o666); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}
}

// checkLayout sets the browser's width, waits (bounded) until the charts
// are drawn for it, fails on every layout problem and saves a full-page
// screenshot as <name>-<width>.png.
func checkLayout(t *testing.T, ctx context.Context, name string, width int64) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.documentElement.clientWidth === `+strconv.FormatInt(width, 10)+` &&
		  [...document.querySelectorAll('svg.chart')].every((s) => s.getBoundingClientRect().width === 0 ||
		    Math.abs(s.viewBox.baseVal.width - s.getBoundingClientRect().width) <= 2)`,
			chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	}
	if err != nil {
		t.Fatalf("%d px: %v", width, err)
	}
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](layoutProblems))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%d px: %s", width, p)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveShot(t, fmt.Sprintf("%s-%d.png", name, width), shot)
}

// newBrowser starts headless Chromium for the test.
func newBrowser(t *testing.T, chrome string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.Flag("user-data-dir", t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute)
	return ctx, func() { cancelT(); cancel(); cancelAlloc() }
}

// serveDashboard runs `recoflow serve --dashboard` on a lake holding a
// model's metrics.json with an evaluation section (no model files: the
// engine does not load, and the page says so) and a training manifest.
func serveDashboard(t *testing.T, args ...string) (base string) {
	t.Helper()
	bin := buildBinary(t)
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("..", "..", "dashboard", "testdata", "metrics_evaluation.json"))
	if err != nil {
		t.Fatal(err)
	}
	for key, data := range map[string]string{
		"ml-artifacts/LATEST":                        "20261127T120000Z\n",
		"ml-artifacts/20261127T120000Z/metrics.json": string(fixture),
		"ratings_ml_training/_manifest.json":         `{"run_id":"20261127T115900Z-fixture","rows":2532,"partitions":["2026/11/27"],"finished_at":"2026-11-27T11:59:30Z"}`,
	} {
		p := filepath.Join(dir, "lake", filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--lake", "file://" + dir + "/lake",
		"--vectors", "file://" + dir + "/vectors", "--retry-max", "1s", "--log-level", "warn"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("serve did not stop within 30s of SIGINT")
		}
	})
	select {
	case base = <-found:
	case <-exited:
		t.Fatalf("serve exited: %s", stderr.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("serve printed no address within 5 minutes")
	}
	return base
}

// TestServeDashboard: serve --dashboard serves the page, its data and its
// icon, and redirects / to it; without the flag those paths stay the API's.
func TestServeDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	base := serveDashboard(t, "--dashboard")
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/", "/dashboard"} {
		resp, err := noFollow.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/dashboard/" {
			t.Errorf("GET %s: %s to %q, want 302 to /dashboard/", path, resp.Status, resp.Header.Get("Location"))
		}
	}
	resp, err := noFollow.Get(base + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	icon, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/x-icon" || len(icon) < 22 {
		t.Errorf("GET /favicon.ico: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(icon))
	}
	if code, _ := getStatus(t, base+"/dashboard/"); code != 200 {
		t.Errorf("GET /dashboard/: %d", code)
	}
	var stages struct {
		ModelVersion string `json:"model_version"`
		Model        struct {
			Data struct {
				Evaluation struct {
					Methods []struct{ Method string } `json:"methods"`
				} `json:"evaluation"`
			} `json:"data"`
		} `json:"model"`
		Engine struct{ Error string } `json:"engine"`
		API    struct {
			Data struct{ Requests int64 } `json:"data"`
		} `json:"api"`
	}
	if code, _ := getStatus(t, base+"/healthz"); code != 200 {
		t.Errorf("the API beside the dashboard: /healthz %d", code)
	}
	getJSON(t, base+"/dashboard/api/stages", &stages)
	if stages.ModelVersion != "20261127T120000Z" || len(stages.Model.Data.Evaluation.Methods) != 5 || stages.Engine.Error == "" ||
		stages.API.Data.Requests < 1 {
		t.Errorf("dashboard data (the API's figures must count the /healthz request): %+v", stages)
	}

	plain := serveDashboard(t)
	for _, path := range []string{"/dashboard/", "/"} {
		if code, _ := getStatus(t, plain+path); code != 404 {
			t.Errorf("serve without --dashboard: GET %s is %d, want the API's 404", path, code)
		}
	}
}

// TestServeDashboardBrowser loads serve's dashboard in headless Chromium at
// 1,400 and 390 px: the model's evaluation table from metrics.json, panels
// without data saying so, and a layout without overflow or broken words.
func TestServeDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs serve and a browser")
	}
	chrome := chromiumPath(t)
	base := serveDashboard(t, "--dashboard")
	ctx, cancel := newBrowser(t, chrome)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(base+"/"))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#evaluation tbody tr').length === 5 &&
		  document.querySelectorAll('#evaluation-cold tbody tr').length === 2 &&
		  !!document.getElementById('no-stages') && !!document.getElementById('no-stream') &&
		  document.getElementById('model-version').textContent === '20261127T120000Z' &&
		  document.getElementById('training-rows').textContent === '2,532' &&
		  Number(document.getElementById('loss-chart').dataset.points) === 12 && !!document.getElementById('api-requests')`,
			chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	}
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("serve's dashboard: %v\npage:\n%s", err, page)
	}
	url, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if url != "/dashboard/" {
		t.Errorf("/ led to %q, want /dashboard/", url)
	}
	eval, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('quality').innerText`))
	for _, want := range []string{"hybrid", "popularity", "item-knn", "bpr-mf", "P@10", "R@10", "NDCG@10", "MAP@10", "HR@10", "coverage", "RMSE",
		"0.2254", "0.8364", "1.1234", "cold start", "1.2408"} {
		if !strings.Contains(eval, want) {
			t.Errorf("evaluation table lacks %q:\n%s", want, eval)
		}
	}
	// A method without RMSE shows a dash, not 0 or NaN.
	pop, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#evaluation tr[data-method="popularity"]').innerText`))
	if !strings.Contains(pop, "–") || strings.Contains(pop, "NaN") {
		t.Errorf("popularity row: %q", pop)
	}
	checkLayout(t, ctx, "serve", 1400)
	checkLayout(t, ctx, "serve", 390)
}
