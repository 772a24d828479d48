package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// embedded is one embedded server as this process uses it: either served
// here (srv != nil) or by another process that holds the directory's lock,
// in which case this process is only its client.
type embedded struct {
	dir  string
	srv  *server.Server
	url  string
	lock *os.File
	refs int
}

// The embedded servers this process uses, by absolute directory, so that a
// Source and a Producer of one directory in one process share a server.
var (
	embeddedMu sync.Mutex
	embeddedBy = map[string]*embedded{}
)

// dialEmbedded connects to the embedded server of dir, starting it when no
// process serves the directory yet. release drops the connection's hold on
// the server, which shuts down with the last one.
func dialEmbedded(ctx context.Context, dir string, log *slog.Logger, opts ...natsgo.Option) (*natsgo.Conn, func(), error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded NATS directory %q: %w", dir, err)
	}
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	e := embeddedBy[abs]
	if e == nil {
		if e, err = startEmbedded(ctx, abs, log); err != nil {
			return nil, nil, err
		}
		embeddedBy[abs] = e
	}
	if e.srv != nil {
		opts = append(opts, natsgo.InProcessServer(e.srv))
	}
	nc, err := natsgo.Connect(e.url, opts...)
	if err != nil {
		if e.refs == 0 {
			e.stop(log)
			delete(embeddedBy, abs)
		}
		return nil, nil, fmt.Errorf("connect to embedded NATS in %s: %w", abs, err)
	}
	e.refs++
	var once sync.Once
	release := func() {
		once.Do(func() {
			embeddedMu.Lock()
			defer embeddedMu.Unlock()
			e.refs--
			if e.refs == 0 {
				e.stop(log)
				delete(embeddedBy, abs)
			}
		})
	}
	return nc, release, nil
}

// startEmbedded serves dir from this process, or finds the process that
// already does.
func startEmbedded(ctx context.Context, dir string, log *slog.Logger) (*embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded NATS directory: %w", err)
	}
	lock, held, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("lock embedded NATS directory %s: %w", dir, err)
	}
	if held {
		url, err := waitForURL(ctx, dir)
		if err != nil {
			return nil, err
		}
		log.Info("embedded nats served by another process", "dir", dir, "url", url)
		return &embedded{dir: dir, url: url}, nil
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "recoflow-embedded",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded NATS in %s: %w", dir, err)
	}
	srv.SetLoggerV2(serverLogger{log.With("component", "embedded-nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		lock.Close()
		return nil, fmt.Errorf("embedded NATS in %s did not start within 30s", dir)
	}
	e := &embedded{dir: dir, srv: srv, url: srv.ClientURL(), lock: lock}
	if err := writeFileAtomic(filepath.Join(dir, urlFile), []byte(e.url+"\n")); err != nil {
		e.stop(log)
		return nil, fmt.Errorf("embedded NATS in %s: %w", dir, err)
	}
	log.Info("embedded nats started", "dir", dir, "url", e.url)
	return e, nil
}

// waitForURL reads the client URL the serving process publishes, waiting a
// little for a server that is still starting.
func waitForURL(ctx context.Context, dir string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, urlFile))
		if url := strings.TrimSpace(string(b)); err == nil && url != "" {
			return url, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("embedded NATS in %s is locked by another process that does not say where it listens (%s): %v", dir, urlFile, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *embedded) stop(log *slog.Logger) {
	if e.srv == nil {
		return
	}
	os.Remove(filepath.Join(e.dir, urlFile))
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.lock.Close() // releases the lock
	log.Info("embedded nats stopped", "dir", e.dir)
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
