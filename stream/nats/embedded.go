package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
)

// Files the embedded server keeps in its directory, next to the JetStream
// store (<dir>/jetstream).
const (
	lockFile = "recoflow-nats.lock" // held by the process that serves the directory
	urlFile  = "server.url"         // that server's loopback client URL
)

// embedded is one embedded directory as this process uses it. Its
// connections reach the server through Dial, on every connect and
// reconnect: in-process when this process serves the directory (srv !=
// nil), else over loopback TCP to the process that does. When that process
// goes away (it exits, or is killed), the next reconnect takes the
// directory's lock, which the kernel released with it, and serves the
// directory here; or, when another process won that race, connects to the
// address it writes.
type embedded struct {
	dir  string
	log  *slog.Logger
	srv  *server.Server
	lock *os.File
	refs int
	via  string // where the last Dial went, for logs
}

// The embedded directories this process uses, by absolute directory, so
// that a Source and a Producer of one directory in one process share a
// server. embeddedMu also guards every embedded's fields.
var (
	embeddedMu sync.Mutex
	embeddedBy = map[string]*embedded{}
)

// embeddedPoolURL is the server URL the connections of an embedded
// directory are given; Dial ignores it.
const embeddedPoolURL = "nats://recoflow-embedded:4222"

// dialEmbedded connects to the embedded server of dir, starting it when no
// process serves the directory yet. release drops the connection's hold on
// the directory: its server, when served here, shuts down with the last
// one.
func dialEmbedded(ctx context.Context, dir string, log *slog.Logger, opts ...natsgo.Option) (*natsgo.Conn, func(), error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded NATS directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, nil, fmt.Errorf("embedded NATS directory: %w", err)
	}
	embeddedMu.Lock()
	e := embeddedBy[abs]
	if e == nil {
		e = &embedded{dir: abs, log: log}
		embeddedBy[abs] = e
	}
	e.refs++
	embeddedMu.Unlock()
	var once sync.Once
	release := func() {
		once.Do(func() {
			embeddedMu.Lock()
			defer embeddedMu.Unlock()
			e.refs--
			if e.refs == 0 {
				e.stopLocked()
				delete(embeddedBy, abs)
			}
		})
	}
	opts = append(opts, natsgo.SetCustomDialer(e), natsgo.SkipHostLookup(), natsgo.IgnoreDiscoveredServers())
	// The first connect may find the directory locked by a process that
	// has not yet written its address: try again for a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := natsgo.Connect(embeddedPoolURL, opts...)
		if err == nil {
			return nc, release, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			release()
			return nil, nil, fmt.Errorf("connect to embedded NATS in %s: %w", abs, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Dial implements nats.CustomDialer: it reaches the directory's server,
// serving the directory here when no live process does.
func (e *embedded) Dial(_, _ string) (net.Conn, error) {
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	if e.srv != nil {
		return e.srv.InProcessConn()
	}
	if e.refs == 0 {
		return nil, errors.New("embedded NATS connection released")
	}
	lock, held, err := lockDir(filepath.Join(e.dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("lock embedded NATS directory %s: %w", e.dir, err)
	}
	if !held {
		if err := e.serveLocked(lock); err != nil {
			return nil, err
		}
		return e.srv.InProcessConn()
	}
	b, err := os.ReadFile(filepath.Join(e.dir, urlFile))
	addr := strings.TrimPrefix(strings.TrimSpace(string(b)), "nats://")
	if err != nil || addr == "" {
		return nil, fmt.Errorf("embedded NATS in %s is locked by another process that does not say (yet) where it listens (%s)", e.dir, urlFile)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if e.via != addr {
		e.via = addr
		e.log.Info("embedded nats served by another process", "dir", e.dir, "addr", addr)
	}
	return c, nil
}

// serveLocked starts the server of the directory in this process, which
// holds lock.
func (e *embedded) serveLocked(lock *os.File) error {
	srv, err := server.NewServer(&server.Options{
		ServerName: "recoflow-embedded",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   e.dir,
		// JetStream writes every record to the operating system before it
		// acknowledges it, so a process crash loses nothing acknowledged;
		// it syncs the files to the disk every SyncInterval, so an
		// operating-system crash or power loss can lose what was
		// acknowledged in the last one.
		SyncInterval: EmbeddedSyncInterval,
		NoSigs:       true,
		NoLog:        true,
	})
	if err != nil {
		lock.Close()
		return fmt.Errorf("embedded NATS in %s: %w", e.dir, err)
	}
	srv.SetLoggerV2(serverLogger{e.log.With("component", "embedded-nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		lock.Close()
		return fmt.Errorf("embedded NATS in %s did not start within 30s", e.dir)
	}
	e.srv, e.lock, e.via = srv, lock, ""
	if err := writeFileAtomic(filepath.Join(e.dir, urlFile), []byte(srv.ClientURL()+"\n")); err != nil {
		e.stopLocked()
		return fmt.Errorf("embedded NATS in %s: %w", e.dir, err)
	}
	e.log.Info("embedded nats started", "dir", e.dir, "url", srv.ClientURL())
	return nil
}

// EmbeddedSyncInterval is how often the embedded server syncs its files to
// the disk.
const EmbeddedSyncInterval = time.Second

func (e *embedded) stopLocked() {
	if e.srv == nil {
		return
	}
	os.Remove(filepath.Join(e.dir, urlFile))
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.lock.Close() // releases the lock
	e.srv, e.lock = nil, nil
	e.log.Info("embedded nats stopped", "dir", e.dir)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// serverLogger passes the embedded server's warnings and errors to slog.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}
func (l serverLogger) Warnf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}
func (l serverLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Debugf(string, ...any)          {}
func (l serverLogger) Tracef(string, ...any)          {}

var errNoTarget = errors.New("nats: set exactly one of Config.URL and Config.EmbeddedDir")
