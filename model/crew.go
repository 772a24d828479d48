package model

import (
	"sync"
	"sync/atomic"
	"time"
)

// crew is a set of helper goroutines that run the shards of one parallel
// phase at a time beside the caller. A training step is four short phases
// (about half a millisecond each at 1 M ratings) separated by a few
// microseconds of serial work; starting a goroutine per phase meant waking
// a sleeping thread four times a step, and on a virtual machine each wake
// costs tens of microseconds while the other core waits. A crew's helpers
// instead wait for the next phase spinning for up to crewSpin, and only
// then park; a phase finds them awake.
//
// One crew serves one phase at a time: a caller that finds it busy (two
// trainings in one process) runs its phase on fresh goroutines instead.
type crew struct {
	busy    sync.Mutex
	helpers []*helper
	// the current phase
	f       func(s int)
	workers int
	phases  uint64        // the phases run so far, this one included
	pending atomic.Int32  // helpers still running the phase
	waiting atomic.Uint64 // the phase whose end the caller parked on done to wait for (0: none)
	done    chan struct{} // the helper that finishes a phase its caller waits for says so
}

// helper is one goroutine of a crew.
type helper struct {
	index  int           // 1..: which shards it runs (index, index+workers, …)
	phase  atomic.Uint64 // the number of the phase it is asked to run
	asleep atomic.Bool   // parked on wake
	wake   chan struct{}
}

// crewSpin is how long a helper (or the caller, for the helpers to finish)
// spins before parking.
const crewSpin = 100 * time.Microsecond

// theCrew is shared by the package's trainers; it grows to the most workers
// asked for (at most shards).
var theCrew = &crew{done: make(chan struct{}, 1)}

// run runs f(s) for every shard s < shards on w workers (the caller
// included) and returns when all are done. The shards each worker runs,
// and so the results, are those of the plain goroutine version.
func (c *crew) run(w int, f func(s int)) {
	if !c.busy.TryLock() {
		runOnGoroutines(w, f)
		return
	}
	defer c.busy.Unlock()
	for len(c.helpers) < w-1 {
		h := &helper{index: len(c.helpers) + 1, wake: make(chan struct{}, 1)}
		c.helpers = append(c.helpers, h)
		go c.serve(h)
	}
	c.f, c.workers = f, w
	c.phases++
	this := c.phases
	c.pending.Store(int32(w - 1))
	for _, h := range c.helpers[:w-1] {
		h.phase.Add(1)
		if h.asleep.CompareAndSwap(true, false) {
			h.wake <- struct{}{}
		}
	}
	for s := 0; s < shards; s += w {
		f(s)
	}
	// wait for the helpers: spin, then park. waiting names the phase, so
	// that a helper of an earlier phase, late to check it, cannot take
	// this one's wait for its own.
	if spinUntil(func() bool { return c.pending.Load() == 0 }) {
		return
	}
	c.waiting.Store(this)
	if c.pending.Load() == 0 && c.waiting.CompareAndSwap(this, 0) {
		return
	}
	<-c.done
}

// serve is a helper's loop: wait for a phase, run its shards, report.
func (c *crew) serve(h *helper) {
	var seen uint64
	for {
		if !spinUntil(func() bool { return h.phase.Load() != seen }) {
			h.asleep.Store(true)
			if h.phase.Load() != seen && h.asleep.CompareAndSwap(true, false) {
				// the phase came before we slept: no wake was sent
			} else {
				<-h.wake
			}
		}
		seen = h.phase.Load()
		this := c.phases // written before the phase was announced
		hook := crewHelperDone
		for s := h.index; s < shards; s += c.workers {
			c.f(s)
		}
		if c.pending.Add(-1) == 0 {
			if hook != nil {
				hook()
			}
			if c.waiting.CompareAndSwap(this, 0) {
				c.done <- struct{}{}
			}
		}
	}
}

// crewHelperDone, set only by tests, runs in the helper that finished a
// phase last, between its report and its check for a parked caller.
var crewHelperDone func()

// spinUntil calls cond until it holds (true) or crewSpin has passed
// (false).
func spinUntil(cond func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i&63 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > crewSpin {
				return false
			}
		}
	}
}

// runOnGoroutines is run without a crew: one fresh goroutine per extra
// worker.
func runOnGoroutines(w int, f func(s int)) {
	var wg sync.WaitGroup
	for g := 1; g < w; g++ {
		wg.Go(func() {
			for s := g; s < shards; s += w {
				f(s)
			}
		})
	}
	for s := 0; s < shards; s += w {
		f(s)
	}
	wg.Wait()
}
