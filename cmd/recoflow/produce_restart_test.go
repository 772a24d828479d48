package main_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestProduceRidesOutBrokerRestarts runs `recoflow produce --rate 1000
// --count 6000` against a nats-server process of its own, which it kills
// (SIGKILL) and starts again twice, each time once produce has reported
// more acknowledged events. produce must finish with exit status 0, and
// the stream must hold exactly the events of the same seed's dry run, each
// once.
func TestProduceRidesOutBrokerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and restarts a nats-server twice")
	}
	natsBin := "/usr/sbin/nats-server"
	if p := os.Getenv("RECOFLOW_NATS_SERVER_BIN"); p != "" {
		natsBin = p
	}
	if _, err := os.Stat(natsBin); err != nil {
		t.Skip("no nats-server binary (set RECOFLOW_NATS_SERVER_BIN)")
	}
	bin := buildBinary(t)
	const count = 6000

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	url := "nats://127.0.0.1:" + port
	storeDir := t.TempDir()
	var srv *exec.Cmd
	start := func() {
		t.Helper()
		srv = exec.Command(natsBin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", storeDir)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			nc, err := natsgo.Connect(url, natsgo.Timeout(2*time.Second))
			if err == nil {
				nc.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("nats-server not ready: %v", err)
			}
			time.Sleep(50 * time.Millisecond) // polling the port
		}
	}
	start()
	defer func() { srv.Process.Kill(); srv.Wait() }()

	cmd := exec.Command(bin, "produce", "--stream", url, "--rate", "1000", "--count", strconv.Itoa(count),
		"--seed", "9", "--progress-interval", "100ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var (
		mu    sync.Mutex
		acked int64
		log   strings.Builder
	)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		re := regexp.MustCompile(`msg=progress .*acked=(\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				acked, _ = strconv.ParseInt(m[1], 10, 64)
			}
			mu.Unlock()
		}
	}()
	for round, at := range []int64{1000, 3000} {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			mu.Lock()
			n := acked
			mu.Unlock()
			if n >= at {
				break
			}
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("produce reported %d acknowledged events, waiting for %d:\n%s", n, at, log.String())
			}
			time.Sleep(20 * time.Millisecond) // polling its progress
		}
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()
		t.Logf("kill %d at %d acknowledged", round+1, at)
		start()
	}
	err = cmd.Wait()
	<-scanned
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, log.String())
	}
	if !strings.Contains(stdout.String(), "produced 6,000 events") {
		t.Fatalf("summary:\n%s", stdout.String())
	}

	// The stream holds exactly the dry run's events, each once.
	want := map[string]int{}
	dry := run(t, bin, "produce", "--dry-run", "--count", strconv.Itoa(count), "--rate", "0", "--seed", "9")
	for _, line := range strings.Split(strings.TrimSpace(dry), "\n") {
		if strings.HasPrefix(line, "{") {
			want[line]++
		}
	}
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "RECOFLOW")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != count {
		t.Errorf("the stream holds %d events, produce published %d", n, count)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for read := 0; read < int(st.CachedInfo().State.Msgs); {
		b, err := cons.Fetch(500, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			got[string(m.Data())]++
			n++
		}
		if n == 0 {
			t.Fatalf("read %d events: %v", read, b.Error())
		}
		read += n
	}
	bad := 0
	for ev, n := range want {
		if got[ev] != n {
			bad++
		}
	}
	if bad > 0 || len(got) != len(want) {
		t.Fatalf("%d of %d distinct events stored a wrong number of times (%d distinct stored)", bad, len(want), len(got))
	}
}
