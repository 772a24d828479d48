package nats

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/stream"
	"github.com/recoflow/recoflow/stream/streamtest"
)

func open[T any](t testing.TB, fn func(context.Context, Config) (T, error), cfg Config) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := fn(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func env(base Config) streamtest.Env {
	return streamtest.Env{
		Producer: func(t *testing.T) stream.Producer { return open(t, NewProducer, base) },
		Source: func(t *testing.T, group string, _, _ int, o stream.SourceOptions) stream.Source {
			cfg := base
			cfg.Consumer = group
			cfg.Source = o
			return open(t, NewSource, cfg)
		},
		Wait: 2 * time.Minute, // generous: CI is a loaded machine
	}
}

// TestEmbeddedAcceptance runs the suite on the embedded server. The server
// is kept up for each whole case (a producer holds it), so a consumer
// restart is one of the process's Sources closing and another opening;
// TestEmbeddedServerRestart covers the restart of the server itself.
func TestEmbeddedAcceptance(t *testing.T) {
	streamtest.Run(t, func(t *testing.T) streamtest.Env {
		cfg := Config{EmbeddedDir: t.TempDir()}
		keep := open(t, NewProducer, cfg)
		t.Cleanup(func() { keep.Close(context.Background()) })
		return env(cfg)
	})
}

// TestEmbeddedServerRestart: when the process serving the embedded
// directory stops (its last Source closes) with messages unacked, the next
// server from the same directory delivers them again — once AckWait has
// passed since they were handed out, as the server restores its pending
// messages with their delivery times — while acked ones never come back.
func TestEmbeddedServerRestart(t *testing.T) {
	ctx := context.Background()
	cfg := Config{EmbeddedDir: t.TempDir(), AckWait: time.Second}
	p := open(t, NewProducer, cfg)
	for i := range 20 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Source.MaxBatch = 10
	s := open(t, NewSource, cfg)
	first, ack, err := s.ReadBatch(ctx)
	if err != nil || len(first) != 10 {
		t.Fatalf("first batch: %d, %v", len(first), err)
	}
	if err := ack(ctx); err != nil {
		t.Fatal(err)
	}
	second, _, err := s.ReadBatch(ctx)
	if err != nil || len(second) != 10 {
		t.Fatalf("second batch: %d, %v", len(second), err)
	}
	if err := s.Close(ctx); err != nil { // the last user: the server stops
		t.Fatal(err)
	}
	embeddedMu.Lock()
	_, running := embeddedBy[cfg.EmbeddedDir]
	embeddedMu.Unlock()
	if running {
		t.Fatal("the embedded server is still running")
	}

	start := time.Now()
	s = open(t, NewSource, cfg)
	defer s.Close(ctx)
	want := map[string]string{}
	for _, m := range second {
		want[string(m.Data)] = m.ID
	}
	for len(want) > 0 {
		rctx, cancel := context.WithTimeout(ctx, time.Minute) // generous: CI is a loaded machine
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for %d unacked messages after the restart: %v", len(want), err)
		}
		for _, m := range b {
			id, ok := want[string(m.Data)]
			if !ok || id != m.ID {
				t.Fatalf("after the restart got %s (%s), which was acked or is unknown", m.Data, m.ID)
			}
			delete(want, string(m.Data))
		}
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("unacked messages back %s after the server restarted (AckWait %s)", time.Since(start).Round(time.Millisecond), cfg.AckWait)
}

// realNATS returns a Config for a stream of its own on the real server of
// RECOFLOW_TEST_NATS, deleted when the test ends.
func realNATS(t testing.TB) Config {
	url := testenv.URL(t, testenv.NATSVar)
	suffix := randomSuffix()
	cfg := Config{URL: url, Stream: "RFTEST_" + suffix, Subject: "recoflow.test." + suffix}
	t.Cleanup(func() {
		nc, err := natsgo.Connect(url)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, cfg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("cleanup: delete stream %s: %v", cfg.Stream, err)
		}
	})
	return cfg
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

func TestServerAcceptance(t *testing.T) {
	testenv.URL(t, testenv.NATSVar) // skip the whole suite without the service
	streamtest.Run(t, func(t *testing.T) streamtest.Env { return env(realNATS(t)) })
}

// TestHeartbeatKeepsBatch holds a batch unacked for longer than AckWait:
// the in-progress acks must keep the server from handing it to another
// consumer of the group.
func TestHeartbeatKeepsBatch(t *testing.T) {
	cfg := Config{EmbeddedDir: t.TempDir(), AckWait: 2 * time.Second} // heartbeats every AckWait/3: room for a loaded machine
	p := open(t, NewProducer, cfg)
	ctx := context.Background()
	for i := range 5 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a := open(t, NewSource, cfg)
	defer a.Close(ctx)
	b := open(t, NewSource, cfg)
	defer b.Close(ctx)

	var held stream.Batch
	var ackA stream.AckFunc
	for len(held) < 5 {
		batch, ack, err := a.ReadBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, batch...)
		ackA = ack
		if len(held) < 5 { // the suite covers multi-batch acks; keep this simple
			if err := ack(ctx); err != nil {
				t.Fatal(err)
			}
			held = nil
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 4*cfg.AckWait)
	batch, _, err := b.ReadBatch(rctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("another consumer got %d held messages after %s (AckWait %s): %v", len(batch), 4*cfg.AckWait, cfg.AckWait, err)
	}
	if err := ackA(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCrashedConsumerRedelivered: a process that dies holding messages
// (no Close, so no negative acks) gets them redelivered to the rest of the
// group after AckWait, with the same IDs.
func TestCrashedConsumerRedelivered(t *testing.T) {
	cfg := Config{EmbeddedDir: t.TempDir(), AckWait: 500 * time.Millisecond}
	p := open(t, NewProducer, cfg)
	ctx := context.Background()
	for i := range 3 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	defer p.Close(ctx)
	a := open(t, NewSource, cfg)
	got, _, err := a.ReadBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The crash: the heartbeats stop and the connection drops.
	close(a.stopHB)
	<-a.hbDone
	a.c.nc.Close()
	// Released last: the crashed source still holds its share of the
	// embedded server, which must stop before the directory is removed.
	defer a.c.close()

	b := open(t, NewSource, cfg)
	defer b.Close(ctx)
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.ID] = true
	}
	start := time.Now()
	for len(ids) > 0 {
		rctx, cancel := context.WithTimeout(ctx, time.Minute) // generous: CI is a loaded machine
		batch, ack, err := b.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for the crashed consumer's messages: %v", err)
		}
		for _, m := range batch {
			if !ids[m.ID] {
				t.Fatalf("unexpected %s", m.ID)
			}
			delete(ids, m.ID)
		}
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("redelivered after %s (AckWait %s)", time.Since(start).Round(time.Millisecond), cfg.AckWait)
}

// TestEmbeddedSharedAcrossProcesses runs the embedded server in a second
// process (this test binary, as a helper) and checks that opening the same
// directory here connects to it, and that what was published is stored in
// the directory for the next server.
func TestEmbeddedSharedAcrossProcesses(t *testing.T) {
	if os.Getenv("RECOFLOW_NATS_HELPER_DIR") != "" {
		t.Skip("helper process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbeddedHelperProcess$")
	cmd.Env = append(os.Environ(), "RECOFLOW_NATS_HELPER_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper: %q, %v", line, err)
	}

	ctx := context.Background()
	p := open(t, NewProducer, Config{EmbeddedDir: dir})
	if !strings.HasPrefix(p.c.nc.ConnectedAddr(), "127.0.0.1:") {
		t.Errorf("producer connected to %q, want the helper's loopback server", p.c.nc.ConnectedAddr())
	}
	for i := range 10 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stdin.Close() // the helper shuts its server down and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}

	s := open(t, NewSource, Config{EmbeddedDir: dir}) // now served here, from the same files
	defer s.Close(ctx)
	n := 0
	for n < 10 {
		rctx, cancel := context.WithTimeout(ctx, time.Minute) // generous: CI is a loaded machine
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d of 10: %v", n, err)
		}
		n += len(b)
		ack(ctx)
	}
}

