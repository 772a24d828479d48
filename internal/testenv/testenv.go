// Package testenv tells tests where the real services are.
//
// A service-backed test asks for its service's URL here. When the
// RECOFLOW_TEST_* variable is set, the test runs against it. When it is not,
// testenv looks for the service on its standard local port — MySQL/MariaDB
// on 127.0.0.1:3306 (user root, no password), PostgreSQL on 127.0.0.1:5432
// (user postgres), NATS with JetStream on 127.0.0.1:4222 — with a real,
// connection bounded to a few seconds, and uses it when it answers. The other services
// (S3, pgvector, Kinesis, Firehose) are used only when their variable is set.
//
// A test whose service is neither configured nor found is skipped — unless
// RECOFLOW_REQUIRE_SERVICES=1 (as in CI), in which case it fails: CI never
// skips a service test. A skip is announced on the go command's standard
// error as a "SKIPPED (no service): …" line, so that a plain go test ./...
// shows it without -v (the go command discards the output of a package that
// passes). A test run that probed for services is not cached by the go
// command, since what it found is not an input the go command can see.
package testenv

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Variables naming each service.
const (
	// MySQLVar holds a MySQL/MariaDB server URL without a database, e.g.
	// mysql://root@127.0.0.1:3306/ . Tests create and drop their own
	// databases on it.
	MySQLVar = "RECOFLOW_TEST_MYSQL"
	// S3Var holds an S3 lake URL with endpoint options, e.g.
	// s3://recoflow-test?endpoint=http://127.0.0.1:7070&path_style=true&region=us-east-1 ;
	// credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
	// Tests create the bucket if needed and use their own prefixes.
	S3Var = "RECOFLOW_TEST_S3"
	// PostgresVar holds a plain PostgreSQL URL (no pgvector needed).
	PostgresVar = "RECOFLOW_TEST_POSTGRES"
	// PgvectorVar holds the URL of a PostgreSQL with the vector extension.
	PgvectorVar = "RECOFLOW_TEST_PGVECTOR"
	// NATSVar holds a NATS JetStream URL, e.g. nats://127.0.0.1:4222 .
	NATSVar = "RECOFLOW_TEST_NATS"
	// KinesisVar holds the endpoint URL of a Kinesis API, e.g. moto's
	// http://127.0.0.1:5000 ; any non-empty AWS credentials do for moto.
	// Tests create and delete their own streams.
	KinesisVar = "RECOFLOW_TEST_KINESIS"
	// FirehoseVar holds the endpoint URL of a Firehose API, e.g. moto at
	// http://127.0.0.1:5000 ; tests create their own delivery streams (and
	// the S3 buckets behind them) on it.
	FirehoseVar = "RECOFLOW_TEST_FIREHOSE"
	// RequireVar, when "1", turns every skip for a missing service into a
	// failure.
	RequireVar = "RECOFLOW_REQUIRE_SERVICES"
)

// Default local services, used when their variable is unset.
const (
	// DefaultMySQL is the URL used for MySQLVar when a server answers on
	// 127.0.0.1:3306 as root without a password.
	DefaultMySQL = "mysql://root@127.0.0.1:3306/"
	// DefaultPostgres is the URL used for PostgresVar when a server on
	// 127.0.0.1:5432 lets user postgres in without a password.
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// DefaultNATS is the URL used for NATSVar when a NATS server with
	// JetStream answers on 127.0.0.1:4222.
	DefaultNATS = "nats://127.0.0.1:4222"
)

// probeTimeout bounds each detection; a missing service costs a test run
// at most this long once per service.
const probeTimeout = 5 * time.Second

// probe tries a default service: its URL, or "" and why not.
type probe struct {
	url   string
	check func(ctx context.Context) error
}

// probes are the services detected on their default ports.
var probes = map[string]probe{
	MySQLVar:    {DefaultMySQL, func(ctx context.Context) error { return probeMySQL(ctx, "127.0.0.1:3306") }},
	PostgresVar: {DefaultPostgres, func(ctx context.Context) error { return probePostgres(ctx, DefaultPostgres) }},
	NATSVar:     {DefaultNATS, func(ctx context.Context) error { return probeNATS(ctx, "127.0.0.1:4222") }},
}

// detection is the cached outcome of one probe in this process.
type detection struct {
	once sync.Once
	url  string
	err  error
}

var detections sync.Map // variable name → *detection

