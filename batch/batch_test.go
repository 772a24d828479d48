package batch

import (
	"testing"
	"time"
)

// fakeClock is a clock that moves only when the test says so.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"count", Policy{Count: 1}, true},
		{"bytes", Policy{Bytes: 1}, true},
		{"period", Policy{Period: time.Millisecond}, true},
		{"all", Policy{Count: 500, Bytes: 4 << 20, Period: time.Minute}, true},
		{"none", Policy{}, false},
		{"negative count", Policy{Count: -1, Bytes: 1}, false},
		{"negative bytes", Policy{Bytes: -1, Count: 1}, false},
		{"negative period", Policy{Period: -time.Second, Count: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tt.p, err, tt.ok)
			}
		})
	}
}

func TestString(t *testing.T) {
	if got := (Policy{Bytes: 10, Period: time.Second}).String(); got != "bytes=10 period=1s" {
		t.Errorf("String = %q", got)
	}
	if got := (Policy{}).String(); got != "none" {
		t.Errorf("String of empty policy = %q", got)
	}
}

func TestCountLimit(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{Count: 3}, c.now)
	if b.Add(1, 10) || b.Add(1, 10) {
		t.Fatal("full before 3 records")
	}
	if !b.Fits(1, 1) || b.Fits(2, 1) {
		t.Fatal("Fits wrong at 2 of 3 records")
	}
	if !b.Add(1, 10) {
		t.Fatal("not full at 3 records")
	}
	if !b.Due() {
		t.Fatal("full buffer not due")
	}
	if _, ok := b.Deadline(); ok {
		t.Fatal("deadline without a period")
	}
	b.Reset()
	if !b.Empty() || b.Full() || b.Count() != 0 || b.Bytes() != 0 {
		t.Fatal("Reset left state behind")
	}
}

func TestBytesLimit(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{Bytes: 100}, c.now)
	if b.Add(1, 60) {
		t.Fatal("full at 60 of 100 bytes")
	}
	if b.Fits(1, 41) {
		t.Fatal("41 more bytes should not fit in 40")
	}
	if !b.Fits(1, 40) {
		t.Fatal("40 more bytes should fit exactly")
	}
	if !b.Add(1, 40) {
		t.Fatal("not full at exactly 100 bytes")
	}
	b.Reset()
	// A record larger than the limit fits an empty buffer and fills it.
	if !b.Fits(1, 1000) {
		t.Fatal("an empty buffer must take an oversized record")
	}
	if !b.Add(1, 1000) {
		t.Fatal("oversized record did not fill the buffer")
	}
}

func TestPeriod(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{Bytes: 1 << 20, Period: time.Second}, c.now)
	if b.Due() {
		t.Fatal("empty buffer is due")
	}
	c.advance(10 * time.Second) // time passing with an empty buffer starts nothing
	if b.Due() {
		t.Fatal("empty buffer became due")
	}
	start := c.t
	b.Add(1, 5)
	d, ok := b.Deadline()
	if !ok || !d.Equal(start.Add(time.Second)) {
		t.Fatalf("Deadline = %v %v, want %v", d, ok, start.Add(time.Second))
	}
	c.advance(500 * time.Millisecond)
	b.Add(1, 5) // a later record does not move the deadline
	if d2, _ := b.Deadline(); !d2.Equal(d) {
		t.Fatalf("deadline moved from %v to %v", d, d2)
	}
	c.advance(499 * time.Millisecond)
	if b.Due() {
		t.Fatal("due 1 ms early")
	}
	c.advance(time.Millisecond)
	if !b.Due() {
		t.Fatal("not due at the deadline")
	}
	if b.Full() {
		t.Fatal("due by period must not mean full")
	}
	b.Reset()
	if _, ok := b.Deadline(); ok {
		t.Fatal("deadline after Reset")
	}
}

func TestZeroRecordsStartPeriod(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	b := New(Policy{Period: time.Second}, c.now)
	b.Add(0, 0)
	if b.Empty() {
		t.Fatal("an Add of zero records left the buffer empty: its acknowledgements would never flush")
	}
	c.advance(time.Second)
	if !b.Due() {
		t.Fatal("not due")
	}
}

func TestZeroClock(t *testing.T) {
	b := New(Policy{Period: time.Second}, func() time.Time { return time.Time{} })
	b.Add(1, 1)
	if b.Empty() {
		t.Fatal("a clock at the zero time left the buffer empty")
	}
}

func TestWhicheverFirst(t *testing.T) {
	tests := []struct {
		name  string
		adds  []int64 // sizes of single records, one per 100 ms
		due   int     // index of the add after which the buffer is due
		count int
	}{
		{"count first", []int64{1, 1, 1}, 2, 3},
		{"bytes first", []int64{50, 60, 1}, 1, 10},
		{"period first", []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 10, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{t: time.Unix(1000, 0)}
			b := New(Policy{Count: tt.count, Bytes: 100, Period: time.Second}, c.now)
			for i, n := range tt.adds {
				b.Add(1, n)
				if got := b.Due(); got != (i >= tt.due) {
					t.Fatalf("after add %d: Due = %v", i, got)
				}
				c.advance(100 * time.Millisecond)
			}
		})
	}
}

func TestPolicyAccessor(t *testing.T) {
	p := Policy{Count: 7}
	if New(p, nil).Policy() != p {
		t.Fatal("Policy() differs")
	}
}
