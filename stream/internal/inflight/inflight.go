// Package inflight bounds how many messages a stream source has handed out
// and not yet seen acknowledged.
package inflight

import (
	"context"
	"sync"
)

// Limiter counts messages in flight against a maximum.
type Limiter struct {
	mu   sync.Mutex
	max  int
	used int
	room chan struct{} // closed (and replaced) whenever messages are released
}

// New returns a Limiter allowing max messages in flight (max ≥ 1).
func New(max int) *Limiter {
	return &Limiter{max: max, room: make(chan struct{})}
}

// Acquire blocks until there is room for at least one message or ctx ends,
// then reserves room for up to n messages and returns how many it reserved.
// The caller releases what it does not use.
func (l *Limiter) Acquire(ctx context.Context, n int) (int, error) {
	for {
		l.mu.Lock()
		if free := l.max - l.used; free > 0 {
			got := min(n, free)
			l.used += got
			l.mu.Unlock()
			return got, nil
		}
		room := l.room
		l.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Release returns n reserved messages and wakes waiting Acquires.
func (l *Limiter) Release(n int) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	l.used -= n
	if l.used < 0 {
		panic("inflight: released more than acquired")
	}
	close(l.room)
	l.room = make(chan struct{})
	l.mu.Unlock()
}

// InUse returns how many messages are reserved.
func (l *Limiter) InUse() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used
}