// URL returns the URL of the service named by the variable name: its value,
// or for MySQL, PostgreSQL and NATS a server found on the standard local
// port. Otherwise it skips the test (announcing the skip, see the package
// comment) or, with RECOFLOW_REQUIRE_SERVICES=1, fails it.
func URL(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	url, why := Detect(name)
	if url != "" {
		return url
	}
	if Require() {
		t.Fatalf("%s is not set (%s) but %s=1: this test needs its real service", name, why, RequireVar)
	}
	reason := fmt.Sprintf("set %s to run this test against a real service (%s)", name, why)
	announceSkip(t.Name(), reason)
	t.Skip(reason)
	return ""
}

// Detect looks for the service of variable name on its standard local port
// (once per process) and returns its URL, or "" and the reason it was not
// used. Only MySQLVar, PostgresVar and NATSVar are detected.
func Detect(name string) (url, why string) {
	p, ok := probes[name]
	if !ok {
		return "", "no default local service: used only when its variable is set"
	}
	markUncacheable()
	d, _ := detections.LoadOrStore(name, &detection{})
	det := d.(*detection)
	det.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		if det.err = p.check(ctx); det.err == nil {
			det.url = p.url
		}
	})
	if det.err != nil {
		return "", fmt.Sprintf("nothing usable at %s: %v", p.url, det.err)
	}
	return det.url, ""
}

// probeMySQL connects to addr as root without a password and pings it.
func probeMySQL(ctx context.Context, addr string) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", addr
	cfg.Logger = &mysql.NopLogger{} // a failed probe is a reason, not a log line
	limit := probeTimeout
	if dl, ok := ctx.Deadline(); ok {
		limit = max(time.Until(dl), time.Millisecond)
	}
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = limit, limit, limit
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	return db.PingContext(ctx)
}

// probePostgres connects to url and runs a query.
func probePostgres(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// probeNATS reads the server's INFO greeting at addr and checks that it
// serves JetStream.
func probeNATS(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no NATS greeting: %w", err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("not a NATS server (it said %q)", abbreviate(line))
	}
	if !strings.Contains(strings.ReplaceAll(line, " ", ""), `"jetstream":true`) {
		return fmt.Errorf("the NATS server there does not run JetStream (start it with -js)")
	}
	return nil
}

func abbreviate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// Require reports whether service tests must not be skipped.
func Require() bool { return os.Getenv(RequireVar) == "1" }

// announceSkip writes a SKIPPED line where a plain go test ./... shows it.
// With -v the test's own SKIP line already does.
func announceSkip(test, reason string) {
	if testing.Verbose() {
		return
	}
	w := goCommandStderr()
	if w == nil {
		return
	}
	defer w.Close()
	writeSkip(w, packagePath(), test, reason)
}

// writeSkip formats one announcement as a single write, so that lines of
// test binaries running in parallel do not interleave.
func writeSkip(w io.Writer, pkg, test, reason string) {
	io.WriteString(w, fmt.Sprintf("SKIPPED (no service): %s %s: %s\n", pkg, test, reason))
}

// goCommandStderr opens the standard error of the go command that runs
// this test binary: the binary's own output is discarded when its package
// passes. It returns nil when the parent is not the go command (a test
// binary run by hand prints its SKIP lines itself) or on other systems.
func goCommandStderr() io.WriteCloser {
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return nil
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", ppid), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	return f
}

// packagePath is the import path of the package under test.
func packagePath() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return strings.TrimSuffix(bi.Path, ".test")
	}
	wd, _ := os.Getwd()
	return filepath.Base(wd)
}

var uncacheable sync.Once

// markUncacheable makes the go command's test cache skip this run: it
// opens a file modified just now, which the go command refuses to cache
// on. Without it a run that found no service would be replayed from the
// cache after the service is started (or the other way round).
func markUncacheable() {
	uncacheable.Do(func() {
		p := filepath.Join(os.TempDir(), fmt.Sprintf("recoflow-testenv-probe-%d", os.Getuid()))
		if err := os.WriteFile(p, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			return
		}
		if f, err := os.Open(p); err == nil {
			f.Close()
		}
	})
}

// PostgresSchema returns the name of a schema of its own for the test
// (prefix and 16 random hex digits; nothing is created) and drops it, with
// everything in it, when the test ends. url is the server's.
func PostgresSchema(t testing.TB, url, prefix string) string {
	t.Helper()
	schema := fmt.Sprintf("%s_%016x", prefix, rand.Uint64())
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return schema
}
