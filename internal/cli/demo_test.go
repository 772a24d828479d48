package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// TestDemoListenBusy: with its address taken the demo fails at once, says
// what to do, and runs no batch stage.
func TestDemoListenBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := filepath.Join(t.TempDir(), "demo")
	var out, errb syncBuffer
	err = Run(context.Background(), []string{"demo", "--dir", dir, "--listen", l.Addr().String()},
		Options{Stdout: &out, Stderr: &errb, Getenv: func(string) (string, bool) { return "", false }})
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--listen "+l.Addr().String()) ||
		!strings.Contains(err.Error(), "--listen 127.0.0.1:0") {
		t.Fatalf("exit %d, error %v; want a usage error naming the address and suggesting --listen 127.0.0.1:0", ExitCode(err), err)
	}
	if strings.Contains(out.String(), "== 1/4") {
		t.Errorf("the batch stages ran before the address was checked:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "shop.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo seeded a shop database before failing (%v)", err)
	}
}

// TestDemoKeepsDashboardInView: while live, the demo reprints the
// dashboard's address, and the producer draws no progress lines over it
// (on a terminal it redrew one five times a second).
func TestDemoKeepsDashboardInView(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	defer func(d time.Duration) { demoStatusInterval = d }(demoStatusInterval)
	demoStatusInterval = 100 * time.Millisecond
	dir := filepath.Join(t.TempDir(), "demo")
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"demo", "--dir", dir, "--listen", "127.0.0.1:0", "--rate", "500", "--log-level", "warn"},
			Options{Stdout: &out, Stderr: &errb, IsTerminal: true, Getenv: func(string) (string, bool) { return "", false }})
	}()
	status := regexp.MustCompile(`== live for \S+: [\d,]+ events processed · dashboard (http://127\.0\.0\.1:\d+/dashboard/) · Ctrl-C stops`)
	dash := regexp.MustCompile(`dashboard +(http://\S+/dashboard/)`)
	deadline := time.Now().Add(10 * time.Minute) // the batch stages run first: slow under -race on a loaded machine
	for len(status.FindAllString(out.String(), -1)) < 3 {
		select {
		case err := <-done:
			t.Fatalf("the demo ended: %v\n%s\n%s", err, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status lines after 10 minutes:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	first := dash.FindStringSubmatch(out.String())
	last := status.FindAllStringSubmatch(out.String(), -1)
	if first == nil || last[len(last)-1][1] != first[1] {
		t.Errorf("the status lines do not repeat the dashboard's address %v:\n%s", first, out.String())
	}
	if strings.Contains(errb.String(), "produce:") || strings.Contains(errb.String(), "stage=produce") {
		t.Errorf("the producer printed progress lines in the demo:\n%s", errb.String())
	}
}