func TestEmbeddedHelperProcess(t *testing.T) {
	dir := os.Getenv("RECOFLOW_NATS_HELPER_DIR")
	if dir == "" {
		t.Skip("runs only as TestEmbeddedSharedAcrossProcesses's helper")
	}
	p := open(t, NewProducer, Config{EmbeddedDir: dir})
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	p.Close(context.Background())
	if _, err := os.Stat(filepath.Join(dir, urlFile)); !os.IsNotExist(err) {
		t.Errorf("server.url left behind: %v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "exactly one"},
		{Config{URL: "nats://x", EmbeddedDir: "d"}, "exactly one"},
		{Config{URL: "nats://x", Stream: "a.b"}, "stream name"},
		{Config{URL: "nats://x", Consumer: "a b"}, "consumer name"},
		{Config{URL: "nats://x", AckWait: time.Millisecond}, "AckWait"},
		{Config{URL: "nats://x", Source: stream.SourceOptions{MaxBatch: 10, MaxInFlight: 5}}, "MaxInFlight"},
	} {
		if _, err := tc.cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about %s", tc.cfg, err, tc.want)
		}
	}
	c, err := Config{URL: "nats://u:secret@h:4222,nats://h2:4222", Source: stream.SourceOptions{MaxInFlight: 1000}}.withDefaults()
	if err != nil || c.MaxAckPending != 4000 || c.where() != "nats://xxxxx@h:4222,nats://h2:4222" {
		t.Errorf("defaults: %+v %v (%s)", c, err, c.where())
	}
}

