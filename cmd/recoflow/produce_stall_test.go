package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestProduceAfterStall stops a paced `recoflow produce` process (SIGSTOP)
// for two seconds part-way through, as a loaded machine or a slow broker
// can, then lets it go on: it must finish all its events, not sit silent.
// A stall of more than a second used to make its pacer wait for ever (the
// hang seen once in 22 runs of --rate 1000 --count 30000). It runs the
// process three times.
func TestProduceAfterStall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs produce three times")
	}
	bin := buildBinary(t)
	const count = 6000
	for run := range 3 {
		cmd := exec.Command(bin, "produce", "--dry-run", "--rate", "2000", "--count", fmt.Sprint(count),
			"--progress-interval", "200ms", "--seed", fmt.Sprint(run+1))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines atomic.Int64
		scanned := make(chan struct{})
		go func() {
			defer close(scanned)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				lines.Add(1)
			}
		}()
		waitFor := func(what string, within time.Duration, ok func() bool) {
			t.Helper()
			deadline := time.Now().Add(within)
			for !ok() {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("run %d: %s: %d of %d events written after %s\n%s", run, what, lines.Load(), count, within, stderr.String())
				}
				time.Sleep(20 * time.Millisecond) // polling the output
			}
		}
		waitFor("under way", 5*time.Minute, func() bool { return lines.Load() >= 500 })
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the stall itself, not a synchronisation
		if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		stalledAt := lines.Load()
		// 6,000 events at 2,000/s take 3 s on a quiet machine; minutes of
		// margin for a loaded one, and no end at all before the fix.
		waitFor("finish after the stall", 5*time.Minute, func() bool {
			select {
			case <-scanned:
				return true
			default:
				return false
			}
		})
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, stderr.String())
		}
		if n := lines.Load(); n != count {
			t.Fatalf("run %d: %d events written, want %d", run, n, count)
		}
		if !strings.Contains(stderr.String(), "msg=progress") || !strings.Contains(stderr.String(), "pending=") {
			t.Errorf("run %d: no progress lines with pending counts:\n%s", run, stderr.String())
		}
		t.Logf("run %d: stalled at %d events, finished all %d", run, stalledAt, count)
	}
}
