package vectorbench_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
	"github.com/recoflow/recoflow/vector/pgvector"
	"github.com/recoflow/recoflow/vector/vectorbench"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// TestReport prints the BENCHMARKS.md figures. See the package comment.
func TestReport(t *testing.T) {
	sizesVar := os.Getenv("RECOFLOW_BENCH_VECTORS")
	if sizesVar == "" {
		t.Skip("set RECOFLOW_BENCH_VECTORS=100000[,1000000] to measure (and RECOFLOW_BENCH_PGVECTOR to include pgvector)")
	}
	var sizes []int
	for _, s := range strings.Split(sizesVar, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("RECOFLOW_BENCH_VECTORS: %q is not a size", s)
		}
		sizes = append(sizes, n)
	}
	pgURL := os.Getenv("RECOFLOW_BENCH_PGVECTOR")
	pgMax := 0 // largest size measured on pgvector; 0: all
	if v := os.Getenv("RECOFLOW_BENCH_PGVECTOR_MAX"); v != "" {
		pgMax, _ = strconv.Atoi(v)
	}
	dur := 5 * time.Second
	if v := os.Getenv("RECOFLOW_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	ctx := context.Background()
	report := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		fmt.Println(line)
		t.Log(line)
	}
	report("machine: %d cores (GOMAXPROCS %d), %s, %s/%s, %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())

	for _, n := range sizes {
		report("")
		report("## %d vectors, dimension %d", n, vector.DefaultDim)
		start := time.Now()
		items := vectortest.Clustered(1, n, vector.DefaultDim, "item-")
		queries := vectortest.Queries(2, items, 2000)
		nRecall := 1000
		if n >= 500_000 {
			nRecall = 500
		}
		truth := vectorbench.GroundTruth(items, queries[:nRecall])
		report("data: %d clustered vectors, %d queries, exact top-%d of %d queries in %s", n, len(queries), vectorbench.K, nRecall, time.Since(start).Round(time.Millisecond))

		// The embedded store.
		dir := t.TempDir()
		st, err := local.Open(ctx, dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if _, err := st.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
			t.Fatal(err)
		}
		loadTime := time.Since(start)
		st.Close()
		runtime.GC()
		start = time.Now()
		st, err = local.Open(ctx, dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		openTime := time.Since(start)
		size := dirSize(t, filepath.Join(dir, "versions"))
		report("local: load (build + write + fsync) %s, open %s, file %.1f MiB", loadTime.Round(time.Millisecond), openTime.Round(time.Microsecond), float64(size)/(1<<20))
		for _, ef := range []int{20, 40, local.DefaultEfSearch, 160} {
			s, err := local.Open(ctx, dir, local.Options{EfSearch: ef})
			if err != nil {
				t.Fatal(err)
			}
			r, err := vectorbench.Recall(ctx, s, queries[:nRecall], truth)
			if err != nil {
				t.Fatal(err)
			}
			tp, err := vectorbench.Run(ctx, s, queries, 1, dur/2)
			if err != nil {
				t.Fatal(err)
			}
			report("local ef_search %3d: recall@10 %.4f  %s", ef, r, tp)
			s.Close()
		}
		r, err := vectorbench.Recall(ctx, st, queries[:nRecall], truth)
		if err != nil {
			t.Fatal(err)
		}
		report("local default (ef_search %d): recall@10 %.4f", local.DefaultEfSearch, r)
		for _, c := range []int{1, 8} {
			tp, err := vectorbench.Run(ctx, st, queries, c, dur)
			if err != nil {
				t.Fatal(err)
			}
			report("local c=%d: %s", c, tp)
		}
		st.Close()

		if pgURL == "" || (pgMax > 0 && n > pgMax) {
			continue
		}
		benchPgvector(t, ctx, pgURL, n, items, queries, truth, dur, report)
	}
}

func benchPgvector(t *testing.T, ctx context.Context, url string, n int, items []embedding.Entry, queries [][]float32, truth [][]vector.Hit, dur time.Duration, report func(string, ...any)) {
	schema := fmt.Sprintf("recoflow_bench_%08x", rand.Uint32())
	if os.Getenv("RECOFLOW_BENCH_KEEP") == "" {
		defer func() {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Errorf("drop bench schema: %v", err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
				t.Errorf("drop bench schema: %v", err)
			}
		}()
	}
	// PGlite runs every connection in one shared session, so a setting
	// made for one store (hnsw.ef_search) applies to all: each measurement
	// below opens a store that sets the ef_search it reports.
	opts := pgvector.Options{Schema: schema, MaxConns: 8, EfSearch: pgvector.DefaultEfSearch,
		MaintenanceWorkMem: os.Getenv("RECOFLOW_BENCH_PG_MWM"),
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if v := os.Getenv("RECOFLOW_BENCH_PG_EFC"); v != "" {
		opts.EfConstruction, _ = strconv.Atoi(v)
	}
	st, err := pgvector.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var server string
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	conn.QueryRow(ctx, "SELECT version() || ', pgvector ' || extversion FROM pg_extension WHERE extname = 'vector'", pgx.QueryExecModeSimpleProtocol).Scan(&server)
	conn.Close(ctx)
	start := time.Now()
	if _, err := st.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	loadTime := time.Since(start)
	var tableSize int64
	conn, err = pgx.Connect(ctx, url)
	if err == nil {
		conn.QueryRow(ctx, "SELECT pg_total_relation_size('"+schema+".item_emb')", pgx.QueryExecModeSimpleProtocol).Scan(&tableSize)
		conn.Close(ctx)
	}
	method := "INSERT … unnest batches"
	if st.UsesCopy() {
		method = "COPY"
	}
	report("pgvector on %s", server)
	efc := opts.EfConstruction
	if efc == 0 {
		efc = pgvector.DefaultEfConstruction
	}
	report("pgvector: load (%s + primary key + HNSW m=16 ef_construction=%d) %s, item_emb with indexes %.1f MiB", method, efc, loadTime.Round(time.Millisecond), float64(tableSize)/(1<<20))
	nRecall := len(truth)
	open := func(ef int) *pgvector.Store {
		o := opts
		o.EfSearch = ef
		s, err := pgvector.Open(ctx, url, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, ef := range []int{40, 100, 200} {
		s := open(ef)
		r, err := vectorbench.Recall(ctx, s, queries[:nRecall], truth)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := vectorbench.Run(ctx, s, queries, 1, dur/2)
		if err != nil {
			t.Fatal(err)
		}
		report("pgvector ef_search %3d: recall@10 %.4f  %s", ef, r, tp)
		s.Close()
	}
	st.Close()
	st = open(pgvector.DefaultEfSearch)
	defer st.Close()
	for _, c := range []int{1, 8} {
		tp, err := vectorbench.Run(ctx, st, queries, c, dur)
		if err != nil {
			t.Fatal(err)
		}
		report("pgvector c=%d (ef_search 40): %s", c, tp)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var total int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			total += fi.Size()
		}
	}
	return total
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
