package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
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
	noHTTP                        bool
	cpuProfile                    string
	rss                           bool
	openOnly                      string
	gc                            string // the collector's setting while measuring, for the report
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
and two; --rounds rounds, the systems alternated, medians), the same over
HTTP — POST /items_from_user?limit=10 to recoflow serve's API (api.Server
over a recommend.Engine, on a loopback port in this process, clients on
keep-alive connections) — with the CPU microseconds per query of each
(this process: client and server for HTTP), the HTTP floor (the same
client and requests against a plain net/http handler that only reads the
body and writes the API's answer to the first query: what any HTTP API
costs on this machine, measured in the same rounds; every throughput is
measured with the garbage collector at serve's GOGC 25 unless GOGC is
set), the CPU seconds
of loading with the index build (this process's; for pgvector also the
server's when --pgvector-pid names its postmaster or PGlite process on this
machine), and the size on disk. PGlite (pgvector compiled to WebAssembly,
see SERVICES.md) is labelled as such: its figures are a floor for pgvector,
not pgvector's speed. With --pgvector, the adapter's searches (user to
items, item to items) are also measured against the one plain SQL
statement on the same tables, at concurrency 1, alternated: CPU per query
(this process plus the server's with --pgvector-pid) and the ratio, the
answers checked identical. With --rss, a fresh process (this program, run
again) opens the embedded store, searches it, and reports its resident
memory against the store file's size.

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
			if c.openOnly != "" {
				return a.benchVectorsOpenOnly(cmd.Context(), c)
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
	f.BoolVar(&c.noHTTP, "no-http", false, "measure in-process searches only, not the HTTP API")
	f.StringVar(&c.cpuProfile, "cpu-profile", "", "write a CPU profile of the throughput measurements to this file")
	f.BoolVar(&c.rss, "rss", false, "also measure the resident memory of a fresh process that opens the embedded store and searches it (this program run again with --open-only)")
	f.StringVar(&c.openOnly, "open-only", "", "open the embedded store in this directory, search it, print the process's memory as JSON and exit (what --rss runs)")
	f.MarkHidden("open-only")
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
	cpuQ    map[int][]float64 // concurrency → CPU µs per query, per round
	http    *httpTarget
	httpQPS map[int][]float64 // the same over HTTP
	httpCPU map[int][]float64
	schema  string // pgvector: the bench's schema
	pglite  bool
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
	es := &benchSystem{name: "embedded", store: emb, qps: map[int][]float64{}, cpuQ: map[int][]float64{},
		httpQPS: map[int][]float64{}, httpCPU: map[int][]float64{},
		label: fmt.Sprintf("embedded file store, HNSW m=%d ef_construction=%d ef_search %d", local.DefaultM, local.DefaultEfConstruction, local.DefaultEfSearch)}
	if c.items < local.DefaultExactThreshold {
		es.label = fmt.Sprintf("embedded file store, exact scan (fewer than %d items)", local.DefaultExactThreshold)
	}
	cpu0, t0 := processCPU(), time.Now()
	if _, err := emb.Load(ctx, "bench", vector.FromSlice(items), nil); err != nil {
		return err
	}
	es.cpu, es.wall = processCPU()-cpu0, time.Since(t0)
	fileBytes := dirBytes(filepath.Join(dir, "versions"))
	es.size = fmt.Sprintf("%.1f MiB", float64(fileBytes)/(1<<20))
	systems = append(systems, es)
	var rss *openRSS
	if c.rss {
		if rss, err = a.measureOpenRSS(ctx, c, dir); err != nil {
			return err
		}
		rss.fileBytes = fileBytes
	}

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
	var floor *httpFloor
	if !c.noHTTP {
		m, err := benchModel(ctx, c.dim)
		if err != nil {
			return err
		}
		for _, s := range systems {
			if s.http, err = a.startHTTPTarget(ctx, m, s.store, queries); err != nil {
				return fmt.Errorf("%s over HTTP: %w", s.name, err)
			}
			defer s.http.close()
		}
		if floor, err = startHTTPFloor(systems[0].http); err != nil {
			return fmt.Errorf("the HTTP floor: %w", err)
		}
		defer floor.target.close()
	}
	measure := func(s *benchSystem, conc int, viaHTTP bool) error {
		cpu0 := processCPU()
		var tp vectorbench.Throughput
		var err error
		if viaHTTP {
			tp, err = vectorbench.RunFunc(len(queries), conc, c.duration, s.http.search)
		} else {
			tp, err = vectorbench.Run(ctx, s.store, queries, conc, c.duration)
		}
		if err != nil {
			return err
		}
		cpuQ := float64((processCPU() - cpu0).Microseconds()) / float64(tp.Queries)
		if viaHTTP {
			s.httpQPS[conc], s.httpCPU[conc] = append(s.httpQPS[conc], tp.QPS), append(s.httpCPU[conc], cpuQ)
		} else {
			s.qps[conc], s.cpuQ[conc] = append(s.qps[conc], tp.QPS), append(s.cpuQ[conc], cpuQ)
		}
		a.log.Info("bench vectors: throughput", "system", s.name, "http", viaHTTP, "concurrency", conc,
			"qps", int(tp.QPS), "cpu_us_per_query", int(cpuQ))
		return nil
	}
	// Throughput is measured with the collector set as serve sets it,
	// since the HTTP figures stand for serve's.
	var restoreGC func()
	c.gc, restoreGC = a.serveGC()
	defer restoreGC()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for r := range c.rounds {
		for _, conc := range []int{1, 2} {
			if floor != nil {
				if err := floor.measure(conc, len(queries), c.duration); err != nil {
					return fmt.Errorf("the HTTP floor (round %d, concurrency %d): %w", r+1, conc, err)
				}
			}
			order := slices.Clone(systems)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				// In-process and HTTP alternate too, so that both see the
				// same machine load.
				for _, viaHTTP := range []bool{r%2 == 1, r%2 == 0} {
					if viaHTTP && s.http == nil {
						continue
					}
					if err := measure(s, conc, viaHTTP); err != nil {
						return fmt.Errorf("throughput of %s (round %d, concurrency %d, http %v): %w", s.name, r+1, conc, viaHTTP, err)
					}
				}
			}
		}
	}
	var vsSQL *adapterVsSQL
	if c.pgURL != "" {
		if vsSQL, err = a.benchAdapterVsSQL(ctx, c, systems[len(systems)-1], items, queries); err != nil {
			return fmt.Errorf("pgvector adapter against plain SQL: %w", err)
		}
	}
	if err := printVectorsBench(w, c, systems, floor); err != nil {
		return err
	}
	if vsSQL != nil {
		vsSQL.print(w, c)
	}
	if rss != nil {
		mib := func(b int64) float64 { return float64(b) / (1 << 20) }
		fmt.Fprintf(w, "  a fresh process opening the embedded store (%.1f MiB file) and answering %d searches:\n", mib(rss.fileBytes), rss.Searches)
		fmt.Fprintf(w, "    RSS after open %.1f MiB (%.2f × the file), after the searches %.1f MiB (%.2f ×), peak %.1f MiB (%.2f ×); Go heap in use %.1f MiB\n",
			mib(rss.AfterOpen), float64(rss.AfterOpen)/float64(rss.fileBytes), mib(rss.AfterSearch), float64(rss.AfterSearch)/float64(rss.fileBytes),
			mib(rss.Peak), float64(rss.Peak)/float64(rss.fileBytes), mib(rss.HeapInUse))
	}
	return nil
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
	ps := &benchSystem{name: "pgvector", label: label, store: st, qps: map[int][]float64{}, cpuQ: map[int][]float64{},
		httpQPS: map[int][]float64{}, httpCPU: map[int][]float64{}, schema: schema,
		pglite: strings.Contains(version, "PGlite") || strings.Contains(version, "emscripten")}
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

func printVectorsBench(w io.Writer, c vectorsBenchConfig, systems []*benchSystem, floor *httpFloor) error {
	fmt.Fprintf(w, "bench vectors: %d items, dimension %d, %d Gaussian clusters (sigma %g, not normalised), cosine, k = %d, %d held-out queries, seed %d\n",
		c.items, c.dim, c.clusters, c.sigma, vectorbench.K, c.queries, c.seed)
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d), %s/%s, %s; throughput: median of %d rounds of %s, systems alternated, %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), c.rounds, c.duration, c.gc)
	for _, s := range systems {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.label)
	}
	row := func(metric string, cell func(*benchSystem) string) {
		line := fmt.Sprintf("  %-32s", metric)
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
	for _, conc := range []int{1, 2} {
		row(fmt.Sprintf("in-process CPU-µs/query, c = %d", conc), func(s *benchSystem) string { return fmt.Sprintf("%.0f", medianOf(s.cpuQ[conc])) })
	}
	if !c.noHTTP {
		for _, conc := range []int{1, 2} {
			row(fmt.Sprintf("HTTP QPS, c = %d", conc), func(s *benchSystem) string { return fmt.Sprintf("%.0f", medianOf(s.httpQPS[conc])) })
		}
		for _, conc := range []int{1, 2} {
			row(fmt.Sprintf("HTTP CPU-µs/request, c = %d", conc), func(s *benchSystem) string { return fmt.Sprintf("%.0f", medianOf(s.httpCPU[conc])) })
		}
		for _, conc := range []int{1, 2} {
			row(fmt.Sprintf("HTTP / in-process QPS, c = %d", conc), func(s *benchSystem) string {
				return fmt.Sprintf("%.2f", medianOf(s.httpQPS[conc])/medianOf(s.qps[conc]))
			})
		}
		if floor != nil {
			for _, conc := range []int{1, 2} {
				fmt.Fprintf(w, "  %-32s %.0f  (net/http answering a fixed body: the ceiling of any HTTP API here)\n",
					fmt.Sprintf("HTTP floor QPS, c = %d", conc), medianOf(floor.qps[conc]))
			}
			for _, conc := range []int{1, 2} {
				fmt.Fprintf(w, "  %-32s %.0f\n", fmt.Sprintf("HTTP floor CPU-µs/request, c = %d", conc), medianOf(floor.cpu[conc]))
			}
		}
	}
	row("load + index build, CPU-s", func(s *benchSystem) string {
		switch {
		case s.name != "pgvector":
			return loadSeconds(s.cpu)
		case s.serverM:
			return fmt.Sprintf("%.2f (server %.2f)", s.cpu.Seconds(), s.server.Seconds())
		}
		return fmt.Sprintf("%.2f (client only)", s.cpu.Seconds())
	})
	row("load + index build, wall s", func(s *benchSystem) string { return loadSeconds(s.wall) })
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

// benchModel trains a small model embedding in dim dimensions: the API
// needs one to answer, and POST /items_from_user only checks the
// dimension of the embedding it is given, so its quality is irrelevant.
func benchModel(ctx context.Context, dim int) (*model.Model, error) {
	d := model.NewDataset()
	for u := range 40 {
		user := model.UserFeatures{City: fmt.Sprintf("city-%d", u%7), Country: fmt.Sprintf("country-%d", u%3), CreditLimit: float64(1000 * u)}
		for j := range 5 {
			it := (u*3 + j*7) % 25
			err := d.Add(model.Rating{UserID: strconv.Itoa(u), User: user, ItemID: fmt.Sprintf("P%02d", it),
				Item:  model.ItemFeatures{ProductLine: fmt.Sprintf("line-%d", it%4), ProductScale: "1:18", QuantityInStock: float64(it), BuyPrice: 10 + float64(it), MSRP: 20 + float64(it)},
				Value: float64(1 + (u+j)%5)})
			if err != nil {
				return nil, err
			}
		}
	}
	res, err := model.Train(ctx, d, model.Config{Dim: dim, Seed: 1, Epochs: 1, Workers: 1})
	if err != nil {
		return nil, fmt.Errorf("bench vectors: the API's model: %w", err)
	}
	return res.Model, nil
}

// httpTarget is `recoflow serve`'s API (api.Server over a
// recommend.Engine, as serve builds them) on a loopback port, and a
// keep-alive client of it with every request body encoded beforehand.
type httpTarget struct {
	addr     string
	url      string
	requests [][]byte // whole HTTP requests
	conns    chan *benchConn
	client   *http.Client
	bodies   [][]byte
	cancel   context.CancelFunc
	done     chan error
}

func (a *app) startHTTPTarget(ctx context.Context, m *model.Model, st vector.Reader, queries [][]float32) (*httpTarget, error) {
	eng, err := recommend.New(m, st, nil, recommend.Options{Logger: a.log, AllowVersionMismatch: true})
	if err != nil {
		return nil, err
	}
	srv, err := api.New(api.Options{Logger: a.log})
	if err != nil {
		return nil, err
	}
	srv.SetEngine(eng)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &httpTarget{
		url:    "http://" + ln.Addr().String() + "/items_from_user?limit=" + strconv.Itoa(vectorbench.K),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}},
		done:   make(chan error, 1),
		addr:   ln.Addr().String(),
		conns:  make(chan *benchConn, 64),
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel = cancel
	go func() { t.done <- srv.Serve(sctx, ln) }()
	for _, q := range queries {
		body, err := json.Marshal(map[string][]float32{"embedding": q})
		if err != nil {
			t.close()
			return nil, err
		}
		t.bodies = append(t.bodies, body)
		t.requests = append(t.requests, fmt.Appendf(nil,
			"POST /items_from_user?limit=%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: recoflow-bench\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			vectorbench.K, t.addr, len(body), body))
	}
	// The API must give the store's answer.
	resp, err := t.client.Post(t.url, "application/json", bytes.NewReader(t.bodies[0]))
	if err != nil {
		t.close()
		return nil, err
	}
	var got []struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	want, serr := st.SearchItems(ctx, queries[0], vectorbench.K)
	switch {
	case err != nil || resp.StatusCode != http.StatusOK:
		err = fmt.Errorf("POST %s: status %d, %v", t.url, resp.StatusCode, err)
	case serr != nil:
		err = serr
	case len(got) != len(want):
		err = fmt.Errorf("POST %s: %d items, the store finds %d", t.url, len(got), len(want))
	default:
		for i := range got {
			if got[i].ID != want[i].ID {
				err = fmt.Errorf("POST %s: item %d is %q, the store says %q", t.url, i, got[i].ID, want[i].ID)
				break
			}
		}
	}
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// httpFloor is the reference for the HTTP figures: a plain net/http
// server whose handler reads the request body and writes a fixed answer
// (the API's own answer to the first query, with its content type), hit
// by the same client with the same requests as the API. Its figures are
// what HTTP itself costs here, so the API's distance from them is its own.
type httpFloor struct {
	target *httpTarget
	qps    map[int][]float64 // concurrency → one figure per round
	cpu    map[int][]float64 // CPU µs per request (client and server)
}

// startHTTPFloor starts the floor's server on a loopback port, answering
// what apiTarget answers to its first request.
func startHTTPFloor(apiTarget *httpTarget) (*httpFloor, error) {
	resp, err := apiTarget.client.Post(apiTarget.url, "application/json", bytes.NewReader(apiTarget.bodies[0]))
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})}
	t := &httpTarget{
		addr:     ln.Addr().String(),
		url:      "http://" + ln.Addr().String() + "/",
		requests: apiTarget.requests,
		conns:    make(chan *benchConn, 64),
		client:   &http.Client{},
		done:     make(chan error, 1),
		cancel:   func() { srv.Close() },
	}
	go func() { t.done <- srv.Serve(ln) }()
	return &httpFloor{target: t, qps: map[int][]float64{}, cpu: map[int][]float64{}}, nil
}

