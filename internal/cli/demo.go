package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/recoflow/recoflow/sample"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/shopper"
	"github.com/recoflow/recoflow/source/sqlite"

	"github.com/recoflow/recoflow/dashboard"
	"github.com/spf13/cobra"
)

func (a *app) demoCommand() *cobra.Command {
	var (
		dir       string
		dataset   string
		ratings   int
		seedN     uint64
		batchOnly bool
		listen    string
		rate      float64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on the embedded defaults, in one process",
		Long: `demo runs every stage, one after the other, on embedded backends under --dir:

  1. seed          the shop database (SQLite)            <dir>/shop.db
  2. etl           Parquet training data in a local lake  <dir>/lake/ratings_ml_training/
  3. train         the two-tower model and its artifacts  <dir>/lake/ml-artifacts/<version>/
  4. vectors load  the embeddings into the embedded store <dir>/vectors/

then, unless --batch-only, it keeps running, in the same process:

  5. stream        shopper events from embedded NATS      <dir>/nats
                   to recommendations in the lake         <dir>/lake/recommendations/
  6. produce       simulated shopper activity, --rate events per second
  7. serve         the API and the dashboard on --listen  http://<listen>/dashboard/

until Ctrl-C (SIGINT or SIGTERM), which stops the producer, flushes the
stream and stops the server. It needs nothing but this program: no database server, no network. Running it
again replaces the data it made before. Each stage is also its own command,
with flags for the real systems (MySQL, S3, PostgreSQL + pgvector); see
recoflow <command> --help.`,
		Example: `  recoflow demo                                   # the real classicmodels sample
  recoflow demo --dataset generated --ratings 1000000
  recoflow demo --batch-only                      # the batch stages only, then exit
  recoflow demo --listen 127.0.0.1:0 --rate 200   # any free port, more events`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rate < 0 {
				return usageError("--rate %g: want events per second, or 0 for no limit", rate)
			}
			if !batchOnly && listen == "" {
				return usageError("--listen: want host:port, e.g. 127.0.0.1:8080")
			}
			if dataset != datasetClassicmodels && dataset != datasetGenerated {
				return usageError("--dataset %q: want classicmodels or generated", dataset)
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return usageError("--dir %q: %v", dir, err)
			}
			// Take the address first: a busy port fails now, not after
			// the batch stages.
			var ln net.Listener
			if !batchOnly {
				if ln, err = net.Listen("tcp", listen); err != nil {
					return usageError("--listen %s: %v\n  another program holds that address: stop it, pick another port, or give --listen 127.0.0.1:0 for any free one", listen, err)
				}
				defer ln.Close() // demoLive's server closes it too; closing twice is harmless
			}
			if err := os.MkdirAll(abs, 0o777); err != nil {
				return fmt.Errorf("create --dir: %w", err)
			}
			src := "sqlite://" + filepath.Join(abs, "shop.db")
			lakeURL := "file://" + filepath.Join(abs, "lake")
			vecURL := "file://" + filepath.Join(abs, "vectors")

			seedArgs := []string{"seed", "--source", src, "--dataset", dataset, "--replace"}
			if dataset == datasetGenerated {
				seedArgs = append(seedArgs, "--ratings", strconv.Itoa(ratings), "--seed", strconv.FormatUint(seedN, 10))
			}
			steps := []struct {
				title string
				args  []string
			}{
				{"seed the shop database", seedArgs},
				// The demo replaces its data on purpose, whatever its size.
				{"extract training data to the lake", []string{"etl", "--source", src, "--lake", lakeURL, "--max-shrink", "1"}},
				{"train the recommender", []string{"train", "--lake", lakeURL, "--seed", strconv.FormatUint(max(seedN, 1), 10)}},
				{"load the embeddings into the vector store", []string{"vectors", "load", "--lake", lakeURL, "--vectors", vecURL}},
			}
			names := []string{"seed", "etl", "train", "vectors load"}
			stages := &dashboard.Stages{}
			for _, n := range names {
				stages.Set(n, "pending", "", nil)
			}
			start := time.Now()
			var batchErr error
			for i, s := range steps {
				fmt.Fprintf(a.opts.Stdout, "\n== %d/%d %s: recoflow %s\n", i+1, len(steps), s.title, strings.Join(s.args, " "))
				args := append(append([]string{}, s.args...), "--log-level", a.logLevel, "--log-format", a.logFormat)
				stages.Set(names[i], "running", s.title, nil)
				t0 := time.Now()
				if err := Run(cmd.Context(), args, a.opts); err != nil {
					stages.Set(names[i], "failed", s.title, err)
					batchErr = fmt.Errorf("demo step %d (%s): %w", i+1, s.title, err)
					if batchOnly || cmd.Context().Err() != nil {
						return batchErr
					}
					// Serve anyway: the dashboard shows the failure, and
					// the exit status reports it after Ctrl-C.
					for _, n := range names[i+1:] {
						stages.Set(n, "skipped", "not run: an earlier stage failed", nil)
					}
					fmt.Fprintf(a.opts.Stdout, "\n== %v\n   the stream, the API and the dashboard start anyway, to show it\n", batchErr)
					break
				}
				stages.Set(names[i], "done", fmt.Sprintf("%s in %s", s.title, time.Since(t0).Round(time.Millisecond)), nil)
			}
			if batchErr == nil {
				fmt.Fprintf(a.opts.Stdout, `
== done in %s. Where everything is:
  shop database     %s
  training data     %s/ratings_ml_training/  (manifest: _manifest.json)
  model artifacts   %s/ml-artifacts/  (LATEST names the newest version)
  vector store      %s
`, time.Since(start).Round(time.Millisecond), src, lakeURL, lakeURL, vecURL)
			}
			if batchOnly {
				return nil
			}
			err = a.demoLive(cmd.Context(), demoLive{
				dir: abs, shopDB: filepath.Join(abs, "shop.db"), lakeURL: lakeURL, vecURL: vecURL,
				ln: ln, rate: rate, seed: seedN, stages: stages,
			})
			if batchErr != nil {
				return batchErr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "recoflow-data", "directory for everything the demo makes")
	f.StringVar(&dataset, "dataset", datasetClassicmodels, "classicmodels (the real sample) or generated")
	f.IntVar(&ratings, "ratings", 100000, "generated: number of ratings")
	f.Uint64Var(&seedN, "seed", 1, "random seed of the generated data, of training and of the simulated shoppers")
	f.BoolVar(&batchOnly, "batch-only", false, "run the batch stages only (seed, etl, train, vectors load), then exit")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address of the API and the dashboard, host:port (127.0.0.1:0: any free port)")
	f.Float64Var(&rate, "rate", 50, "simulated shopper events per second (0: as fast as the stream takes them)")
	return cmd
}

// demoLive is what the demo runs after its batch stages.
type demoLive struct {
	dir, shopDB, lakeURL, vecURL string
	ln                           net.Listener // the API's and dashboard's, taken before the batch stages
	rate                         float64
	seed                         uint64
	stages                       *dashboard.Stages
}

// demoStatusInterval is how often the live demo prints a status line with
// the dashboard's address, so that it stays in view.
var demoStatusInterval = 30 * time.Second

// demoLive runs the stream, a producer, the API and the dashboard in this
// process until ctx ends, then stops the producer, the stream (flushing and
// acknowledging what it holds) and the server. A stage that fails is shown
// on the dashboard; the others keep running.
func (a *app) demoLive(ctx context.Context, d demoLive) error {
	st := d.stages
	bucket, err := connect.Lake(ctx, d.lakeURL, connect.LakeOptions{})
	if err != nil {
		return err
	}
	defer bucket.Close()
	streamURL := "nats-embedded://" + filepath.Join(d.dir, "nats")

	// The API, with the engine loaded in the background as serve does.
	// One registry for every stage, served at /metrics: the API's, the
	// stream's, and the last ETL run's figures read from the lake.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerETLMetrics(reg, bucket)
	srv, err := api.New(api.Options{Logger: a.log, Registry: reg})
	if err != nil {
		return err
	}
	engOpts := recommend.Options{Logger: a.log, MaxK: api.DefaultMaxLimit}
	engOpts.Vectors.Logger = a.log
	engOpts.Vectors.RefreshInterval = 2 * time.Second
	l := &loader{a: a, srv: srv, bucket: bucket, storeURL: d.vecURL, opts: engOpts,
		retryMax: 5 * time.Second, grace: api.DefaultShutdownGrace + api.DefaultRequestTimeout}
	ln := d.ln
	live := &dashboard.Live{}
	mux := http.NewServeMux()
	dashboard.Register(mux, dashboard.Options{
		Lake: bucket, LakeDir: filepath.Join(d.dir, "lake"), Stages: st, Live: live, Metrics: reg,
		ProductNames: func(ctx context.Context) (map[string]string, error) { return shopProductNames(ctx, d.shopDB) },
		Engine:       engineStatus(srv), ModelVersion: servedVersion(srv),
	})
	mux.Handle("/", srv.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()

	var wg sync.WaitGroup
	lctx, stopLoader := context.WithCancel(context.Background())
	wg.Go(func() { l.run(lctx, 2*time.Second) })
	serveDone := make(chan error, 1)
	st.Set("serve", "running", "API and dashboard at "+base, nil)
	go func() { serveDone <- hs.Serve(ln) }()

	// The stream: embedded NATS → engine → lake sink, flushed every second.
	// The stream stops after the producer, so it delivers what was sent.
	streamCtx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStream()
	streamDone := make(chan struct{})
	st.Set("stream", "running", "from "+streamURL+" to "+d.lakeURL+"/recommendations/", nil)
	go func() {
		defer close(streamDone)
		if err := a.demoStream(streamCtx, bucket, streamURL, d.vecURL, live, reg); err != nil && streamCtx.Err() == nil {
			a.log.Error("demo: the stream stopped", "error", err.Error())
			st.Set("stream", "failed", "", err)
			return
		}
		st.Set("stream", "stopped", fmt.Sprintf("%d events processed", live.Total()), nil)
	}()

	// The producer: simulated shoppers at --rate events per second.
	prodDone := make(chan struct{})
	st.Set("produce", "running", fmt.Sprintf("%g events/s to %s", d.rate, streamURL), nil)
	go func() {
		defer close(prodDone)
		n, err := a.demoProduce(ctx, streamURL, d.shopDB, d.rate, d.seed)
		if err != nil && ctx.Err() == nil {
			a.log.Error("demo: the producer stopped", "error", err.Error())
			st.Set("produce", "failed", fmt.Sprintf("%d events sent", n), err)
			return
		}
		st.Set("produce", "stopped", fmt.Sprintf("%d events sent", n), nil)
	}()

	fmt.Fprintf(a.opts.Stdout, `
== live: stream, producer (%g events/s), API and dashboard. Ctrl-C stops them.
  dashboard         %s/dashboard/
  API               %s/v1/recommendations  (also /items_from_user, /openapi.json, /metrics)
  event stream      %s
  recommendations   %s/recommendations/YYYY/MM/dd/HH/
`, d.rate, base, base, streamURL, d.lakeURL)

	// Keep the dashboard's address in view: the stream's log lines scroll
	// the block above away.
	status := time.NewTicker(demoStatusInterval)
	defer status.Stop()
	liveSince := time.Now()
	var serveErr error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-status.C:
			fmt.Fprintf(a.opts.Stdout, "== live for %s: %s events processed · dashboard %s/dashboard/ · Ctrl-C stops\n",
				time.Since(liveSince).Round(time.Second), groupDigits(live.Total()), base)
		case serveErr = <-serveDone:
			st.Set("serve", "failed", "", serveErr)
			a.log.Error("demo: the server stopped", "error", serveErr.Error())
			<-ctx.Done()
			break wait
		}
	}
	status.Stop()
	fmt.Fprintln(a.opts.Stdout, "\n== stopping: producer, stream, server")
	<-prodDone
	stopStream()
	<-streamDone
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serveErr == nil {
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		<-serveDone
	}
	stopLoader()
	wg.Wait()
	if e := srv.SetEngine(nil); e != nil {
		e.Close()
	}
	l.closeRetired()
	fmt.Fprintf(a.opts.Stdout, "== stopped: %d events processed; recommendations under %s/recommendations/\n", live.Total(), d.lakeURL)
	return nil
}

