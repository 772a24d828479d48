package inflight

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(10)
	ctx := context.Background()
	if n, err := l.Acquire(ctx, 8); n != 8 || err != nil {
		t.Fatalf("Acquire 8 = %d, %v", n, err)
	}
	if n, err := l.Acquire(ctx, 8); n != 2 || err != nil {
		t.Fatalf("Acquire with 2 free = %d, %v", n, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire when full: %v", err)
	}
	got := make(chan int)
	go func() {
		n, _ := l.Acquire(ctx, 5)
		got <- n
	}()
	time.Sleep(20 * time.Millisecond)
	l.Release(3)
	if n := <-got; n != 3 {
		t.Fatalf("woken Acquire got %d, want 3", n)
	}
	if l.InUse() != 10 {
		t.Fatalf("InUse = %d", l.InUse())
	}
}
