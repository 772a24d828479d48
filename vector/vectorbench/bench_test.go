package vectorbench_test

import (
	"context"
	"os"
	"sync"
	"testing"

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

// BenchmarkLocalSearch100k: one top-10 search in the 100 k-vector HNSW
// graph, on one goroutine and on all (b.RunParallel).
func BenchmarkLocalSearch100k(b *testing.B) {
	st, qs := store100k(b, local.Options{})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := st.SearchItems(ctx, qs[i%len(qs)], vectorbench.K); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
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
