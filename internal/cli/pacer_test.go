package cli

import (
	"testing"
	"time"
)

// TestPacerAfterStall stalls a 1,000 events/s pacer for 3 s (a clock that
// jumps) and checks that what follows is a bounded catch-up burst and then
// the rate again: never a wait longer than one interval, never a flood.
// Before the fix the forgiven lag doubled with every event until the
// schedule overflowed and produce waited for ever.
func TestPacerAfterStall(t *testing.T) {
	clock := time.Unix(1_000_000, 0)
	p := newPacer(clock, 1000)
	p.now = func() time.Time { return clock }
	n := int64(0)
	next := func() time.Duration { // event n: wait as produce would, then publish it
		d := p.delay(n)
		if d > p.interval {
			t.Fatalf("event %d waits %s, more than one interval (%s)", n, d, p.interval)
		}
		if d > 0 {
			clock = clock.Add(d)
		}
		n++
		clock = clock.Add(10 * time.Microsecond) // publishing takes a little
		return d
	}
	for range 500 {
		next()
	}
	clock = clock.Add(3 * time.Second) // the stall
	burst := 0
	for next() <= 0 {
		burst++
		if burst > 2000 {
			t.Fatalf("still catching up after %d events: the stall's lag was not forgiven", burst)
		}
	}
	// maxBurst (1 s) of events at 1,000/s, less the time the burst takes.
	if burst < 900 || burst > 1100 {
		t.Errorf("caught up with %d events at once, want about 1,000 (maxBurst at the rate)", burst)
	}
	if p.skipped < 1900 || p.skipped > 2000 {
		t.Errorf("forgave %d events, want about 2,000", p.skipped)
	}
	for i := range 5000 { // paced again, for a long while
		if d := next(); d <= 0 && i > 0 {
			t.Fatalf("event %d after the catch-up is already late by %s", n, -d)
		}
	}
}
