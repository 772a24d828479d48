// Package commit finds how far a partition may be committed when its
// messages, handed out in order, are acknowledged in any order: up to the
// end of the longest acknowledged prefix.
package commit

import (
	"context"
	"sync"
	"time"
)

// Queue tracks the messages of one partition handed out and not yet
// committed. It is not safe for concurrent use; callers lock.
type Queue[P any] struct {
	entries []entry[P]
	first   uint64 // ticket of entries[0]
}

type entry[P any] struct {
	pos   P
	acked bool
}

// Push records the next message handed out, whose position once acked is
// pos (for Kafka, the offset after the record; for Kinesis, its sequence
// number), and returns its ticket.
func (q *Queue[P]) Push(pos P) uint64 {
	q.entries = append(q.entries, entry[P]{pos: pos})
	return q.first + uint64(len(q.entries)) - 1
}

// Ack marks ticket acknowledged. When that extends the acknowledged prefix
// it returns the position the partition may now be committed to, and true.
// Unknown or repeated tickets are ignored.
func (q *Queue[P]) Ack(ticket uint64) (P, bool) {
	var zero P
	if ticket < q.first || ticket-q.first >= uint64(len(q.entries)) {
		return zero, false
	}
	q.entries[ticket-q.first].acked = true
	n := 0
	for n < len(q.entries) && q.entries[n].acked {
		n++
	}
	if n == 0 {
		return zero, false
	}
	pos := q.entries[n-1].pos
	q.first += uint64(n)
	q.entries = q.entries[n:]
	if cap(q.entries) > 1024 && len(q.entries) < cap(q.entries)/4 {
		q.entries = append([]entry[P](nil), q.entries...)
	}
	return pos, true
}

// Len returns how many messages are handed out and not yet committed.
func (q *Queue[P]) Len() int { return len(q.entries) }

// AckOnce returns a batch's ack function: the first call runs commit, with
// a deadline of timeout when the caller's ctx has none, then release
// (which frees the batch's in-flight allowance whatever commit returned);
// every call returns the first call's error, so acking twice commits once.
func AckOnce(timeout time.Duration, release func(), commit func(ctx context.Context) error) func(ctx context.Context) error {
	var (
		once sync.Once
		err  error
	)
	return func(ctx context.Context) error {
		once.Do(func() {
			defer release()
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			err = commit(ctx)
		})
		return err
	}
}
