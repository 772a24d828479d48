package nats

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServerBin is the nats-server binary the restart tests run.
func natsServerBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("RECOFLOW_NATS_SERVER_BIN"), "/usr/sbin/nats-server"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	t.Skip("no nats-server binary (set RECOFLOW_NATS_SERVER_BIN)")
	return ""
}

// natsProcess is a nats-server process on a fixed loopback port with its
// own store directory, which the test can kill and start again.
type natsProcess struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

func startNATSProcess(t *testing.T) *natsProcess {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &natsProcess{t: t, bin: natsServerBin(t), port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

func (s *natsProcess) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until it accepts connections.
func (s *natsProcess) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		nc, err := natsgo.Connect(s.url(), natsgo.Timeout(2*time.Second))
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on %d not ready: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the port, not synchronising on time
	}
}

// kill ends the server with SIGKILL: no clean shutdown, no final flush.
func (s *natsProcess) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	s.cmd.Wait()
	s.cmd = nil
}

// TestProducerRidesOutServerKills publishes a steady flow while the
// nats-server process is killed (SIGKILL) and started again twice, each time
// once more records were acknowledged. The producer must neither fail nor
// store a record twice: the stream holds every record exactly once.
func TestProducerRidesOutServerKills(t *testing.T) {
	srv := startNATSProcess(t)
	cfg := Config{URL: srv.url(), Stream: "RFKILL", Subject: "recoflow.kill"}
	p := open(t, NewProducer, cfg)
	defer p.Close(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	published := make(chan int, 1)
	errc := make(chan error, 1)
	go func() { // about 2,000 records a second until told to stop
		n := 0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				published <- n
				return
			case <-tick.C:
			}
			for range 20 {
				if err := p.Publish(ctx, "k"+strconv.Itoa(n%7), fmt.Appendf(nil, "r%06d", n)); err != nil {
					if ctx.Err() == nil {
						errc <- err
					}
					published <- n
					return
				}
				n++
			}
		}
	}()
	waitAcked := func(atLeast int64) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			acked, _ := p.Progress()
			if acked >= atLeast {
				return
			}
			select {
			case err := <-errc:
				t.Fatalf("publish failed after %d acknowledged: %v", acked, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d records acknowledged, waiting for %d", acked, atLeast)
			}
			time.Sleep(20 * time.Millisecond) // polling progress
		}
	}
	for round, at := range []int64{1000, 3000} {
		waitAcked(at)
		srv.kill()
		acked, pending := p.Progress()
		t.Logf("kill %d: %d acknowledged, %d pending", round+1, acked, pending)
		srv.start()
	}
	acked, _ := p.Progress()
	waitAcked(acked + 1000) // publishing goes on after the second restart
	cancel()
	n := <-published
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer fcancel()
	if err := p.Flush(fctx); err != nil {
		t.Fatalf("flush after %d records: %v", n, err)
	}
	if acked, pending := p.Progress(); acked != int64(n) || pending != 0 {
		t.Fatalf("published %d, acknowledged %d, pending %d", n, acked, pending)
	}

	// Read the whole stream back: every record once, none twice.
	nc, err := natsgo.Connect(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(fctx, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := st.CachedInfo().State.Msgs; msgs != uint64(n) {
		t.Errorf("stream holds %d records, %d were published", msgs, n)
	}
	cons, err := st.OrderedConsumer(fctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, n)
	for read := 0; read < n; {
		b, err := cons.Fetch(500, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range b.Messages() {
			i, err := strconv.Atoi(string(m.Data()[1:]))
			if err != nil || i >= n {
				t.Fatalf("unexpected record %q", m.Data())
			}
			seen[i]++
			got++
		}
		if got == 0 {
			t.Fatalf("read %d of %d records: %v", read, n, b.Error())
		}
		read += got
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("record %d stored %d times", i, c)
		}
	}
	t.Logf("%d records published across two server kills, each stored once", n)
}
