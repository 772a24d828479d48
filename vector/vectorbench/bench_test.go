package vectorbench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
	"github.com/recoflow/recoflow/vector/vectorbench"
	"github.com/recoflow/recoflow/vector/vectortest"
)

var bench100k struct {
	once    sync.Once
	dir     string
	items   []embedding.Entry
	queries [][]float32
	err     error

	truthOnce sync.Once
	truth     [][]vector.Hit // exact top 10 of the first 300 queries
}

// store100k builds the 100 k-vector store once per test binary.
func store100k(b *testing.B, opts local.Options) (*local.Store, [][]float32) {
	b.Helper()
	s := &bench100k
	s.once.Do(func() {
		s.items = vectortest.Clustered(1, 100_000, vector.DefaultDim, "item-")
		s.queries = vectortest.Queries(2, s.items, 2000)
		s.dir, s.err = tempDir()
		if s.err != nil {
			return
		}
		var st *local.Store
		if st, s.err = local.Open(context.Background(), s.dir, local.Options{}); s.err != nil {
			return
		}
		_, s.err = st.Load(context.Background(), "bench", vector.FromSlice(s.items), nil)
		st.Close()
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
	st, err := local.Open(context.Background(), s.dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st, s.queries
}

// processCPU returns the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the metric cpu-ns/op: the process's CPU time per
// operation since start, which a machine shared with other work disturbs
// far less than the wall time of ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkLocalSearch100k: one top-10 search in the 100 k-vector HNSW
// graph, on one goroutine and on all (b.RunParallel).
func BenchmarkLocalSearch100k(b *testing.B) {
	st, qs := store100k(b, local.Options{})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		s := &bench100k
		s.truthOnce.Do(func() { s.truth = vectorbench.GroundTruth(s.items, qs[:300]) })
		recall, err := vectorbench.Recall(ctx, st, qs[:300], s.truth)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		cpu := processCPU()
		for b.Loop() {
			if _, err := st.SearchItems(ctx, qs[i%len(qs)], vectorbench.K); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportCPU(b, cpu)
		b.ReportMetric(recall, "recall@10")
	})
	b.Run("parallel", func(b *testing.B) {
		cpu := processCPU()
		defer reportCPU(b, cpu)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := st.SearchItems(ctx, qs[i%len(qs)], vectorbench.K); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkLocalBuild100k: loading 100 k vectors, the HNSW build with
// them, on all cores; cpu-s/op is the CPU time of one load.
func BenchmarkLocalBuild100k(b *testing.B) {
	items := vectortest.Clustered(1, 100_000, vector.DefaultDim, "item-")
	ctx := context.Background()
	var cpu time.Duration
	for b.Loop() {
		st, err := local.Open(ctx, b.TempDir(), local.Options{})
		if err != nil {
			b.Fatal(err)
		}
		start := processCPU()
		if _, err := st.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - start
		st.Close()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkLocalOpen100k: start-up, reading a 100 k-vector version.
func BenchmarkLocalOpen100k(b *testing.B) {
	store100k(b, local.Options{})
	for b.Loop() {
		st, err := local.Open(context.Background(), bench100k.dir, local.Options{})
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}

// BenchmarkLocalExact10k: a full scan of 10 k vectors, the largest
// version searched exactly by default.
func BenchmarkLocalExact10k(b *testing.B) {
	items := vectortest.Clustered(3, 10_000, vector.DefaultDim, "e-")
	qs := vectortest.Queries(4, items, 100)
	dir := b.TempDir()
	st, err := local.Open(context.Background(), dir, local.Options{ExactThreshold: 10_001})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Load(context.Background(), "exact", vector.FromSlice(items), nil); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := st.SearchItems(context.Background(), qs[i%len(qs)], vectorbench.K); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func tempDir() (string, error) { return os.MkdirTemp("", "recoflow-vectorbench-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if bench100k.dir != "" {
		os.RemoveAll(bench100k.dir)
	}
	os.Exit(code)
}

// BenchmarkLocalSearch1M: the 1 M-vector store (built once, which takes
// minutes: set RECOFLOW_BENCH_1M=1 to run it), one top-10 search on one
// goroutine, with recall@10 over 300 queries and the build's CPU and wall
// time as metrics. RECOFLOW_BENCH_1M_EF="80,96,…" also measures those
// ef_search values on the same store.
func BenchmarkLocalSearch1M(b *testing.B) {
	if os.Getenv("RECOFLOW_BENCH_1M") == "" {
		b.Skip("set RECOFLOW_BENCH_1M=1 to build and search a 1 M-vector store")
	}
	ctx := context.Background()
	items := vectortest.Clustered(1, 1_000_000, vector.DefaultDim, "item-")
	qs := vectortest.Queries(2, items, 2000)
	dir := b.TempDir()
	st, err := local.Open(ctx, dir, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cpu0, t0 := processCPU(), time.Now()
	if _, err := st.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
		b.Fatal(err)
	}
	buildCPU, buildWall := processCPU()-cpu0, time.Since(t0)
	st.Close()
	truth := vectorbench.GroundTruth(items, qs[:300])
	efs := []int{0}
	for _, f := range strings.Split(os.Getenv("RECOFLOW_BENCH_1M_EF"), ",") {
		if ef, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && ef > 0 {
			efs = append(efs, ef)
		}
	}
	for _, ef := range efs {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			st, err := local.Open(ctx, dir, local.Options{EfSearch: ef})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			recall, err := vectorbench.Recall(ctx, st, qs[:300], truth)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			cpu := processCPU()
			for b.Loop() {
				if _, err := st.SearchItems(ctx, qs[i%len(qs)], vectorbench.K); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCPU(b, cpu)
			b.ReportMetric(recall, "recall@10")
			b.ReportMetric(buildCPU.Seconds(), "build-cpu-s")
			b.ReportMetric(buildWall.Seconds(), "build-wall-s")
		})
	}
}
