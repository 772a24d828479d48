// Package vectorbench measures vector stores the way BENCHMARKS.md reports
// them: load time, start-up time, recall@10 against exact search, and
// queries per second with p50 and p99 latency at a given concurrency, on
// clustered vectors from vectortest.
//
// The report is produced by a test, so that it needs no extra command:
//
//	RECOFLOW_BENCH_VECTORS=100000,1000000 \
//	RECOFLOW_BENCH_PGVECTOR='postgres://postgres@127.0.0.1:55433/postgres?sslmode=disable&default_query_exec_mode=exec' \
//	go test ./vector/vectorbench -run TestReport -v -timeout 3h
//
// Without RECOFLOW_BENCH_VECTORS the report test is skipped; the ordinary
// Go benchmarks (go test -bench .) measure the embedded store alone.
package vectorbench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// K is the number of neighbours asked for and scored (recall@K).
const K = 10

// GroundTruth returns the exact K nearest items of every query, computed
// on all cores.
func GroundTruth(items []embedding.Entry, queries [][]float32) [][]vector.Hit {
	out := make([][]vector.Hit, len(queries))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(queries) {
					return
				}
				out[i] = vectortest.Exact(items, queries[i], K)
			}
		})
	}
	wg.Wait()
	return out
}

// Recall returns the mean recall@K of st over queries against truth.
func Recall(ctx context.Context, st vector.Reader, queries [][]float32, truth [][]vector.Hit) (float64, error) {
	var sum float64
	for i, q := range queries {
		hits, err := st.SearchItems(ctx, q, K)
		if err != nil {
			return 0, err
		}
		sum += vectortest.Recall(hits, truth[i])
	}
	return sum / float64(len(queries)), nil
}

// Throughput is the outcome of a load test.
type Throughput struct {
	Concurrency int
	Queries     int
	Elapsed     time.Duration
	QPS         float64
	P50, P99    time.Duration
}

// Run searches with concurrency goroutines, cycling through queries, for
// about d (and at least one query each), and measures every search.
func Run(ctx context.Context, st vector.Reader, queries [][]float32, concurrency int, d time.Duration) (Throughput, error) {
	return RunFunc(len(queries), concurrency, d, func(i int) error {
		_, err := st.SearchItems(ctx, queries[i], K)
		return err
	})
}

// RunFunc calls search with concurrency goroutines, cycling through the
// query numbers 0..n-1, for about d (and at least once each), and measures
// every call: Run for searches that are not a vector.Reader's (an HTTP
// API's, say).
func RunFunc(n, concurrency int, d time.Duration, search func(i int) error) (Throughput, error) {
	var next atomic.Int64
	lat := make([][]time.Duration, concurrency)
	errs := make([]error, concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for g := range concurrency {
		wg.Go(func() {
			for done := 0; done == 0 || time.Now().Before(deadline); done++ {
				i := int(next.Add(1)-1) % n
				t := time.Now()
				if err := search(i); err != nil {
					errs[g] = err
					return
				}
				lat[g] = append(lat[g], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return Throughput{}, err
		}
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return Throughput{
		Concurrency: concurrency,
		Queries:     len(all),
		Elapsed:     elapsed,
		QPS:         float64(len(all)) / elapsed.Seconds(),
		P50:         all[len(all)/2],
		P99:         all[min(len(all)-1, len(all)*99/100)],
	}, nil
}

// String formats a throughput as a table row fragment.
func (t Throughput) String() string {
	return fmt.Sprintf("%8.0f q/s  p50 %s  p99 %s  (%d queries, concurrency %d)", t.QPS, fmtDur(t.P50), fmtDur(t.P99), t.Queries, t.Concurrency)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
