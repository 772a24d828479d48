package batch

import (
	"errors"
	"fmt"
	"time"
)

// Policy says when a buffer is flushed: as soon as one of its non-zero limits
// is reached. A zero field is no limit; at least one must be set.
type Policy struct {
	// Count flushes a buffer that holds this many records.
	Count int
	// Bytes flushes a buffer that holds this many bytes.
	Bytes int64
	// Period flushes a buffer whose first record was added this long ago.
	Period time.Duration
}

// Validate reports a policy with a negative limit or with no limit at all
// (a buffer that would never flush).
func (p Policy) Validate() error {
	switch {
	case p.Count < 0:
		return fmt.Errorf("batch policy: negative count %d", p.Count)
	case p.Bytes < 0:
		return fmt.Errorf("batch policy: negative byte size %d", p.Bytes)
	case p.Period < 0:
		return fmt.Errorf("batch policy: negative period %s", p.Period)
	case p.Count == 0 && p.Bytes == 0 && p.Period == 0:
		return errors.New("batch policy: no count, byte size or period: the buffer would never flush")
	}
	return nil
}

// String describes the policy's limits, e.g. "bytes=5242880 period=1s".
func (p Policy) String() string {
	s := ""
	add := func(f string, v any) {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf(f, v)
	}
	if p.Count > 0 {
		add("count=%d", p.Count)
	}
	if p.Bytes > 0 {
		add("bytes=%d", p.Bytes)
	}
	if p.Period > 0 {
		add("period=%s", p.Period)
	}
	if s == "" {
		return "none"
	}
	return s
}

// Batcher applies a Policy to one buffer: it counts what is added and knows
// when the buffer's period ends. It is not safe for concurrent use; the
// goroutine that owns the buffer owns its Batcher.
type Batcher struct {
	p     Policy
	now   func() time.Time
	count int
	bytes int64
	first time.Time // when the buffer became non-empty; zero while empty
}

// New returns a Batcher for p with an empty buffer. now is the clock (nil:
// time.Now). p should have passed Validate; a policy without limits makes a
// Batcher that is never full nor due.
func New(p Policy, now func() time.Time) *Batcher {
	if now == nil {
		now = time.Now
	}
	return &Batcher{p: p, now: now}
}

// Policy returns the policy the Batcher applies.
func (b *Batcher) Policy() Policy { return b.p }

// Add counts n records of size bytes in total and reports whether the buffer
// is now full (Full). The period starts with the first Add to an empty
// buffer, even an Add of zero records: a buffer that holds only something
// to acknowledge must be flushed too.
func (b *Batcher) Add(n int, size int64) bool {
	if b.first.IsZero() {
		b.first = b.now()
		if b.first.IsZero() { // a clock at the zero time still starts the period
			b.first = b.first.Add(1)
		}
	}
	b.count += n
	b.bytes += size
	return b.Full()
}

// Fits reports whether n more records of size bytes can be added without
// going past the count or byte limit. An empty buffer takes anything, so a
// record larger than the limit still makes a buffer of its own.
func (b *Batcher) Fits(n int, size int64) bool {
	if b.Empty() {
		return true
	}
	if b.p.Count > 0 && b.count+n > b.p.Count {
		return false
	}
	if b.p.Bytes > 0 && b.bytes+size > b.p.Bytes {
		return false
	}
	return true
}

// Full reports whether the count or byte limit has been reached.
func (b *Batcher) Full() bool {
	return (b.p.Count > 0 && b.count >= b.p.Count) || (b.p.Bytes > 0 && b.bytes >= b.p.Bytes)
}

// Deadline returns when the buffer's period ends, and false when the buffer
// is empty or the policy has no period.
func (b *Batcher) Deadline() (time.Time, bool) {
	if b.first.IsZero() || b.p.Period <= 0 {
		return time.Time{}, false
	}
	return b.first.Add(b.p.Period), true
}

// Due reports whether the buffer must be flushed now: it is full, or its
// period has ended by the clock.
func (b *Batcher) Due() bool {
	if b.Full() {
		return true
	}
	d, ok := b.Deadline()
	return ok && !b.now().Before(d)
}

// Empty reports whether nothing has been added since the last Reset.
func (b *Batcher) Empty() bool { return b.first.IsZero() }

// Count returns the number of records added since the last Reset.
func (b *Batcher) Count() int { return b.count }

// Bytes returns the number of bytes added since the last Reset.
func (b *Batcher) Bytes() int64 { return b.bytes }

// Reset empties the buffer, after a flush.
func (b *Batcher) Reset() {
	b.count, b.bytes, b.first = 0, 0, time.Time{}
}
