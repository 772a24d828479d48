package commit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestQueue(t *testing.T) {
	var q Queue[int]
	t1, t2, t3 := q.Push(10), q.Push(11), q.Push(12)
	if _, ok := q.Ack(t2); ok {
		t.Fatal("acking the middle advanced the commit point")
	}
	if p, ok := q.Ack(t1); !ok || p != 11 {
		t.Fatalf("ack of the first: %d, %v; want 11 (the prefix reaches the acked second)", p, ok)
	}
	if _, ok := q.Ack(t1); ok {
		t.Fatal("a repeated ack advanced the commit point")
	}
	t4 := q.Push(13)
	if p, ok := q.Ack(t3); !ok || p != 12 || q.Len() != 1 {
		t.Fatalf("ack of the third: %d, %v, len %d", p, ok, q.Len())
	}
	if p, ok := q.Ack(t4); !ok || p != 13 || q.Len() != 0 {
		t.Fatalf("ack of the fourth: %d, %v, len %d", p, ok, q.Len())
	}
	if _, ok := q.Ack(99); ok {
		t.Fatal("an unknown ticket advanced the commit point")
	}
	// Many entries, acked backwards: one commit at the end.
	var tickets []uint64
	for i := range 5000 {
		tickets = append(tickets, q.Push(100+i))
	}
	for i := len(tickets) - 1; i > 0; i-- {
		if _, ok := q.Ack(tickets[i]); ok {
			t.Fatal("advanced before the first was acked")
		}
	}
	if p, ok := q.Ack(tickets[0]); !ok || p != 5099 || q.Len() != 0 {
		t.Fatalf("final: %d %v %d", p, ok, q.Len())
	}
}

// TestAckOnce: the first call commits and releases once; later calls give
// the first call's error without committing again; a ctx with no deadline
// gets one.
func TestAckOnce(t *testing.T) {
	var commits, releases int
	boom := errors.New("boom")
	ack := AckOnce(time.Minute, func() { releases++ }, func(ctx context.Context) error {
		commits++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("commit ran without a deadline")
		}
		return boom
	})
	for range 3 {
		if err := ack(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("ack = %v, want %v", err, boom)
		}
	}
	if commits != 1 || releases != 1 {
		t.Errorf("%d commits and %d releases, want 1 and 1", commits, releases)
	}
}
