package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
	"github.com/recoflow/recoflow/vector/pgvector"
	"github.com/recoflow/recoflow/vector/vectorbench"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// vectorsBenchConfig is what `bench vectors` measures.
type vectorsBenchConfig struct {
	items, queries, dim, clusters int
	sigma                         float64
	seed                          uint64
	duration                      time.Duration
	rounds                        int
	pgURL                         string
	pgPID                         int
	keep                          bool
	dir                           string
}

func (a *app) benchVectorsCommand() *cobra.Command {
	var c vectorsBenchConfig
	cmd := &cobra.Command{
		Use:   "vectors",
		Short: "Measure the embedded vector store against a pgvector server on the same data, side by side",
		Long: `bench vectors generates one data set — --items vectors of dimension --dim
from --clusters Gaussian clusters (centres standard normal, noise --sigma per
component, not normalised) and --queries held-out vectors drawn the same way —
computes the exact cosine top 10 of every query, and measures on it, each at
its defaults:

  embedded  the file store (a fresh directory, HNSW at its default ef_search)
  pgvector  the server at --pgvector (a fresh schema, HNSW at pgvector's
            defaults, the server's hnsw.ef_search), when given

reporting recall@10, in-process queries per second (top 10, one goroutine
and two; --rounds rounds, the systems alternated, medians), the CPU seconds
of loading with the index build (this process's; for pgvector also the
server's when --pgvector-pid names its postmaster or PGlite process on this
machine), and the size on disk. PGlite (pgvector compiled to WebAssembly,
see SERVICES.md) is labelled as such: its figures are a floor for pgvector,
not pgvector's speed.

  recoflow bench vectors --items 100000 \
    --pgvector 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case c.items < 100:
				return usageError("--items %d: want at least 100", c.items)
			case c.queries < 1:
				return usageError("--queries %d: want at least 1", c.queries)
			case c.dim < 2 || c.dim > 2000:
				return usageError("--dim %d: want 2..2000", c.dim)
			case c.clusters < 1:
				return usageError("--clusters %d: want at least 1", c.clusters)
			case c.sigma <= 0:
				return usageError("--sigma %v: want a positive number", c.sigma)
			case c.duration < 10*time.Millisecond:
				return usageError("--duration %s: want at least 10ms", c.duration)
			case c.rounds < 1:
				return usageError("--rounds %d: want at least 1", c.rounds)
			}
			return a.benchVectors(cmd.Context(), c)
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.items, "items", 100_000, "vectors in the store")
	f.IntVar(&c.queries, "queries", 1000, "held-out query vectors")
	f.IntVar(&c.dim, "dim", vector.DefaultDim, "dimension")
	f.IntVar(&c.clusters, "clusters", 1000, "Gaussian clusters the vectors are drawn from")
	f.Float64Var(&c.sigma, "sigma", 0.5, "standard deviation of each component around its cluster's centre")
	f.Uint64Var(&c.seed, "seed", 1, "seed of the generated data")
	f.DurationVar(&c.duration, "duration", 5*time.Second, "length of each throughput measurement")
	f.IntVar(&c.rounds, "rounds", 3, "throughput measurements per system and concurrency, alternating the systems")
	f.StringVar(&c.pgURL, "pgvector", "", "PostgreSQL URL of a server with pgvector to measure beside the embedded store")
	f.IntVar(&c.pgPID, "pgvector-pid", 0, "pid of the pgvector server on this machine (postmaster, or PGlite's node process), to count its CPU")
	f.BoolVar(&c.keep, "keep", false, "keep the embedded store's directory and the pgvector schema")
	f.StringVar(&c.dir, "dir", "", "directory for the embedded store (default: a temporary directory)")
	return cmd
}

// benchSystem is one store under measurement.
type benchSystem struct {
	name    string
	label   string // what it is, for the report
	store   vector.Reader
	recall  float64
	cpu     time.Duration // load with index build
	server  time.Duration // the server's share of cpu, when measured
	serverM bool
	wall    time.Duration
	size    string
	qps     map[int][]float64 // concurrency → one figure per round
}

func (a *app) benchVectors(ctx context.Context, c vectorsBenchConfig) error {
	w := a.opts.Stdout
	start := time.Now()
	items, queries := vectortest.Gaussian(c.seed, c.items, c.queries, c.dim, c.clusters, c.sigma, "item-")
	truth := vectorbench.GroundTruth(items, queries)
	a.log.Info("bench vectors: data ready", "items", c.items, "queries", c.queries, "took", time.Since(start).Round(time.Millisecond).String())

	dir := c.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "recoflow-bench-vectors-"); err != nil {
			return err
		}
		if !c.keep {
			defer os.RemoveAll(dir)
		}
	}
	var systems []*benchSystem

	emb, err := local.Open(ctx, dir, local.Options{})
	if err != nil {
		return err
	}
	defer emb.Close()
	es := &benchSystem{name: "embedded", store: emb, qps: map[int][]float64{},
		label: fmt.Sprintf("embedded file store, HNSW m=%d ef_construction=%d ef_search %d", local.DefaultM, local.DefaultEfConstruction, local.DefaultEfSearch)}
	if c.items < local.DefaultExactThreshold {
		es.label = fmt.Sprintf("embedded file store, exact scan (fewer than %d items)", local.DefaultExactThreshold)
	}
	cpu0, t0 := processCPU(), time.Now()
	if _, err := emb.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
		return err
	}
	es.cpu, es.wall = processCPU()-cpu0, time.Since(t0)
	es.size = fmt.Sprintf("%.1f MiB", float64(dirBytes(filepath.Join(dir, "versions")))/(1<<20))
	systems = append(systems, es)

	if c.pgURL != "" {
		ps, closePG, err := a.loadPgvectorBench(ctx, c, items)
		if closePG != nil {
			defer closePG()
		}
		if err != nil {
			return err
		}
		systems = append(systems, ps)
	}

	for _, s := range systems {
		if s.recall, err = vectorbench.Recall(ctx, s.store, queries, truth); err != nil {
			return fmt.Errorf("recall of %s: %w", s.name, err)
		}
	}
	for r := range c.rounds {
		for _, conc := range []int{1, 2} {
			order := slices.Clone(systems)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				tp, err := vectorbench.Run(ctx, s.store, queries, conc, c.duration)
				if err != nil {
					return fmt.Errorf("throughput of %s: %w", s.name, err)
				}
				s.qps[conc] = append(s.qps[conc], tp.QPS)
				a.log.Info("bench vectors: throughput", "system", s.name, "round", r+1, "concurrency", conc, "qps", int(tp.QPS))
			}
		}
	}
	return printVectorsBench(w, c, systems)
}

// loadPgvectorBench opens the pgvector store in a fresh schema and loads
// the items into it, measuring the CPU of this process and, given its pid,
// of the server.
func (a *app) loadPgvectorBench(ctx context.Context, c vectorsBenchConfig, items []embedding.Entry) (*benchSystem, func(), error) {
	schema := fmt.Sprintf("recoflow_bench_%08x", rand.Uint32())
	st, err := pgvector.Open(ctx, c.pgURL, pgvector.Options{Schema: schema, Dim: c.dim})
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		st.Close()
		if c.keep {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(cctx, c.pgURL)
		if err != nil {
			a.log.Warn("bench vectors: drop the bench schema", "err", err)
			return
		}
		defer conn.Close(cctx)
		if _, err := conn.Exec(cctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			a.log.Warn("bench vectors: drop the bench schema", "schema", schema, "err", err)
		}
	}
	conn, err := pgx.Connect(ctx, c.pgURL)
	if err != nil {
		return nil, cleanup, fmt.Errorf("connect to %s: %w", connect.Redact(c.pgURL), err)
	}
	defer conn.Close(ctx)
	var version, ext string
	if err := conn.QueryRow(ctx, "SELECT version(), (SELECT extversion FROM pg_extension WHERE extname = 'vector')",
		pgx.QueryExecModeSimpleProtocol).Scan(&version, &ext); err != nil {
		return nil, cleanup, fmt.Errorf("inspect %s: %w", connect.Redact(c.pgURL), err)
	}
	server := version
	if i := strings.Index(server, " on "); i > 0 {
		server = server[:i]
	}
	label := fmt.Sprintf("pgvector %s on %s, HNSW m=%d ef_construction=%d, ef_search %d", ext, server,
		pgvector.DefaultM, pgvector.DefaultEfConstruction, st.EfSearch())
	if strings.Contains(version, "PGlite") || strings.Contains(version, "emscripten") {
		label += " — PGlite: pgvector compiled to WebAssembly, a floor for pgvector, not its speed"
	}
	ps := &benchSystem{name: "pgvector", label: label, store: st, qps: map[int][]float64{}}
	cpu0, srv0, t0 := processCPU(), treeCPU(c.pgPID), time.Now()
	if _, err := st.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
		return nil, cleanup, err
	}
	ps.wall = time.Since(t0)
	ps.cpu = processCPU() - cpu0
	if c.pgPID > 0 {
		ps.server, ps.serverM = treeCPU(c.pgPID)-srv0, true
		ps.cpu += ps.server
	}
	var table, indexes int64
	if err := conn.QueryRow(ctx, "SELECT pg_table_size($1::regclass), pg_indexes_size($1::regclass)",
		pgx.QueryExecModeSimpleProtocol, schema+".item_emb").Scan(&table, &indexes); err != nil {
		return nil, cleanup, fmt.Errorf("sizes in %s: %w", connect.Redact(c.pgURL), err)
	}
	ps.size = fmt.Sprintf("%.1f MiB (table %.1f + indexes %.1f)", float64(table+indexes)/(1<<20), float64(table)/(1<<20), float64(indexes)/(1<<20))
	return ps, cleanup, nil
}

func printVectorsBench(w io.Writer, c vectorsBenchConfig, systems []*benchSystem) error {
	fmt.Fprintf(w, "bench vectors: %d items, dimension %d, %d Gaussian clusters (sigma %g, not normalised), cosine, k = %d, %d held-out queries, seed %d\n",
		c.items, c.dim, c.clusters, c.sigma, vectorbench.K, c.queries, c.seed)
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d), %s/%s, %s; throughput: median of %d rounds of %s, systems alternated\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), c.rounds, c.duration)
	for _, s := range systems {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.label)
	}
	row := func(metric string, cell func(*benchSystem) string) {
		line := fmt.Sprintf("  %-28s", metric)
		for _, s := range systems {
			line += fmt.Sprintf(" %-18s", cell(s))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	row("", func(s *benchSystem) string { return s.name })
	row("recall@10", func(s *benchSystem) string { return fmt.Sprintf("%.4f", s.recall) })
	for _, conc := range []int{1, 2} {
		row(fmt.Sprintf("in-process QPS, c = %d", conc), func(s *benchSystem) string { return fmt.Sprintf("%.0f", medianOf(s.qps[conc])) })
	}
	row("load + index build, CPU-s", func(s *benchSystem) string {
		switch {
		case s.name != "pgvector":
			return fmt.Sprintf("%.2f", s.cpu.Seconds())
		case s.serverM:
			return fmt.Sprintf("%.2f (server %.2f)", s.cpu.Seconds(), s.server.Seconds())
		}
		return fmt.Sprintf("%.2f (client only)", s.cpu.Seconds())
	})
	row("load + index build, wall s", func(s *benchSystem) string { return fmt.Sprintf("%.2f", s.wall.Seconds()) })
	row("on disk", func(s *benchSystem) string { return s.size })
	if len(systems) == 2 {
		for _, conc := range []int{1, 2} {
			fmt.Fprintf(w, "  ratio embedded / pgvector QPS, c = %d: %.2f\n", conc, medianOf(systems[0].qps[conc])/medianOf(systems[1].qps[conc]))
		}
		if !systems[1].serverM {
			fmt.Fprintln(w, "  (pgvector's CPU is this process's alone: give --pgvector-pid to count the server's)")
		}
	}
	return nil
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// processCPU returns the user plus system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// treeCPU returns the CPU time used so far by process pid and its live
// descendants, plus that of descendants it has reaped, from /proc (Linux;
// 0 elsewhere or for pid 0).
func treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	type stat struct {
		ppid                 int
		utime, stime, cu, cs int64
	}
	stats := map[int]stat{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 15 {
			continue
		}
		num := func(k int) int64 { n, _ := strconv.ParseInt(f[k], 10, 64); return n }
		stats[p] = stat{ppid: int(num(1)), utime: num(11), stime: num(12), cu: num(13), cs: num(14)}
	}
	root, ok := stats[pid]
	if !ok {
		return 0
	}
	total := root.utime + root.stime + root.cu + root.cs
	inTree := func(p int) bool {
		for depth := 0; p > 1 && depth < 64; depth++ {
			if p == pid {
				return true
			}
			p = stats[p].ppid
		}
		return false
	}
	for p, s := range stats {
		if p != pid && inTree(p) {
			total += s.utime + s.stime
		}
	}
	return time.Duration(total) * tick
}

// dirBytes sums the sizes of the files in dir.
func dirBytes(dir string) int64 {
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && !fi.IsDir() {
			total += fi.Size()
		}
	}
	return total
}
