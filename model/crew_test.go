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