func TestSubjectCovers(t *testing.T) {
	for _, tc := range []struct {
		pat, sub string
		want     bool
	}{
		{"a.b", "a.b", true}, {"a.*", "a.b", true}, {"a.>", "a.b.c", true}, {">", "a", true},
		{"a.b", "a.c", false}, {"a.*", "a.b.c", false}, {"a.>", "a", false}, {"a.*", "a.>", false}, {"a.b.c", "a.b", false},
	} {
		if got := subjectCovers(tc.pat, tc.sub); got != tc.want {
			t.Errorf("subjectCovers(%q, %q) = %v", tc.pat, tc.sub, got)
		}
	}
}

func TestExistingStreamWithoutSubject(t *testing.T) {
	dir := t.TempDir()
	p := open(t, NewProducer, Config{EmbeddedDir: dir, Subject: "other.subject"})
	defer p.Close(context.Background())
	_, err := NewSource(context.Background(), Config{EmbeddedDir: dir})
	if !errors.Is(err, stream.ErrNotFound) || !strings.Contains(err.Error(), "other.subject") {
		t.Errorf("source on a stream that does not capture its subject: %v", err)
	}
}

// TestMaxAckPendingBackpressure: when the group's server-side bound on
// unacked messages is reached, ReadBatch waits (it is backpressure, not an
// error) and goes on after an ack.
func TestMaxAckPendingBackpressure(t *testing.T) {
	ctx := context.Background()
	// The pull request of the timed-out ReadBatch below stays live; the
	// next ReadBatch takes what it brings (TestReadAfterAbandonedWait), so a
	// long AckWait does not slow the test.
	cfg := Config{EmbeddedDir: t.TempDir(), MaxAckPending: 5, AckWait: time.Hour, Source: stream.SourceOptions{MaxBatch: 5}}
	p := open(t, NewProducer, cfg)
	for i := range 12 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := open(t, NewSource, cfg)
	defer s.Close(ctx)
	var held []stream.AckFunc
	n := 0
	for n < 5 {
		b, ack, err := s.ReadBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(b)
		held = append(held, ack)
	}
	rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	b, _, err := s.ReadBatch(rctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadBatch at MaxAckPending = %d messages, %v; want to wait", len(b), err)
	}
	for _, ack := range held {
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for n < 12 {
		rctx, cancel := context.WithTimeout(ctx, time.Minute) // generous: CI is a loaded machine
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after the acks: %v", err)
		}
		n += len(b)
		ack(ctx)
	}
}

