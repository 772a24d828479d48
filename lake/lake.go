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
