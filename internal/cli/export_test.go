package cli

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
)

// StoreCount counts the vector stores serve opens, closes and refreshes.
type StoreCount struct {
	mu                            sync.Mutex
	opened, open, most, refreshes int
}

// Counts returns how many stores serve has opened, how many of them are
// open now, the most that were open at once, and how many times serve
// refreshed one.
func (c *StoreCount) Counts() (opened, open, most, refreshes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, c.open, c.most, c.refreshes
}

// CountStores makes serve count the vector stores it opens at a URL that
// contains match, until the test ends. Tests that use it must not run in
// parallel with other serve tests.
func CountStores(t testing.TB, match string) *StoreCount {
	c := &StoreCount{}
	prev := openStore
	openStore = func(ctx context.Context, storeURL string, opts recommend.Options) (vector.Store, error) {
		st, err := prev(ctx, storeURL, opts)
		if err != nil || !strings.Contains(storeURL, match) {
			return st, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.opened++
		c.open++
		c.most = max(c.most, c.open)
		return &countedStore{Store: st, c: c}, nil
	}
	t.Cleanup(func() { openStore = prev })
	return c
}

// countedStore is a store whose Close and Refresh are counted; it passes
// on the optional methods serve and the engine use.
type countedStore struct {
	vector.Store
	c      *StoreCount
	closed bool // under c.mu
}

func (s *countedStore) Close() error {
	s.c.mu.Lock()
	if !s.closed {
		s.closed = true
		s.c.open--
	}
	s.c.mu.Unlock()
	return s.Store.Close()
}

func (s *countedStore) Refresh(ctx context.Context) (bool, error) {
	s.c.mu.Lock()
	s.c.refreshes++
	s.c.mu.Unlock()
	if r, ok := s.Store.(refresher); ok {
		return r.Refresh(ctx)
	}
	return false, nil
}

func (s *countedStore) SimilarItems(ctx context.Context, id string, k int, exclude ...string) ([]vector.Hit, error) {
	if ss, ok := s.Store.(vector.SimilarSearcher); ok {
		return ss.SimilarItems(ctx, id, k, exclude...)
	}
	v, err := s.Store.ItemVector(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.Store.SearchItems(ctx, v, k, append([]string{id}, exclude...)...)
}