// demoStream runs the streaming stage until ctx ends.
func (a *app) demoStream(ctx context.Context, bucket lake.Bucket, streamURL, vecURL string, live *dashboard.Live, reg prometheus.Registerer) error {
	engine, err := recommend.Open(ctx, bucket, vecURL, "", recommend.Options{Logger: a.log})
	if err != nil {
		return err
	}
	defer engine.Close()
	tr, err := pipeline.NewTransformer(engine, pipeline.TransformOptions{})
	if err != nil {
		return err
	}
	snk, err := connect.Sink(ctx, "", bucket, connect.SinkOptions{
		BufferSize: 5 << 20, BufferInterval: time.Second, Stream: "recoflow", Logger: a.log,
	})
	if err != nil {
		return err
	}
	src, err := connect.Stream(ctx, streamURL, connect.StreamOptions{Group: "recoflow", Logger: a.log})
	if err != nil {
		snk.Close(ctx)
		return err
	}
	return pipeline.Run(ctx, src, tr, snk, pipeline.Options{
		Log: a.log, Registerer: reg, ShutdownGrace: 15 * time.Second, OnComputed: live.Record,
	})
}

// demoProduce publishes simulated shopper events until ctx ends.
func (a *app) demoProduce(ctx context.Context, streamURL, shopDB string, rate float64, seed uint64) (int64, error) {
	// Browse the shop's own catalogue: a generated dataset has other
	// products than the sample.
	products, err := shopProducts(ctx, shopDB)
	if err != nil {
		a.log.Warn("demo producer browses the sample catalogue", "err", err)
		products = nil
	}
	sim, err := shopper.New(shopper.Config{Seed: seed, Products: products})
	if err != nil {
		return 0, err
	}
	p, err := connect.Producer(ctx, streamURL, connect.StreamOptions{Logger: a.log})
	if err != nil {
		return 0, err
	}
	// Quietly: the dashboard shows the producer's rate, and progress lines
	// would push the dashboard's address out of view.
	quiet := *a
	quiet.opts.IsTerminal = false
	quiet.log = slog.New(minLevelHandler{a.log.Handler(), slog.LevelWarn})
	res, err := quiet.produce(ctx, sim, p, rate, 0, time.Second, time.Hour)
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cerr := p.Close(cctx); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return res.sent, err
}

// shopProductNames reads the product names of the demo's shop database.
func shopProductNames(ctx context.Context, path string) (map[string]string, error) {
	products, err := shopProducts(ctx, path)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(products))
	for _, p := range products {
		names[p.Code] = p.Name
	}
	return names, nil
}

// shopProducts reads the catalogue (code, name, line) of the demo's shop
// database.
func shopProducts(ctx context.Context, path string) ([]sample.Product, error) {
	db, err := sqlite.Open(ctx, path, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.SQL.QueryContext(ctx, `SELECT productCode, productName, productLine FROM products ORDER BY productCode`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sample.Product
	for rows.Next() {
		var p sample.Product
		if err := rows.Scan(&p.Code, &p.Name, &p.Line); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// minLevelHandler drops records below min, whatever the wrapped handler's
// own level.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(attrs), h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(name), h.min}
}
