package testenv

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeServer listens on a free local port and greets each connection with
// greeting ("" says nothing); it returns the address.
func fakeServer(t *testing.T, greeting string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if greeting != "" {
				c.Write([]byte(greeting))
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return l.Addr().String()
}

// shortProbe bounds the probes of fake servers that never answer: an
// answer, not its speed, is what the tests check.
const shortProbe = 300 * time.Millisecond

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestProbeNATS(t *testing.T) {
	ctx := context.Background()
	js := fakeServer(t, `INFO {"server_id":"x","version":"2.10.0","jetstream":true,"max_payload":1048576}`+"\r\n")
	if err := probeNATS(ctx, js); err != nil {
		t.Errorf("a NATS server with JetStream: %v", err)
	}
	for _, tc := range []struct{ name, addr, want string }{
		{"no JetStream", fakeServer(t, `INFO {"server_id":"x","version":"2.10.0"}`+"\r\n"), "-js"},
		{"another protocol", fakeServer(t, "220 smtp ready\r\n"), "not a NATS server"},
		{"silent", fakeServer(t, ""), "no NATS greeting"},
		{"nothing listening", closedPort(t), "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, shortProbe)
			defer cancel()
			if err := probeNATS(ctx, tc.addr); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("probe says %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestProbeDatabasesConnectForReal: an open port is not enough, the probe
// must complete a real login (bounded by the probe's timeout).
func TestProbeDatabasesConnectForReal(t *testing.T) {
	for _, addr := range []string{fakeServer(t, ""), fakeServer(t, "hello\n"), closedPort(t)} {
		ctx, cancel := context.WithTimeout(context.Background(), shortProbe)
		if err := probeMySQL(ctx, addr); err == nil {
			t.Errorf("MySQL probe accepted %s, which is no MySQL server", addr)
		}
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), shortProbe)
		if err := probePostgres(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable"); err == nil {
			t.Errorf("PostgreSQL probe accepted %s, which is no PostgreSQL server", addr)
		}
		cancel()
	}
}

// TestProbeRealServices runs each probe against the real service when one
// is configured (or, in CI, required): it must recognise it.
func TestProbeRealServices(t *testing.T) {
	ctx := context.Background()
	if v := os.Getenv(MySQLVar); v != "" {
		u, err := url.Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		if u.User.Username() == "root" {
			if _, has := u.User.Password(); !has {
				if err := probeMySQL(ctx, u.Host); err != nil {
					t.Errorf("MySQL at %s: %v", u.Host, err)
				}
			}
		}
	}
	if v := os.Getenv(PostgresVar); v != "" {
		if err := probePostgres(ctx, v); err != nil {
			t.Errorf("PostgreSQL: %v", err)
		}
	}
	if v := os.Getenv(NATSVar); v != "" {
		u, err := url.Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := probeNATS(ctx, u.Host); err != nil {
			t.Errorf("NATS at %s: %v", u.Host, err)
		}
	}
	if Require() {
		// CI starts the services on their standard ports: plain go test
		// must find them without the variables.
		for _, name := range []string{MySQLVar, PostgresVar, NATSVar} {
			if url, why := Detect(name); url == "" {
				t.Errorf("%s: not detected with %s=1: %s", name, RequireVar, why)
			}
		}
	}
}

func TestDetectOnlyKnownServices(t *testing.T) {
	for _, name := range []string{S3Var, PgvectorVar, KinesisVar, FirehoseVar} {
		if url, why := Detect(name); url != "" || !strings.Contains(why, "only when its variable is set") {
			t.Errorf("%s: detected %q (%s); it must be used only when set", name, url, why)
		}
	}
}

func TestDetectCachesItsAnswer(t *testing.T) {
	url1, why1 := Detect(NATSVar)
	url2, why2 := Detect(NATSVar)
	if url1 != url2 || why1 != why2 {
		t.Errorf("two detections differ: %q/%q, then %q/%q", url1, why1, url2, why2)
	}
	if url1 != "" && url1 != DefaultNATS {
		t.Errorf("detected %q, want %q", url1, DefaultNATS)
	}
}

func TestSkipAnnouncement(t *testing.T) {
	var buf bytes.Buffer
	writeSkip(&buf, "github.com/recoflow/recoflow/stream/nats", "TestSource/ack", "set RECOFLOW_TEST_NATS …")
	want := "SKIPPED (no service): github.com/recoflow/recoflow/stream/nats TestSource/ack: set RECOFLOW_TEST_NATS …\n"
	if buf.String() != want {
		t.Errorf("announcement %q, want %q", buf.String(), want)
	}
	if p := packagePath(); p != "github.com/recoflow/recoflow/internal/testenv" {
		t.Errorf("package path %q", p)
	}
	// Run by the go command, the announcement reaches its standard error.
	comm, _ := os.ReadFile("/proc/" + itoa(os.Getppid()) + "/comm")
	if strings.TrimSpace(string(comm)) == "go" {
		w := goCommandStderr()
		if w == nil {
			t.Fatal("cannot open the go command's standard error")
		}
		w.Close()
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