// measure runs the floor's requests for d at concurrency conc.
func (f *httpFloor) measure(conc, queries int, d time.Duration) error {
	cpu0 := processCPU()
	tp, err := vectorbench.RunFunc(queries, conc, d, f.target.search)
	if err != nil {
		return err
	}
	f.qps[conc] = append(f.qps[conc], tp.QPS)
	f.cpu[conc] = append(f.cpu[conc], float64((processCPU()-cpu0).Microseconds())/float64(tp.Queries))
	return nil
}

// search posts query i on a keep-alive connection of its own and reads
// the whole answer. The request is written as prepared bytes and the
// answer read with net/http's parser on the calling goroutine:
// net/http.Client's reader and writer goroutines would add two goroutine
// hand-offs per request to what is measured.
func (t *httpTarget) search(i int) error {
	var c *benchConn
	select {
	case c = <-t.conns:
	default:
		nc, err := net.Dial("tcp", t.addr)
		if err != nil {
			return err
		}
		c = &benchConn{Conn: nc, r: bufio.NewReader(nc)}
	}
	err := c.post(t.requests[i])
	if err != nil {
		c.Close()
		return fmt.Errorf("POST %s: %w", t.url, err)
	}
	select {
	case t.conns <- c:
	default:
		c.Close()
	}
	return nil
}

