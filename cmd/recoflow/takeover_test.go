package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStreamTakesOverEmbeddedBroker runs the README's stage commands as
// separate processes on the embedded broker: `recoflow produce` starts first,
// so it serves the broker's directory, and `recoflow stream` connects to it.
// When produce has published its events and exits, the stream must take
// over serving the directory and deliver every event exactly once; then
// Ctrl-C stops it with exit status 0, well within its shutdown grace.
func TestStreamTakesOverEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs produce and stream")
	}
	const events = 2000
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	run(t, bin, "demo", "--batch-only", "--dir", data, "--log-level", "warn")
	lakeDir := filepath.Join(data, "lake")
	natsDir := filepath.Join(dir, "nats")
	streamURL := "nats-embedded://" + natsDir

	// The events expected: the same seed's dry run.
	want := map[string]int{}
	dry := run(t, bin, "produce", "--dry-run", "--count", "2000", "--rate", "0", "--seed", "5")
	for _, line := range strings.Split(strings.TrimSpace(dry), "\n") {
		var ev struct {
			Session string `json:"session_id"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue // a log line
		}
		want[ev.Session]++
	}

	var prodOut bytes.Buffer
	prod := exec.Command(bin, "produce", "--stream", streamURL, "--rate", "200", "--count", "2000", "--seed", "5")
	prod.Stdout, prod.Stderr = &prodOut, &prodOut
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Process.Kill()
	waitFile(t, filepath.Join(natsDir, "server.url"), 5*time.Minute) // produce serves the directory

	logPath := filepath.Join(dir, "stream.log")
	logf, _ := os.Create(logPath)
	defer logf.Close()
	stream := exec.Command(bin, "stream", "--stream", streamURL, "--lake", "file://"+lakeDir,
		"--vectors", "file://"+filepath.Join(data, "vectors"), "--buffer-interval", "1s", "--progress-interval", "1h")
	stream.Stdout, stream.Stderr = logf, logf
	if err := stream.Start(); err != nil {
		t.Fatal(err)
	}
	defer stream.Process.Kill()
	streamLog := func() string { b, _ := os.ReadFile(logPath); return lastLines(string(b), 60) }

	// Once the stream is a client of produce's server, stop it (SIGSTOP)
	// until produce has published everything and exited: the stream then
	// has most of the events still to deliver, on a server that is gone.
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(streamLog(), "nats source open") {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not open its source:\n%s", streamLog())
		}
		time.Sleep(50 * time.Millisecond) // polling the log
	}
	if !strings.Contains(streamLog(), "embedded nats served by another process") {
		t.Fatalf("the stream is not a client of produce's server:\n%s", streamLog())
	}
	if err := stream.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := prod.Wait(); err != nil {
		t.Fatalf("produce: %v\n%s", err, prodOut.String())
	}
	before := countRecords(t, filepath.Join(lakeDir, "recommendations")) + countRecords(t, filepath.Join(lakeDir, "recommendations-errors"))
	if err := stream.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prodOut.String(), "produced 2,000 events") {
		t.Fatalf("produce's summary:\n%s", prodOut.String())
	}

	deadline = time.Now().Add(5 * time.Minute)
	for {
		n := countRecords(t, filepath.Join(lakeDir, "recommendations")) + countRecords(t, filepath.Join(lakeDir, "recommendations-errors"))
		if n >= events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events have an output 5 minutes after produce exited\n%s", n, events, streamLog())
		}
		time.Sleep(200 * time.Millisecond) // polling the lake
	}
	for !strings.Contains(streamLog(), "embedded nats started") {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not take over serving the directory:\n%s", streamLog())
		}
		time.Sleep(200 * time.Millisecond) // polling the log
	}

	t.Logf("%d of %d events had an output when produce's server went away", before, events)

	start := time.Now()
	stream.Process.Signal(os.Interrupt)
	if err := stream.Wait(); err != nil {
		t.Fatalf("stream after Ctrl-C: %v\n%s", err, streamLog())
	}
	d := time.Since(start)
	t.Logf("stopped %s after Ctrl-C", d.Round(time.Millisecond))
	if d > 20*time.Second { // the grace is 30 s; the bug used all of it
		t.Errorf("stream took %s to stop after Ctrl-C", d.Round(time.Millisecond))
	}

	got := countSessions(t, filepath.Join(lakeDir, "recommendations"), false)
	for s, n := range countSessions(t, filepath.Join(lakeDir, "recommendations-errors"), true) {
		got[s] += n
	}
	bad := 0
	for s, n := range want {
		if got[s] != n {
			bad++
			if bad <= 5 {
				t.Errorf("session %s: %d outputs for %d events", s, got[s], n)
			}
		}
	}
	if len(got) != len(want) || bad > 0 {
		t.Fatalf("%d sessions with outputs for %d produced; %d sessions with a wrong count", len(got), len(want), bad)
	}
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, within)
		}
		time.Sleep(50 * time.Millisecond) // polling the file
	}
}

// countRecords counts the NDJSON lines of the finished objects under dir.
func countRecords(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			n++
		}
		return nil
	})
	return n
}
