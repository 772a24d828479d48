package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/cli"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serving is a `recoflow serve` running in-process.
type serving struct {
	url      string
	stdout   *lockedBuffer
	stderr   *lockedBuffer
	cancel   context.CancelFunc
	done     chan error
	finished bool
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startServe runs recoflow serve with args and env until the test ends or
// stop is called, and waits until it listens.
func startServe(t *testing.T, env map[string]string, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- cli.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), cli.Options{
			Stdout: s.stdout, Stderr: s.stderr,
			Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		})
	}()
	t.Cleanup(func() {
		if !s.finished {
			s.stop(t)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case err := <-s.done:
			s.finished = true
			t.Fatalf("serve exited: %v\n%s", err, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve does not listen:\n%s\n%s", s.stdout, s.stderr)
	return nil
}

// stop cancels the command's context (as SIGINT does) and returns its
// error.
func (s *serving) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.finished = true
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of its context's end")
		return nil
	}
}

func (s *serving) get(t *testing.T, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// waitReady polls /readyz until it reports model version want.
func (s *serving) waitReady(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last []byte
	for time.Now().Before(deadline) {
		code, body := s.get(t, "GET", "/readyz", "")
		if code == 200 && strings.Contains(string(body), `"model_version":"`+want+`"`) {
			return
		}
		last = body
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not ready with version %s: %s\n%s", want, last, s.stderr)
}

func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir+"/lake", trainingRecords(40, 24))
	lakeURL, vecURL := "file://"+dir+"/lake", "file://"+dir+"/vectors"
	if _, stderr, err := trainCLI(t, "train", "--lake", lakeURL, "--version", "v1", "--epochs", "3"); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	if _, stderr, err := trainCLI(t, "vectors", "load", "--lake", lakeURL, "--vectors", vecURL); err != nil {
		t.Fatalf("vectors load: %v\n%s", err, stderr)
	}

	const token = "tok-3e1f9a"
	s := startServe(t, map[string]string{"RECOFLOW_AUTH_TOKEN": token},
		"--lake", lakeURL, "--vectors", vecURL, "--reload-interval", "100ms", "--log-level", "debug")
	s.waitReady(t, "v1")

	auth := []string{"Authorization", "Bearer " + token}
	code, body := s.get(t, "POST", "/user_embeddings", `[{"city":"Reims","country":"France","creditlimit":53000}]`, auth...)
	if code != 200 {
		t.Fatalf("user_embeddings: %d %s", code, body)
	}
	var embs []json.RawMessage
	if err := json.Unmarshal(body, &embs); err != nil || len(embs) != 1 {
		t.Fatalf("user_embeddings: %s", body)
	}
	code, body = s.get(t, "POST", "/items_from_user?limit=3", string(embs[0]), auth...)
	var items []struct {
		ID    string
		Score float64
	}
	if json.Unmarshal(body, &items); code != 200 || len(items) != 3 {
		t.Errorf("items_from_user: %d %s", code, body)
	}
	if code, body = s.get(t, "GET", "/items_from_item?item_id=S10_0003&limit=2", "", auth...); code != 200 {
		t.Errorf("items_from_item: %d %s", code, body)
	}
	if code, _ = s.get(t, "GET", "/items_from_item?item_id=S10_0003", ""); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code, body = s.get(t, "GET", "/metrics", ""); code != 200 || !strings.Contains(string(body), "recoflow_api_requests_total") || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("metrics: %d\n%.500s", code, body)
	}

	// A new model version loaded into the store is picked up.
	if _, stderr, err := trainCLI(t, "train", "--lake", lakeURL, "--version", "v2", "--epochs", "1"); err != nil {
		t.Fatalf("train v2: %v\n%s", err, stderr)
	}
	if _, stderr, err := trainCLI(t, "vectors", "load", "--lake", lakeURL, "--vectors", vecURL); err != nil {
		t.Fatalf("vectors load v2: %v\n%s", err, stderr)
	}
	s.waitReady(t, "v2")
	if code, body = s.get(t, "GET", "/items_from_item?item_id=S10_0003&limit=2", "", auth...); code != 200 {
		t.Errorf("after the reload: %d %s", code, body)
	}

	if err := s.stop(t); err != nil {
		t.Fatalf("serve after SIGINT: %v\n%s", err, s.stderr)
	}
	logs := s.stderr.String()
	if strings.Contains(logs, token) {
		t.Errorf("the log shows the token:\n%s", logs)
	}
	for _, want := range []string{"serving recommendations", "serving a new model version", "api: stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestServeNotReady runs serve on a lake without a model: it serves
// health and says why it is not ready, and stops cleanly.
func TestServeNotReady(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--lake", "file://"+dir+"/lake", "--vectors", dir+"/vectors", "--retry-max", "100ms")
	if code, body := s.get(t, "GET", "/healthz", ""); code != 200 {
		t.Errorf("healthz: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := s.get(t, "GET", "/readyz", "")
		if code == 503 && strings.Contains(string(body), `"code":"no_model"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := s.get(t, "POST", "/user_embeddings", "[]"); code != 503 || !strings.Contains(string(body), "recoflow train") {
		t.Errorf("user_embeddings without a model: %d %s", code, body)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.stderr.String(), "cannot load the recommendation engine; retrying") {
		t.Errorf("log:\n%s", s.stderr)
	}
}

func TestServeUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--listen", ""}, cli.ExitUsage, "--listen"},
		{[]string{"--vectors", "redis://cache:6379"}, cli.ExitUsage, "unknown scheme"},
		{[]string{"--version", "../x"}, cli.ExitUsage, "--version"},
		{[]string{"--auth-token", "two words"}, cli.ExitUsage, "white space"},
		{[]string{"--default-limit", "2000"}, cli.ExitUsage, "limit"},
		{[]string{"--listen", busy.Addr().String()}, cli.ExitFailure, "address already in use"},
	} {
		// A serve that starts despite a bad flag is stopped after 10 s.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cli.Run(ctx, append([]string{"serve", "--lake", "file://" + dir, "--vectors", dir + "/v"}, tc.args...),
			cli.Options{Getenv: func(string) (string, bool) { return "", false }})
		cancel()
		if cli.ExitCode(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v (exit %d), want exit %d mentioning %q", tc.args, err, cli.ExitCode(err), tc.code, tc.msg)
		}
	}
}
