package model

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/recoflow/recoflow/lake"
)

// memBucket is an in-memory lake.Bucket for tests. failPut, when set, makes
// Put fail for keys it returns true for.
type memBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	failPut func(key string) bool
}

func newMemBucket() *memBucket { return &memBucket{objects: map[string][]byte{}} }

func (b *memBucket) Get(_ context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, lake.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *memBucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	data, _ := io.ReadAll(rc)
	data = data[min(off, int64(len(data))):]
	if length >= 0 {
		data = data[:min(length, int64(len(data)))]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *memBucket) Attributes(_ context.Context, key string) (lake.Attributes, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.objects[key]
	if !ok {
		return lake.Attributes{}, fmt.Errorf("attributes %s: %w", key, lake.ErrNotFound)
	}
	return lake.Attributes{Size: int64(len(data))}, nil
}

func (b *memBucket) List(_ context.Context, prefix string, fn func(string) error) error {
	b.mu.Lock()
	var keys []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	b.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (b *memBucket) String() string { return "mem://test" }

func (b *memBucket) Put(_ context.Context, key string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failPut != nil && b.failPut(key) {
		return fmt.Errorf("put %s: injected failure", key)
	}
	b.objects[key] = data
	return nil
}

func (b *memBucket) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.objects, key)
	return nil
}

func (b *memBucket) Close() error { return nil }

func (b *memBucket) keys(prefix string) []string {
	var keys []string
	_ = b.List(context.Background(), prefix, func(k string) error { keys = append(keys, k); return nil })
	return keys
}
