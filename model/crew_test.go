package model

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCrewRunsEveryShardOnce runs many phases on the crew, with 2 to 4
// workers and with several callers at once (those that find it busy run on
// their own goroutines), and checks that every phase ran each shard
// exactly once and had finished when run returned.
func TestCrewRunsEveryShardOnce(t *testing.T) {
	phases := 3000
	if testing.Short() {
		phases = 300
	}
	var wg sync.WaitGroup
	for caller := range 3 {
		wg.Go(func() {
			for p := range phases {
				w := 2 + (p+caller)%3
				var ran [shards]atomic.Int32
				theCrew.run(w, func(s int) { ran[s].Add(1) })
				for s := range shards {
					if n := ran[s].Load(); n != 1 {
						t.Errorf("caller %d, phase %d, %d workers: shard %d ran %d times when run returned, want once", caller, p, w, s, n)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestCrewWakesParkedHelpers lets the helpers park (no phase for well over
// crewSpin) between phases, and checks that each phase still runs.
func TestCrewWakesParkedHelpers(t *testing.T) {
	for p := range 20 {
		var ran atomic.Int32
		theCrew.run(2, func(s int) { ran.Add(1) })
		if n := ran.Load(); n != shards {
			t.Fatalf("phase %d: %d shards ran, want %d", p, n, shards)
		}
		// wait, on evidence, until the helper is parked
		for !theCrew.helpers[0].asleep.Load() {
			runtime.Gosched()
		}
	}
}

// TestCrewLateHelperDoesNotEndTheNextPhase holds the helper that ends a
// phase between its report and its check for a parked caller until the
// caller has started the next phase and parked for it; the helper's shards
// of that next phase then wait for the caller to be still parked. The late
// check must not wake the caller for the phase the helper has not run: run
// must not return before every shard ran.
func TestCrewLateHelperDoesNotEndTheNextPhase(t *testing.T) {
	var holds atomic.Int32
	var held, giveUp atomic.Bool
	parked := func() bool { return theCrew.waiting.Load() != 0 || giveUp.Load() }
	holds.Store(50)
	crewHelperDone = func() {
		if parked() || holds.Add(-1) < 0 {
			return // this phase's caller is parked: its wake is due
		}
		// this phase's caller returns without parking
		for !parked() { // until the next phase's caller parks
			runtime.Gosched()
		}
		held.Store(true)
	}
	defer func() {
		giveUp.Store(true)
		crewHelperDone = nil
	}()
	for p := range 200 {
		var ran [shards]atomic.Int32
		theCrew.run(2, func(s int) {
			if s%2 == 1 && held.CompareAndSwap(true, false) {
				for !parked() { // the caller waits for this phase
					runtime.Gosched()
				}
			}
			ran[s].Add(1)
		})
		for s := range shards {
			if n := ran[s].Load(); n != 1 {
				t.Fatalf("phase %d: shard %d ran %d times when run returned, want once", p, s, n)
			}
		}
	}
}
