package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/recoflow/recoflow/lake"
)

// leaseDir holds one lock file per lease name, relative to the lake root.
// The files are never removed: removing a lock file while another process
// has it open would let two processes lock two different files.
const leaseDir = ".recoflow/leases"

var _ lake.Leaser = (*Bucket)(nil)

// Lease takes the named lease with an exclusive flock(2) on the file
// .recoflow/leases/<name>.lock in the lake, which also holds the holder's
// description for the error a second taker gets. The operating system
// releases the lock when the process ends, however it ends, so the lease
// needs no expiry or renewal and ttl is not used. Two Lease calls exclude
// each other within one process too.
//
// A lake on a network file system excludes only as far as that file
// system's flock does (NFS emulates it with byte-range locks).
func (b *Bucket) Lease(ctx context.Context, name string, holder lake.LeaseHolder, ttl time.Duration) (lake.Lease, error) {
	if err := checkLeaseName(name); err != nil {
		return nil, fmt.Errorf("lease in %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.root, filepath.FromSlash(leaseDir))
	if err := mkdirAll(dir); err != nil {
		return nil, fmt.Errorf("lease %q in %s: %w", name, b, err)
	}
	p := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lease %q in %s: %w", name, b, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, &lake.LeaseHeldError{Name: name, Where: b.String(), Holder: readHolder(p)}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lease %q in %s: lock %s: %w", name, b, p, err)
	}
	holder = fillHolder(holder, time.Now())
	holder.Expires = time.Time{} // ends with the process
	data, _ := json.Marshal(holder)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(data, '\n'), 0)
	}
	if err != nil {
		f.Close() // releases the lock
		return nil, fmt.Errorf("lease %q in %s: describe holder in %s: %w", name, b, p, err)
	}
	return &fileLease{f: f, lost: make(chan struct{})}, nil
}

// readHolder reads the description a lock holder wrote. A holder that has
// only just locked the file may not have written it yet: the zero holder
// then says so.
func readHolder(p string) lake.LeaseHolder {
	var h lake.LeaseHolder
	data, err := os.ReadFile(p)
	if err == nil {
		_ = json.Unmarshal(data, &h)
	}
	return h
}

// fillHolder fills the zero fields of h that describe this process.
func fillHolder(h lake.LeaseHolder, now time.Time) lake.LeaseHolder {
	if h.Host == "" {
		h.Host, _ = os.Hostname()
	}
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	if h.Acquired.IsZero() {
		h.Acquired = now.UTC()
	}
	return h
}

// checkLeaseName accepts one plain key segment.
func checkLeaseName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, tmpPrefix) {
		return fmt.Errorf("invalid lease name %q: want one plain key segment", name)
	}
	return nil
}

// fileLease is a held flock.
type fileLease struct {
	mu   sync.Mutex
	f    *os.File
	lost chan struct{} // never closed: the lock lasts as long as the file is open
}

func (l *fileLease) Lost() <-chan struct{} { return l.lost }

func (l *fileLease) Err() error { return nil }

// Release clears the holder's description and closes the lock file, which
// releases the lock.
func (l *fileLease) Release(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}
