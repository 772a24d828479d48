package cli_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/connect"
)

func TestProduceDryRun(t *testing.T) {
	out, stderr, err := runCLI(t, "produce", "--dry-run", "--count", "25", "--rate", "0", "--seed", "7")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 25 {
		t.Fatalf("%d lines, want 25:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if _, err := event.Decode([]byte(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	again, _, _ := runCLI(t, "produce", "--dry-run", "--count", "25", "--rate", "0", "--seed", "7")
	if again != out {
		t.Error("the same seed gave different events")
	}
}

// readBack reads n events from the stream at url and returns how many
// distinct sessions they came from.
func readBack(t *testing.T, url string, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := connect.Stream(ctx, url, connect.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	sessions := map[string]bool{}
	for got := 0; got < n; {
		b, ack, err := src.ReadBatch(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", got, n, err)
		}
		for _, m := range b {
			e, err := event.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Key != e.SessionID {
				t.Fatalf("message key %q is not the session id %q", m.Key, e.SessionID)
			}
			sessions[m.Key] = true
		}
		got += len(b)
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return len(sessions)
}

func TestProduceEmbedded(t *testing.T) {
	url := "nats-embedded://" + t.TempDir()
	out, stderr, err := runCLI(t, "produce", "--stream", url, "--count", "300", "--rate", "0", "--progress-interval", "1ns")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "produced 300 events") || !strings.Contains(out, "(unpaced)") ||
		!strings.Contains(out, "next: recoflow stream --stream "+url) {
		t.Errorf("summary:\n%s", out)
	}
	if !strings.Contains(stderr, "msg=progress") || !strings.Contains(stderr, "msg=produced") {
		t.Errorf("log:\n%s", stderr)
	}
	if s := readBack(t, url, 300); s < 20 {
		t.Errorf("300 events from only %d sessions", s)
	}
}

func TestProduceRate(t *testing.T) {
	start := time.Now()
	out, stderr, err := runCLI(t, "produce", "--stream", "nats-embedded://"+t.TempDir(), "--count", "30", "--rate", "100")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("30 events at 100/s took %s", d)
	}
	m := regexp.MustCompile(`rate +(\d+) events/s \(target 100/s\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("summary:\n%s", out)
	}
	// Only the upper bound: a loaded machine may well be slower.
	if r, _ := strconv.Atoi(m[1]); r > 130 {
		t.Errorf("achieved %d events/s, target 100", r)
	}
}

// TestProduceKafka publishes to franz-go's in-process kfake cluster (no
// Kafka broker can be installed here).
func TestProduceKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "shopper-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := "kafka://" + strings.Join(c.ListenAddrs(), ",") + "/shopper-events"
	if _, stderr, err := runCLI(t, "produce", "--stream", url, "--count", "100", "--rate", "0"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	readBack(t, url, 100)
}

func TestProduceUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	errb := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, []string{"produce", "--stream", "nats-embedded://" + t.TempDir(), "--count", "0", "--rate", "200",
			"--progress-interval", "50ms"},
			cli.Options{Stdout: &out, Stderr: errb, Getenv: func(string) (string, bool) { return "", false }})
	}()
	// Interrupt it (as a SIGINT does in main) once it is under way: a
	// progress line with acknowledged events.
	deadline := time.Now().Add(2 * time.Minute)
	for !regexp.MustCompile(`msg=progress .*acked=[1-9]`).MatchString(errb.String()) {
		select {
		case err := <-done:
			t.Fatalf("returned before it was interrupted: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress within 2 minutes:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond) // polling the log
	}
	cancel()
	if err := <-done; err != nil { // an interrupted --count 0 run ends without error, with a summary
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "produced ") {
		t.Errorf("no summary:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
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

func TestProduceUsage(t *testing.T) {
	for _, args := range [][]string{
		{"produce", "--rate", "-1"},
		{"produce", "--count", "-5"},
		{"produce", "--new-shoppers", "1.5"},
		{"produce", "--sessions", "-2"},
		{"produce", "extra-arg"},
	} {
		_, _, err := runCLI(t, args...)
		if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%v: exit %d (%v), want %d", args, cli.ExitCode(err), err, cli.ExitUsage)
		}
	}
	_, _, err := runCLI(t, "produce", "--stream", "redis://x")
	if err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("bad stream URL: %v", err)
	}
	out, _, err := runCLI(t, "produce", "--help")
	if err != nil || !strings.Contains(out, "kinesis://STREAM") || !strings.Contains(out, `"quantity":"2"`) {
		t.Errorf("--help: %v\n%s", err, out)
	}
}
