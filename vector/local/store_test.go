package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

func TestGraphRecall(t *testing.T) {
	n := 20000
	if testing.Short() || raceEnabled {
		n = 3000 // the graph is still built: see ExactThreshold below
	}
	ctx := context.Background()
	items := vectortest.Clustered(7, n, 32, "i")
	qs := vectortest.Queries(8, items, 100)
	st, err := Open(ctx, t.TempDir(), Options{ExactThreshold: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Load(ctx, "v1", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	if st.cur.Load().graph == nil {
		t.Fatal("no graph above the exact threshold")
	}
	var total float64
	for _, q := range qs {
		got, err := st.SearchItems(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		total += vectortest.Recall(got, vectortest.Exact(items, q, 10))
	}
	if r := total / float64(len(qs)); r < 0.98 {
		t.Fatalf("recall@10 %.3f < 0.98", r)
	}
}

func TestGraphDeterministic(t *testing.T) {
	items := vectortest.Clustered(9, 2000, 32, "d")
	tb := itemTable(t, items, 32)
	p := hnswParams{m: 8, efConstruction: 40, seed: 3, workers: 1}
	g1, _ := buildGraph(context.Background(), tb, p)
	g2, _ := buildGraph(context.Background(), tb, p)
	if g1.entry != g2.entry || string(g1.levels) != string(g2.levels) || len(g1.l0) != len(g2.l0) {
		t.Fatal("two one-worker builds differ")
	}
	for i := range g1.l0 {
		if g1.l0[i] != g2.l0[i] {
			t.Fatal("two one-worker builds differ in layer 0")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := buildGraph(ctx, tb, hnswParams{m: 8, efConstruction: 40, seed: 3, workers: 2}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
}

func TestCorruptFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, dir, Options{ExactThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, "v1", vector.FromSlice(vectortest.Clustered(1, 300, 32, "c")), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	name, _ := os.ReadFile(filepath.Join(dir, "CURRENT"))
	path := filepath.Join(dir, "versions", strings.TrimSpace(string(name)))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{3, headSize + 100, len(data) / 2, len(data) - 40, len(data) - 3} {
		bad := append([]byte(nil), data...)
		bad[off] ^= 0x40
		os.WriteFile(path, bad, 0o644)
		if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("byte %d flipped: Open gave %v, want a corrupt-file error", off, err)
		}
	}
	os.WriteFile(path, data[:len(data)/3], 0o644)
	if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("truncated file: Open gave %v", err)
	}
	os.WriteFile(path, data, 0o644)
	st, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("intact file: %v", err)
	}
	st.Close()
}

func TestOpenDimension(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, dir, Options{Dim: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, "v8", vector.FromSlice(vectortest.Clustered(1, 50, 8, "x")), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(ctx, dir, Options{Dim: 32}); !errors.Is(err, vector.ErrDimension) {
		t.Fatalf("Open with Dim 32 over an 8-dimensional version: %v", err)
	}
	st, err = Open(ctx, dir, Options{})
	if err != nil || st.Dim() != 8 {
		t.Fatalf("Open with Dim 0: %v, dim %d; want the version's 8", err, st.Dim())
	}
	st.Close()
}

// TestTwoProcesses: a store sees what another one (another process, say)
// loaded into the same directory once it refreshes, and old version files
// are removed.
func TestTwoProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writer, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := Open(ctx, dir, Options{RefreshInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.Version(ctx); !errors.Is(err, vector.ErrEmpty) {
		t.Fatalf("reader before any load: %v", err)
	}
	for i, v := range []string{"v1", "v2", "v3", "v4"} {
		if _, err := writer.Load(ctx, v, vector.FromSlice(vectortest.Clustered(uint64(i), 40, 32, v)), nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := reader.Version(ctx)
		if err == nil && info.Version == "v4" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader still at %+v, %v", info, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if changed, err := reader.Refresh(ctx); changed || err != nil {
		t.Fatalf("Refresh with nothing new: %v, %v", changed, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "versions", "*"))
	if len(files) != 2 {
		t.Fatalf("version files %v: want the live one and the previous one", files)
	}
}

// TestParallelBuild: past its serial start (serialNodes; 100 here) a build
// inserts on several workers, and the graph it gives still finds the
// nearest items (the race detector checks the locking). Graphs up to
// serialNodes come out the same whatever the workers.
func TestParallelBuild(t *testing.T) {
	n := 3000
	if raceEnabled {
		n = 1200
	}
	items := vectortest.Clustered(5, n, 32, "p")
	tb := itemTable(t, items, 32)
	ctx := context.Background()
	g, err := buildGraph(ctx, tb, hnswParams{m: 16, efConstruction: 100, seed: 1, workers: 2, serial: 100})
	if err != nil {
		t.Fatal(err)
	}
	s := newSearcher(g, tb, nil)
	var total float64
	qs := vectortest.Queries(6, items, 50)
	for _, q := range qs {
		q = normalized(nil, q)
		got := s.search(q, 80)[:10]
		want := exactSearch(tb, q, 10)
		hit := 0
		for _, w := range want {
			if slices.ContainsFunc(got, func(c cand) bool { return c.id == w.id }) {
				hit++
			}
		}
		total += float64(hit) / 10
	}
	if r := total / float64(len(qs)); r < 0.98 {
		t.Errorf("recall@10 of a two-worker build: %.3f, want at least 0.98", r)
	}

	one, _ := buildGraph(ctx, tb, hnswParams{m: 16, efConstruction: 100, seed: 1, workers: 1, serial: n})
	two, _ := buildGraph(ctx, tb, hnswParams{m: 16, efConstruction: 100, seed: 1, workers: 2, serial: n})
	if !slices.Equal(one.l0, two.l0) || !slices.Equal(one.up, two.up) || one.entry != two.entry {
		t.Error("a graph no larger than its serial start differs between one and two workers")
	}
}

// TestNodeLocksBounded: a build's locks stop growing at maxNodeLocks, and
// every node maps to one of them.
func TestNodeLocksBounded(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 1}, {2, 2}, {600, 1024}, {1 << 16, 1 << 16}, {1_000_000, 1 << 16}} {
		l := newNodeLocks(c.n)
		if len(l) != c.want {
			t.Errorf("newNodeLocks(%d): %d locks, want %d", c.n, len(l), c.want)
		}
		if mu := l.of(uint32(c.n - 1)); mu == nil {
			t.Errorf("newNodeLocks(%d): no lock for node %d", c.n, c.n-1)
		}
	}
}

// itemTable builds the item table of items, of dimension dim.
func itemTable(t *testing.T, items []embedding.Entry, dim int) *table {
	t.Helper()
	b := newTableBuilder(dim, 0, nil)
	for _, e := range items {
		b.add(e.ID, e.Vector)
	}
	tb, err := b.finish("item")
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