// benchConn is one keep-alive connection to the API.
type benchConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *benchConn) post(req []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && (resp.StatusCode != http.StatusOK || resp.Header.Get(api.HeaderFallback) != "") {
		err = fmt.Errorf("status %d, fallback %q", resp.StatusCode, resp.Header.Get(api.HeaderFallback))
	}
	if err == nil && resp.Close {
		err = errors.New("the server closed the connection")
	}
	return err
}

func (t *httpTarget) close() {
	t.client.CloseIdleConnections()
	for {
		select {
		case c := <-t.conns:
			c.Close()
			continue
		default:
		}
		break
	}
	t.cancel()
	<-t.done
}

// openRSS is what --open-only reports: the process's resident memory, in
// bytes, after opening the store and after searching it.
type openRSS struct {
	Searches    int   `json:"searches"`
	AfterOpen   int64 `json:"after_open"`
	AfterSearch int64 `json:"after_search"`
	Peak        int64 `json:"peak"`
	HeapInUse   int64 `json:"heap_in_use"`
	fileBytes   int64
}

// measureOpenRSS runs this program again with --open-only on dir, so that
// the memory measured is that of a process holding the store alone, as
// `recoflow serve` does, not this one's generated data.
func (a *app) measureOpenRSS(ctx context.Context, c vectorsBenchConfig, dir string) (*openRSS, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "vectors", "--open-only", dir, "--queries", strconv.Itoa(c.queries),
		"--dim", strconv.Itoa(c.dim), "--log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench vectors --rss: %s --open-only: %v: %s", exe, err, strings.TrimSpace(stderr.String()))
	}
	var r openRSS
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("bench vectors --rss: %s --open-only printed %q: %v", exe, out, err)
	}
	return &r, nil
}

// benchVectorsOpenOnly opens the store in c.openOnly, searches it with
// c.queries random vectors (10 each, so that the graph's and vectors'
// pages a server touches are touched), and prints its memory as JSON.
func (a *app) benchVectorsOpenOnly(ctx context.Context, c vectorsBenchConfig) error {
	st, err := local.Open(ctx, c.openOnly, local.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	r := openRSS{AfterOpen: procStatus("VmRSS")}
	rng := rand.New(rand.NewPCG(c.seed, 7))
	q := make([]float32, st.Dim())
	for range c.queries * 10 {
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		if _, err := st.SearchItems(ctx, q, vectorbench.K); err != nil {
			return err
		}
		r.Searches++
	}
	r.AfterSearch, r.Peak = procStatus("VmRSS"), procStatus("VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInUse = int64(ms.HeapInuse)
	return json.NewEncoder(a.opts.Stdout).Encode(r)
}

// procStatus returns a "kB" field of /proc/self/status in bytes (0 when
// unknown).
func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// loadSeconds formats a load's seconds: two decimals, four below a second,
// so that a load of a few milliseconds (a small --items) does not read 0.
func loadSeconds(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.4f", d.Seconds())
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}
