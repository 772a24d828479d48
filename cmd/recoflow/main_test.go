package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/training"
)

// buildBinary compiles recoflow once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "recoflow")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("recoflow %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestETLSurvivesKill kills a running `recoflow etl` process with SIGKILL at
// several moments and checks, each time, that the committed dataset is the
// previous one, complete and readable; then a clean re-run commits.
func TestETLSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and moves 100k rows several times")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	src := "sqlite://" + filepath.Join(dir, "shop.db")
	lakeDir := filepath.Join(dir, "lake")
	lakeURL := "file://" + lakeDir

	run(t, bin, "seed", "--source", src, "--dataset", "generated", "--ratings", "150000", "--seed", "1")
	run(t, bin, "etl", "--source", src, "--lake", lakeURL)
	b, err := lakefile.Open(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := training.ReadManifest(context.Background(), b, mustLocation(t, b))
	if err != nil {
		t.Fatal(err)
	}
	// New source data, so a committed second run would be visible.
	run(t, bin, "seed", "--source", src, "--dataset", "generated", "--ratings", "100000", "--seed", "2", "--replace")

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for attempt := 0; attempt < 4; attempt++ {
		cmd := exec.Command(bin, "etl", "--source", src, "--lake", lakeURL, "--progress-interval", "20ms", "--log-format", "json")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the run to be under way (a progress line with rows),
		// then kill it after a random further delay.
		started := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			signalled := false
			for sc.Scan() {
				var line struct {
					Msg  string `json:"msg"`
					Rows int64  `json:"rows"`
				}
				if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "progress" && line.Rows > 0 && !signalled {
					close(started)
					signalled = true
				}
			}
			io.Copy(io.Discard, stderr)
		}()
		select {
		case <-started:
		case <-time.After(5 * time.Minute): // generous: CI runs on a loaded machine
			cmd.Process.Kill()
			t.Fatal("etl made no progress within 5 minutes")
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if err == nil {
			// The run finished before the kill landed: it committed, which
			// is also a correct outcome, but then later kills test nothing.
			t.Logf("attempt %d: etl finished before SIGKILL", attempt)
			first, err = training.ReadManifest(context.Background(), b, mustLocation(t, b))
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		checkCommitted(t, b, lakeDir, first)
	}

	// A generous --gc-wait: on a loaded machine the removal of the killed
	// runs' files may outlast the run, which then leaves it to the next.
	out := run(t, bin, "etl", "--source", src, "--lake", lakeURL, "--gc-wait", "10m")
	if !strings.Contains(out, "etl committed run") {
		t.Fatalf("re-run output:\n%s", out)
	}
	m, err := training.ReadManifest(context.Background(), b, mustLocation(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if m.RunID == first.RunID || m.Rows != 100000-m.Rejected {
		t.Fatalf("after the re-run the committed run is %s with %d rows; want a new run with the 100000 new ratings", m.RunID, m.Rows)
	}
	checkCommitted(t, b, lakeDir, m)
	// Killed runs left staged files; the successful run removed them.
	runs, _ := os.ReadDir(filepath.Join(lakeDir, ".recoflow", "runs", training.Dataset))
	if len(runs) > 2 {
		var names []string
		for _, r := range runs {
			names = append(names, r.Name())
		}
		t.Errorf("staged runs left after a successful run: %v (want the current and the previous only)", names)
	}
}

func mustLocation(t *testing.T, b *lakefile.Bucket) string {
	t.Helper()
	loc, err := training.Location(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// checkCommitted reads the whole committed dataset and checks it is run
// want, complete.
func checkCommitted(t *testing.T, b *lakefile.Bucket, lakeDir string, want *training.Manifest) {
	t.Helper()
	var n int64
	m, err := training.Read(context.Background(), b, func(*training.Record) error { n++; return nil })
	if err != nil {
		t.Fatalf("committed dataset unreadable: %v", err)
	}
	if m.RunID != want.RunID || n != want.Rows {
		t.Fatalf("committed dataset is run %s with %d rows, want run %s with %d", m.RunID, n, want.RunID, want.Rows)
	}
	// What an outside reader globbing the dataset sees is that run only.
	files, _ := filepath.Glob(filepath.Join(lakeDir, training.Dataset, "customerNumber=*", "*.parquet"))
	for _, f := range files {
		if !strings.Contains(filepath.Base(f), want.RunID) {
			t.Fatalf("glob finds %s, not a file of run %s", f, want.RunID)
		}
	}
	if len(files) == 0 {
		t.Fatalf("glob finds no files of run %s", want.RunID)
	}
}

// TestDemo runs the README's first command as a user would, twice (the
// second run must replace the first run's data without errors).
func TestDemo(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		cmd := exec.Command(bin, "demo", "--batch-only", "--log-level", "warn")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo run %d: %v\n%s", i+1, err, out)
		}
		for _, want := range []string{"etl committed run", "trained hybrid model", "loaded model version", "Where everything is"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("demo run %d output lacks %q:\n%s", i+1, want, out)
			}
		}
	}
	b, err := lakefile.Open(filepath.Join(dir, "recoflow-data", "lake"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := training.Read(context.Background(), b, func(*training.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 2532 {
		t.Errorf("demo's training dataset has %d rows, want 2532", n)
	}
	latest, err := os.ReadFile(filepath.Join(dir, "recoflow-data", "lake", "ml-artifacts", "LATEST"))
	if err != nil {
		t.Fatalf("no model published: %v", err)
	}
	v := strings.TrimSpace(string(latest))
	for _, f := range []string{"embeddings/item_embeddings.csv", "embeddings/user_embeddings.csv", "metrics.json"} {
		if _, err := os.Stat(filepath.Join(dir, "recoflow-data", "lake", "ml-artifacts", v, f)); err != nil {
			t.Errorf("model artifact %s: %v", f, err)
		}
	}
}
