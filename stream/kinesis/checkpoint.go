package kinesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/recoflow/recoflow/lake"
)

// ShardEnd is the checkpoint of a shard that was closed by resharding and
// whose every record is acked; its children may be read.
const ShardEnd = "SHARD_END"

// Checkpointer keeps, for each (stream, group, shard), the sequence number
// of the last record whose output — and every earlier record's — is durable.
// Implementations must be safe for concurrent use.
type Checkpointer interface {
	// Get returns the checkpoint, or "" when there is none. It blocks until
	// read or ctx ends; repeating it is safe.
	Get(ctx context.Context, stream, group, shard string) (string, error)
	// Set replaces the checkpoint and returns once it is durable. It
	// blocks until done or ctx ends; repeating it is safe.
	Set(ctx context.Context, stream, group, shard, seq string) error
	// String describes the store for logs.
	String() string
}

// FileCheckpoints keeps checkpoints in a local directory, one small file
// per shard at <dir>/<stream>/<group>/<shard>, replaced atomically and
// synced to disk on every Set.
type FileCheckpoints struct{ dir string }

// NewFileCheckpoints returns a store in dir, created if missing.
func NewFileCheckpoints(dir string) (*FileCheckpoints, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("kinesis checkpoints: %w", err)
	}
	return &FileCheckpoints{dir: dir}, nil
}

// String describes the store.
func (f *FileCheckpoints) String() string { return "file://" + f.dir }

func (f *FileCheckpoints) path(stream, group, shard string) (string, error) {
	for _, s := range []string{stream, group, shard} {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) {
			return "", fmt.Errorf("kinesis checkpoints: invalid name %q", s)
		}
	}
	return filepath.Join(f.dir, stream, group, shard), nil
}

// Get implements Checkpointer.
func (f *FileCheckpoints) Get(_ context.Context, stream, group, shard string) (string, error) {
	p, err := f.path(stream, group, shard)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("kinesis checkpoint: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// Set implements Checkpointer: write a temporary file, sync it, rename it
// over the old one, sync the directory.
func (f *FileCheckpoints) Set(_ context.Context, stream, group, shard, seq string) error {
	p, err := f.path(stream, group, shard)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kinesis checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+shard+".*")
	if err != nil {
		return fmt.Errorf("kinesis checkpoint: %w", err)
	}
	_, err = tmp.WriteString(seq + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("kinesis checkpoint: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("kinesis checkpoint: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("kinesis checkpoint: sync %s: %w", dir, err)
	}
	return nil
}

// LakeCheckpoints keeps checkpoints as objects of a lake bucket, at
// <prefix>/<stream>/<group>/<shard>: on S3, a store every worker of a group
// can share. Each Set is one atomic Put.
type LakeCheckpoints struct {
	bucket lake.Bucket
	prefix string
}

// NewLakeCheckpoints returns a store under prefix in bucket.
func NewLakeCheckpoints(bucket lake.Bucket, prefix string) *LakeCheckpoints {
	return &LakeCheckpoints{bucket: bucket, prefix: strings.Trim(prefix, "/")}
}

// String describes the store.
func (l *LakeCheckpoints) String() string { return l.bucket.String() + "/" + l.prefix }

func (l *LakeCheckpoints) key(stream, group, shard string) string {
	return path.Join(l.prefix, stream, group, shard)
}

// Get implements Checkpointer.
func (l *LakeCheckpoints) Get(ctx context.Context, stream, group, shard string) (string, error) {
	r, err := l.bucket.Get(ctx, l.key(stream, group, shard))
	if errors.Is(err, lake.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("kinesis checkpoint: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("kinesis checkpoint: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// Set implements Checkpointer.
func (l *LakeCheckpoints) Set(ctx context.Context, stream, group, shard, seq string) error {
	if err := l.bucket.Put(ctx, l.key(stream, group, shard), strings.NewReader(seq+"\n")); err != nil {
		return fmt.Errorf("kinesis checkpoint: %w", err)
	}
	return nil
}
