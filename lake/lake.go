// Package lake is recoflow's view of a data lake: a flat namespace of objects
// addressed by slash-separated keys, as in S3.
//
// Backends live in subpackages (lake/file for a local directory, lake/s3 for
// AWS S3 and S3-compatible stores) and are picked from a URL by
// internal/connect. Callers see only the interfaces here and the sentinel
// errors below, never a client library's types.
//
// Every Put is atomic: a reader sees the whole object or nothing. Whole
// datasets (many objects) are committed with Publish, which readers observe
// through a manifest written last.
package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) when an object does not exist.
var ErrNotFound = errors.New("object not found")

// Attributes describe one stored object.
type Attributes struct {
	Size    int64
	ModTime time.Time
}

// BucketReader reads objects. All methods block until done or until ctx is
// cancelled; they are safe for concurrent use and safe to repeat.
type BucketReader interface {
	// Get opens the object at key for reading. The caller closes it.
	// A missing object gives an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange reads length bytes starting at off (length < 0: to the end).
	GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Attributes returns the size and modification time of key, or an error
	// wrapping ErrNotFound.
	Attributes(ctx context.Context, key string) (Attributes, error)
	// List calls fn with every key under prefix (recursively), in lexical
	// order. Keys are full keys, not relative to prefix. A prefix that does
	// not end in "/" matches keys that start with it. Returning an error from
	// fn stops the listing and List returns that error.
	List(ctx context.Context, prefix string, fn func(key string) error) error
	// String describes the bucket for logs and errors, with any secret
	// removed.
	String() string
}

// Bucket reads and writes objects.
type Bucket interface {
	BucketReader
	// Put stores everything read from r at key, replacing any object there.
	// The write is atomic: until Put returns nil, readers see the previous
	// object (or none), never a partial one. On error nothing is stored.
	// Repeating a Put with the same content is safe.
	Put(ctx context.Context, key string, r io.Reader) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Close releases the bucket's resources.
	Close() error
}

// Copier is implemented by buckets that can copy an object without moving its
// bytes through this process (S3 CopyObject, a local hard link).
type Copier interface {
	// Copy makes dst an atomic copy of src. A missing src wraps ErrNotFound.
	Copy(ctx context.Context, src, dst string) error
}

// Linker is implemented by buckets that can publish a whole prefix at once by
// pointing a name at it (a symbolic link swapped by rename on a local disk).
type Linker interface {
	// Link makes the prefix name resolve to the prefix target, atomically
	// replacing what name resolved to before. target is a key prefix
	// without a trailing slash.
	Link(ctx context.Context, target, name string) error
	// Resolve returns the prefix that name currently resolves to, or name
	// itself when it is not a link, or ErrNotFound.
	Resolve(ctx context.Context, name string) (string, error)
}

// BatchPutter is implemented by buckets where making each Put durable on its
// own is costly (an fsync per file on a local disk). Writers of many objects
// use PutUnsynced for each and Sync once before they commit.
type BatchPutter interface {
	// PutUnsynced stores r at key atomically, like Put, but the object is
	// durable only after a later Sync returns.
	PutUnsynced(ctx context.Context, key string, r io.Reader) error
	// Sync makes every earlier PutUnsynced durable. It blocks until done.
	Sync(ctx context.Context) error
}

// PrefixDeleter is implemented by buckets that can remove everything under
// a prefix at once, including leftovers of crashed writers that List does
// not show (a local directory removed as a whole).
type PrefixDeleter interface {
	// DeletePrefix removes every object under prefix, which names a
	// "directory" (a trailing "/" is optional). A missing prefix is not an
	// error. It blocks until done; repeating it is safe.
	DeletePrefix(ctx context.Context, prefix string) error
}

// ErrLeaseHeld is wrapped by the error Leaser.Lease returns when another
// holder has a live lease on the name (see LeaseHeldError).
var ErrLeaseHeld = errors.New("lease is held by another holder")

// ErrLeaseLost is wrapped by Lease.Err once a lease can no longer be
// vouched for: it could not be renewed before it expired, or another holder
// took it over.
var ErrLeaseLost = errors.New("lease lost")

// LeaseHolder describes who holds a lease.
type LeaseHolder struct {
	// Owner says what holds the lease, e.g. "recoflow etl run 20261127T…".
	Owner string `json:"owner"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	// Acquired is when the holder took the lease.
	Acquired time.Time `json:"acquired"`
	// Expires is when the lease ends unless renewed; zero for a lease that
	// ends with the holder's process (an operating-system lock).
	Expires time.Time `json:"expires,omitzero"`
}

// String describes the holder for messages: owner, host, pid and times.
func (h LeaseHolder) String() string {
	if h.Owner == "" && h.Host == "" && h.PID == 0 {
		return "another process (its details are not readable yet)"
	}
	s := h.Owner
	if s == "" {
		s = "an unnamed holder"
	}
	s += fmt.Sprintf(" (host %s, pid %d", h.Host, h.PID)
	if !h.Acquired.IsZero() {
		s += ", since " + h.Acquired.UTC().Format(time.RFC3339)
	}
	if !h.Expires.IsZero() {
		s += ", lease expires " + h.Expires.UTC().Format(time.RFC3339) + " unless renewed"
	}
	return s + ")"
}

// LeaseHeldError is returned by Leaser.Lease when another holder has a
// live lease. It wraps ErrLeaseHeld.
type LeaseHeldError struct {
	// Name is the lease's name; Where the bucket.
	Name, Where string
	Holder      LeaseHolder
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("lease %q in %s is held by %s", e.Name, e.Where, e.Holder)
}

// Unwrap returns ErrLeaseHeld.
func (e *LeaseHeldError) Unwrap() error { return ErrLeaseHeld }

// Leaser is implemented by buckets that grant exclusive, named leases, so
// that two writers of one dataset exclude each other (on a local disk an
// operating-system lock; on S3 a conditionally created object with an
// expiry, renewed while held).
type Leaser interface {
	// Lease takes the lease called name (one key segment) for holder,
	// without waiting: when another holder has a live lease it returns a
	// *LeaseHeldError naming that holder. An expired lease is taken over.
	// ttl is how long the lease outlives its holder's last renewal where
	// that applies; the lease renews itself until released. Host, PID,
	// Acquired and Expires of holder are filled in when zero.
	Lease(ctx context.Context, name string, holder LeaseHolder, ttl time.Duration) (Lease, error)
}

// Lease is a held lease. Its methods are safe for concurrent use.
type Lease interface {
	// Lost is closed when the lease is lost (see ErrLeaseLost). Work done
	// under the lease must then stop before it commits anything.
	Lost() <-chan struct{}
	// Err returns nil while the lease is held, else an error wrapping
	// ErrLeaseLost that says why.
	Err() error
	// Release gives the lease up and stops its renewal. It never removes
	// a lease that another holder has taken over. Repeating it is safe.
	Release(ctx context.Context) error
}
