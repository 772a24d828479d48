package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/connect"
)

// TestStreamSurvivesKill publishes 20,000 shopper events, kills the
// `recoflow stream` process with SIGKILL several times, each time once its
// outputs have grown by a random amount (not on a timer: a loaded machine
// may take long to start it), restarting it each time, and then checks that every event has exactly
// one output record or exactly one error record in the lake.
func TestStreamSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and streams 20,000 events through several crashes")
	}
	const events = 20000
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	run(t, bin, "demo", "--batch-only", "--dir", data, "--log-level", "warn")
	lakeDir := filepath.Join(data, "lake")
	// A short ack wait, so that what a killed process held comes back fast.
	streamURL := "nats-embedded://" + filepath.Join(dir, "nats") + "?ack_wait=2s"

	// Publish the events while the stream processes run and are killed,
	// paced so that the kills land part-way through; 1 in 50 is malformed
	// on purpose. The test process hosts the embedded broker, as a broker
	// outlives its consumers.
	ctx := context.Background()
	prod, err := connect.Producer(ctx, streamURL, connect.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{"S10_1678", "S10_1949", "S12_1108", "S18_2625", "S24_1444", "S700_2824"}
	rng := rand.New(rand.NewPCG(1, 2))
	malformed := 0
	var evs [][]byte
	for i := 0; i < events; i++ {
		session := fmt.Sprintf("crash-%05d", i)
		var ev string
		if i%50 == 7 {
			malformed++
			ev = fmt.Sprintf(`{"session_id":%q,"customer_number":1,"city":"Nantes","country":"France","credit_limit":10,"browse_history":[{"product_code":"S10_1678","quantity":"many","in_shopping_cart":true}]}`, session)
		} else {
			ev = fmt.Sprintf(`{"session_id":%q,"customer_number":%d,"city":"Nantes","country":"France","credit_limit":%d,"browse_history":[{"product_code":%q,"quantity":"%d","in_shopping_cart":%v}]}`,
				session, 100+rng.IntN(400), 1000*rng.IntN(100), codes[rng.IntN(len(codes))], 1+rng.IntN(9), rng.IntN(2) == 0)
		}
		evs = append(evs, []byte(ev))
	}
	published := make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond) // 25 events a tick: 2,500/s
		defer tick.Stop()
		for i := 0; i < events; i += 25 {
			<-tick.C
			for j := i; j < min(i+25, events); j++ {
				if err := prod.Publish(ctx, fmt.Sprintf("crash-%05d", j), evs[j]); err != nil {
					published <- err
					return
				}
			}
		}
		published <- prod.Flush(ctx)
	}()
	defer prod.Close(ctx)

	args := []string{"stream", "--stream", streamURL, "--lake", "file://" + lakeDir, "--vectors", "file://" + filepath.Join(data, "vectors"),
		"--buffer-interval", "300ms", "--buffer-size", "64KiB", "--max-batch", "200", "--log-format", "json", "--progress-interval", "1h"}
	outputs := func() int {
		return len(countSessions(t, filepath.Join(lakeDir, "recommendations"), false)) + len(countSessions(t, filepath.Join(lakeDir, "recommendations-errors"), true))
	}
	kills := 0
	midway := false
	for attempt := 0; attempt < 5; attempt++ {
		before := outputs()
		if before >= events {
			break
		}
		cmd := exec.Command(bin, args...)
		logPath := filepath.Join(dir, fmt.Sprintf("stream-%d.log", attempt))
		logf, _ := os.Create(logPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill on evidence that this run is working: once its outputs have
		// grown by a random amount (at least one), however long that takes
		// on a loaded machine.
		target := min(before+1+rng.IntN(400), events)
		deadline := time.Now().Add(5 * time.Minute)
		for outputs() < target {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				logData, _ := os.ReadFile(logPath)
				t.Fatalf("stream run %d made no progress past %d outputs in 5 minutes\n%s", attempt, before, lastLines(string(logData), 20))
			}
			time.Sleep(50 * time.Millisecond) // polling the lake
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		logf.Close()
		kills++
		done := outputs()
		t.Logf("after kill %d: %d of %d events have an output", kills, done, events)
		if done > 0 && done < events {
			midway = true
		}
	}
	if err := <-published; err != nil {
		t.Fatalf("publish: %v", err)
	}
	if !midway {
		t.Fatal("no kill landed while the stream was part-way through the events; the test proved nothing")
	}

	// The last run goes on until every event has its output, then stops
	// gracefully on SIGINT.
	cmd := exec.Command(bin, args...)
	logPath := filepath.Join(dir, "stream-final.log")
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	var outs, errs map[string]int
	for {
		outs = countSessions(t, filepath.Join(lakeDir, "recommendations"), false)
		errs = countSessions(t, filepath.Join(lakeDir, "recommendations-errors"), true)
		if len(outs)+len(errs) >= events || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // polling the lake
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		logData, _ := os.ReadFile(logPath)
		t.Errorf("final stream run: %v\n%s", err, lastLines(string(logData), 20))
	}
	logf.Close()
	outs = countSessions(t, filepath.Join(lakeDir, "recommendations"), false)
	errs = countSessions(t, filepath.Join(lakeDir, "recommendations-errors"), true)

	var missing, dup, both int
	for i := 0; i < events; i++ {
		s := fmt.Sprintf("crash-%05d", i)
		n := outs[s] + errs[s]
		switch {
		case n == 0:
			missing++
		case n > 1:
			dup++
		}
		if outs[s] > 0 && errs[s] > 0 {
			both++
		}
	}
	t.Logf("%d kills; %d outputs, %d error records", kills, len(outs), len(errs))
	if missing > 0 || dup > 0 || both > 0 {
		t.Fatalf("after %d kills: %d events without output, %d with more than one, %d with both an output and an error record", kills, missing, dup, both)
	}
	if len(errs) != malformed {
		t.Errorf("%d error records, want the %d malformed events", len(errs), malformed)
	}
}

// countSessions counts, per session_id, the NDJSON records under dir
// (output records, or error records whose raw input holds the session).
func countSessions(t *testing.T, dir string, errorRecords bool) map[string]int {
	t.Helper()
	counts := map[string]int{}
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
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				t.Errorf("%s: a line is not JSON: %.100s", p, sc.Text())
				continue
			}
			if errorRecords {
				raw, _ := rec["raw"].(string)
				var in map[string]any
				if json.Unmarshal([]byte(raw), &in) == nil {
					if s, ok := in["session_id"].(string); ok {
						counts[s]++
					}
				}
				continue
			}
			if s, ok := rec["session_id"].(string); ok {
				counts[s]++
			}
		}
		return nil
	})
	return counts
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