// TestReadAfterAbandonedWait: a ReadBatch whose ctx ends while its pull
// request waits on the server must not leave that request to swallow the
// next message. Each round publishes a message while a ReadBatch waits and
// ends that ReadBatch's ctx at once, so the message reaches the client about
// when the ReadBatch gives up. With an AckWait far longer than the test, the
// message must come from that ReadBatch or the very next one (before the
// fix the abandoned request could drop it, to come back only after
// AckWait).
func TestReadAfterAbandonedWait(t *testing.T) {
	ctx := context.Background()
	cfg := Config{EmbeddedDir: t.TempDir(), AckWait: time.Hour, MaxWait: 30 * time.Second}
	p := open(t, NewProducer, cfg)
	defer p.Close(ctx)
	s := open(t, NewSource, cfg)
	defer s.Close(ctx)
	type result struct {
		b   stream.Batch
		ack stream.AckFunc
		err error
	}
	for i := range 20 {
		rctx, cancel := context.WithCancel(ctx)
		got := make(chan result, 1)
		go func() {
			b, ack, err := s.ReadBatch(rctx)
			got <- result{b, ack, err}
		}()
		// Evidence that the pull request waits on the server.
		deadline := time.Now().Add(time.Minute)
		for {
			info, err := s.cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumWaiting > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no pull request waiting on the server after a minute")
			}
			time.Sleep(5 * time.Millisecond) // polling the consumer
		}
		want := fmt.Sprintf("m%d", i)
		if err := p.Publish(ctx, "k", []byte(want)); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		r := <-got
		if r.err != nil {
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("round %d: ReadBatch after cancel: %v", i, r.err)
			}
			// Generous, but far below AckWait: only a direct delivery passes.
			rctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
			r.b, r.ack, r.err = s.ReadBatch(rctx)
			cancel()
		}
		if r.err != nil || len(r.b) != 1 || string(r.b[0].Data) != want {
			t.Fatalf("round %d: %d messages, %v; want %s", i, len(r.b), r.err, want)
		}
		if err := r.ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEmbeddedTakeover: the process serving an embedded directory exits
// (or is killed, SIGKILL) while this process reads and publishes through it
// as a client; this process must take over serving the directory and go on.
// After an exit every message is read exactly once. After a kill the server
// may not have written its last acks to disk: messages read before the kill
// may come again, with the same IDs (the pipeline's sinks drop them by ID),
// and nothing is lost.
func TestEmbeddedTakeover(t *testing.T) {
	if os.Getenv("RECOFLOW_NATS_HELPER_DIR") != "" {
		t.Skip("helper process")
	}
	t.Run("exit", func(t *testing.T) { testEmbeddedTakeover(t, false) })
	t.Run("kill", func(t *testing.T) { testEmbeddedTakeover(t, true) })
}

func testEmbeddedTakeover(t *testing.T, kill bool) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbeddedHelperProcess$")
	cmd.Env = append(os.Environ(), "RECOFLOW_NATS_HELPER_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper: %q, %v", line, err)
	}

	ctx := context.Background()
	cfg := Config{EmbeddedDir: dir, MaxWait: time.Second, Source: stream.SourceOptions{MaxBatch: 10}}
	p := open(t, NewProducer, cfg)
	defer p.Close(ctx)
	s := open(t, NewSource, cfg)
	defer s.Close(ctx)
	seen := map[string]int{}
	ids := map[string]string{}
	read := func(until int) {
		t.Helper()
		for len(seen) < until {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			b, ack, err := s.ReadBatch(rctx)
			cancel()
			if err != nil {
				t.Fatalf("after %d of %d: %v", len(seen), until, err)
			}
			for _, m := range b {
				seen[string(m.Data)]++
				if id, ok := ids[string(m.Data)]; ok && id != m.ID {
					t.Errorf("%s came again as %s, first as %s", m.Data, m.ID, id)
				}
				ids[string(m.Data)] = m.ID
			}
			if err := ack(ctx); err != nil {
				t.Logf("ack: %v", err) // may be delivered again; counted below
			}
		}
	}
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 50)
	read(25)
	before := map[string]bool{}
	for m := range seen {
		before[m] = true
	}
	if kill {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
	} else {
		stdin.Close() // the helper closes its producer, its server stops, it exits
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	publish(50, 100)
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	read(100)
	again := 0
	for m, n := range seen {
		switch {
		case n == 1:
		case kill && n == 2 && before[m]:
			again++
		default:
			t.Errorf("%s read %d times", m, n)
		}
	}
	t.Logf("all 100 messages read; %d read before the kill came again", again)
	embeddedMu.Lock()
	e := embeddedBy[dir]
	serving := e != nil && e.srv != nil
	embeddedMu.Unlock()
	if !serving {
		t.Error("this process does not serve the directory after the helper was killed")
	}
}
