package model

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// BenchmarkTrainMemory measures how the memory of training grows with the
// number of ratings while the model stays the same size: the same 4,000
// customers and 1,000 products (so the same parameters) rating 50 and then
// 250 products each (200,000 and 1,000,000 ratings). It reports, per
// size, the heap the Dataset holds and the peak heap Train adds on top of
// it (its parameters, Adam moments and snapshots, which do not grow with
// the ratings, and whatever does). The difference between the two sizes,
// divided by the 800,000 ratings between them, is what each further rating
// costs: the BENCHMARKS.md figure for "memory flat in the number of
// ratings beyond the model's own parameters".
//
// The peak is sampled every millisecond with the collector at GOGC 10, so
// that it is the live heap plus at most a tenth of garbage; the epochs are
// few (2, no early stopping) because memory does not grow with them.
//
//	go test ./model -run '^$' -bench TrainMemory -benchtime 1x
func BenchmarkTrainMemory(b *testing.B) {
	for _, perUser := range []int{50, 250} {
		g := genConfig{users: 4000, items: 1000, perUser: perUser, cities: 300, countries: 30, latent: 1, seed: 11}
		b.Run(fmt.Sprintf("ratings=%d", g.users*g.perUser), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				base := settledHeap()
				d := datasetOf(b, generate(g))
				held := settledHeap()
				b.StartTimer()
				peak := peakHeapDuring(func() {
					if _, err := Train(context.Background(), d, Config{Seed: 1, Epochs: 2, Patience: -1}); err != nil {
						b.Fatal(err)
					}
				})
				runtime.KeepAlive(d)
				const mib = 1 << 20
				b.ReportMetric(float64(held-base)/mib, "dataset-MiB")
				b.ReportMetric(float64(peak-held)/mib, "train-peak-MiB")
				b.ReportMetric(float64(peak-held)/float64(d.Len()), "train-peak-B/rating")
			}
		})
	}
}

// settledHeap collects garbage and returns the heap's live bytes.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapObjects()
}

// heapObjects returns the bytes of heap objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakHeapDuring runs fn with the collector at GOGC 10 and returns the
// largest heapObjects seen while it ran, sampled every millisecond.
func peakHeapDuring(fn func()) uint64 {
	old := debug.SetGCPercent(10)
	defer debug.SetGCPercent(old)
	runtime.GC()
	var (
		peak = heapObjects() // written by the sampler until done closes
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				peak = max(peak, heapObjects())
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return max(peak, heapObjects())
}
