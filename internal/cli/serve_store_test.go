package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/cli"
)

// eventually polls cond until it holds, failing the test with what() after
// a generous deadline.
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedStore trains version v1 into a fresh lake and loads its vectors
// into a fresh embedded store; it returns both URLs.
func servedStore(t *testing.T) (lakeURL, vecURL string) {
	t.Helper()
	dir := t.TempDir()
	writeDataset(t, dir+"/lake", trainingRecords(40, 24))
	lakeURL, vecURL = "file://"+dir+"/lake", "file://"+dir+"/vectors"
	if _, stderr, err := trainCLI(t, "train", "--lake", lakeURL, "--version", "v1", "--epochs", "2"); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	if _, stderr, err := trainCLI(t, "vectors", "load", "--lake", lakeURL, "--vectors", vecURL); err != nil {
		t.Fatalf("vectors load: %v\n%s", err, stderr)
	}
	return lakeURL, vecURL
}

// TestServeKeepsOneStore: serve opens its vector store once, refreshes it
// once per --reload-interval, and closes it when it stops.
func TestServeKeepsOneStore(t *testing.T) {
	lakeURL, vecURL := servedStore(t)
	c := cli.CountStores(t, vecURL)
	s := startServe(t, nil, "--lake", lakeURL, "--vectors", vecURL, "--reload-interval", "20ms")
	s.waitReady(t, "v1")
	for range 5 {
		if code, body := s.get(t, "GET", "/items_from_item?item_id=S10_0003&limit=2", ""); code != 200 {
			t.Fatalf("items_from_item: %d %s", code, body)
		}
	}
	// Many reload checks later, still the one store.
	eventually(t, func() bool { _, _, _, r := c.Counts(); return r >= 10 },
		func() string { o, n, m, r := c.Counts(); return fmtCounts(o, n, m, r) + ": too few refreshes" })
	if opened, open, most, _ := c.Counts(); opened != 1 || open != 1 || most != 1 {
		t.Errorf("while serving: %s, want one store opened and open", fmtCounts(c.Counts()))
	}
	stopClosesStore(t, s, c)
}

// TestServeClosesAFailedStore: when the engine cannot be built on the
// store (the lake has no model for the store's version), serve closes the
// store before it retries, so failed attempts never hold two stores.
func TestServeClosesAFailedStore(t *testing.T) {
	_, vecURL := servedStore(t)
	emptyLake := "file://" + t.TempDir()
	c := cli.CountStores(t, vecURL)
	s := startServe(t, nil, "--lake", emptyLake, "--vectors", vecURL, "--retry-max", "50ms")
	eventually(t, func() bool { o, n, _, _ := c.Counts(); return o >= 3 && n == 0 },
		func() string { return fmtCounts(c.Counts()) + ": want three failed attempts, their stores closed" })
	if _, _, most, _ := c.Counts(); most != 1 {
		t.Errorf("%s: want at most one store open at a time", fmtCounts(c.Counts()))
	}
	stopClosesStore(t, s, c)
	if !strings.Contains(s.stderr.String(), "cannot load the recommendation engine; retrying") {
		t.Errorf("log:\n%s", s.stderr)
	}
}

// TestServeHotReloadKeepsOneStore: a version loaded into the store while
// serve runs is served, on the same store.
func TestServeHotReloadKeepsOneStore(t *testing.T) {
	lakeURL, vecURL := servedStore(t)
	c := cli.CountStores(t, vecURL)
	s := startServe(t, nil, "--lake", lakeURL, "--vectors", vecURL, "--reload-interval", "50ms")
	s.waitReady(t, "v1")

	if _, stderr, err := trainCLI(t, "train", "--lake", lakeURL, "--version", "v2", "--epochs", "1"); err != nil {
		t.Fatalf("train v2: %v\n%s", err, stderr)
	}
	if _, stderr, err := trainCLI(t, "vectors", "load", "--lake", lakeURL, "--vectors", vecURL); err != nil {
		t.Fatalf("vectors load v2: %v\n%s", err, stderr)
	}
	s.waitReady(t, "v2")
	if code, body := s.get(t, "GET", "/items_from_item?item_id=S10_0003&limit=2", ""); code != 200 {
		t.Errorf("after the reload: %d %s", code, body)
	}
	if opened, open, most, _ := c.Counts(); opened != 1 || open != 1 || most != 1 {
		t.Errorf("after the reload: %s, want one store opened and open", fmtCounts(c.Counts()))
	}
	stopClosesStore(t, s, c)
	logs := s.stderr.String()
	for _, want := range []string{"vector store switched version", "serving a new model version"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestServeGOGC: serve collects garbage at GOGC=25 unless the environment
// sets GOGC, and puts the setting back when it stops.
func TestServeGOGC(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	before := debug.SetGCPercent(77)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	dir := t.TempDir()
	args := []string{"--lake", "file://" + dir + "/lake", "--vectors", dir + "/vectors", "--retry-max", "100ms"}

	s := startServe(t, nil, args...)
	if p := gcPercent(); p != 25 {
		t.Errorf("GOGC unset: serve runs with %d, want 25", p)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if p := gcPercent(); p != 77 {
		t.Errorf("after serve stopped: %d, want the setting before it (77)", p)
	}

	s = startServe(t, map[string]string{"GOGC": "77"}, args...)
	if p := gcPercent(); p != 77 {
		t.Errorf("GOGC=77 in the environment: serve runs with %d, want it left alone", p)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := cli.Run(context.Background(), []string{"serve", "--help"}, cli.Options{Stdout: &out, Stderr: &out,
		Getenv: func(string) (string, bool) { return "", false }}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "GOGC=25") {
		t.Errorf("serve --help does not tell about GOGC=25:\n%s", out.String())
	}
}

func fmtCounts(opened, open, most, refreshes int) string {
	return fmt.Sprintf("opened %d, open %d, at most %d at once, %d refreshes", opened, open, most, refreshes)
}

// stopClosesStore stops serve and checks that no store it opened is left
// open.
func stopClosesStore(t *testing.T, s *serving, c *cli.StoreCount) {
	t.Helper()
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, open, _, _ := c.Counts(); open != 0 {
		t.Errorf("after serve stopped: %s, want none open", fmtCounts(c.Counts()))
	}
}
