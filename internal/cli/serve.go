package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/dashboard"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
	"github.com/spf13/cobra"
)

func (a *app) serveCommand() *cobra.Command {
	var (
		lf             lakeFlags
		vf             vectorFlags
		version        string
		listen         string
		authToken      string
		apiOpts        api.Options
		engOpts        recommend.Options
		retryMax       time.Duration
		reloadInterval time.Duration
		withDashboard  bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve recommendations over HTTP: the lab's inference API, /v1, health and metrics",
		Long: `serve answers recommendation requests over HTTP with the model in the lake
and the item embeddings in the vector store. It speaks the lab's
model-inference contract, so the lab's transformation code can call it as is:

  POST /user_embeddings          [{"city","country","creditlimit"}] → [{"embedding":[…]}]
  POST /items_from_user?limit=k  {"embedding":[…]} → [{"id","score"}]  (cosine similarity, descending)
  GET  /items_from_item?item_id=<productCode>&limit=k → [{"id","distance"}]  (ascending, item excluded)

plus /v1/recommendations, /v1/items/{item_id}/similar, /v1/recommendations/batch,
/healthz, /readyz, /metrics (Prometheus) and /openapi.json (the whole contract).

It listens at once and loads in the background: the model whose vectors the
store holds (or --version), and the popular products of the lake's training
data. Until then, and while the store is down, /readyz answers 503; a failed
load is retried. When the vector store cannot answer, recommendations fall
back to the popular products, flagged by the header X-Recoflow-Fallback:
popular (and X-Recoflow-Fallback-Reason); with --no-fallback they are 503
with Retry-After instead. When the store goes live with a new model version
(recoflow vectors load), serve loads that model within --reload-interval.
serve keeps one vector store open for its whole life and builds each
model version's engine on it: the embedded store switches to the new
version in place, and the old version's memory is freed once the
requests using it are done: a reload holds two versions only while it
switches, not two stores for good. A store that failed to open, or whose
engine failed, is closed at once and its memory handed back to the
operating system.

Unless GOGC is set in the environment, serve runs the Go garbage
collector with GOGC=25 instead of 100: a bit more CPU spent collecting,
for a resident size closer to the store file's (the heap is let grow by
a quarter over its live size, not doubled). Set GOGC (e.g. GOGC=100) to
choose otherwise.

A model trained on a dataset spec (train --dataset) carries the spec in its
artifacts, and serve follows it: /v1 takes a user by id, by the spec's user
features named as the spec names them, or both —
{"user":{"id":"00000000-a762","country":"FR","age":31}} — numbers for
numeric features, strings for the others (a multi_categorical one also as
an array of strings); an unknown field or a wrong type is a 400 naming the
field. /user_embeddings takes the same user objects. Items are the spec's
item ids; the popular items come from the spec's lake dataset, and, there
being no product catalogue for another shop, an item the store lacks gets
the popular items in a batch's similar items (reason item_unknown).

With --dashboard, serve also serves the web dashboard at /dashboard/ (and
redirects / to it): the model version served and its metrics (the
evaluation table when metrics.json has one), the lake's training data, the
vector store and the API's request figures.

With --auth-token (or RECOFLOW_AUTH_TOKEN), recommendation endpoints need
Authorization: Bearer <token>; health, metrics, the OpenAPI document and the
dashboard stay open (the dashboard's try-it form then gets 401). On SIGINT or SIGTERM, serve stops accepting connections and gives the
requests in flight --shutdown-grace to finish.`,
		Example: `  # the embedded defaults
  recoflow serve

  # pgvector, a token from the environment, every interface
  RECOFLOW_AUTH_TOKEN=… recoflow serve --listen :8080 --lake s3://shop-lake/prod \
    --vectors 'postgres://recoflow:secret@db:5432/shop?sslmode=require'

  curl -s localhost:8080/user_embeddings -d '[{"city":"Nantes","country":"France","creditlimit":21000}]'

  # with the web dashboard at http://127.0.0.1:8080/dashboard/
  recoflow serve --dashboard`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				return usageError("--listen: want host:port, e.g. 127.0.0.1:8080")
			}
			if version != "" {
				if err := model.CheckVersion(version); err != nil {
					return usageError("--version: %v", err)
				}
			}
			if err := checkVectorsURL(vf.url); err != nil {
				return err
			}
			if retryMax <= 0 || reloadInterval < 0 || apiOpts.ShutdownGrace < 0 {
				return usageError("--retry-max must be positive, --reload-interval and --shutdown-grace not negative")
			}
			apiOpts.AuthToken = authToken
			apiOpts.Logger = a.log
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			apiOpts.Registry = reg
			srv, err := api.New(apiOpts)
			if err != nil {
				return usageError("%v", err)
			}
			engOpts.Logger = a.log
			engOpts.MaxK = apiOpts.MaxLimit
			engOpts.Vectors = vf.opts
			engOpts.Vectors.Logger = a.log
			// The loader refreshes the embedded store itself, once per
			// --reload-interval, before it looks for a new version.
			engOpts.Vectors.RefreshInterval = 0
			_, restoreGC := a.serveGC()
			defer restoreGC()

			ctx := cmd.Context()
			b, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			fmt.Fprintf(a.opts.Stdout, "recoflow serve: listening on http://%s (lake %s, vectors %s)\n", ln.Addr(), b, connect.Redact(vf.url))
			if withDashboard {
				fmt.Fprintf(a.opts.Stdout, "recoflow serve: dashboard at http://%s%s\n", ln.Addr(), dashboard.Path)
			}

			l := &loader{a: a, srv: srv, bucket: b, storeURL: vf.url, version: version, opts: engOpts,
				retryMax: retryMax, grace: apiOpts.ShutdownGrace + apiOpts.RequestTimeout}
			lctx, stopLoader := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { l.run(lctx, reloadInterval) })

			if withDashboard {
				mux := http.NewServeMux()
				opts := dashboard.Options{Lake: b, Engine: engineStatus(srv), ModelVersion: servedVersion(srv), Metrics: reg}
				if fb, ok := b.(*lakefile.Bucket); ok { // recent recommendations from a local lake
					opts.LakeDir = strings.TrimPrefix(fb.String(), "file://")
				}
				dashboard.Register(mux, opts)
				mux.Handle("/", srv.Handler())
				err = serveHandler(ctx, ln, mux, apiOpts.ShutdownGrace, a.log)
			} else {
				err = srv.Serve(ctx, ln)
			}
			stopLoader()
			wg.Wait()
			if e := srv.SetEngine(nil); e != nil {
				e.Close()
			}
			l.closeRetired()
			l.closeStore()
			return err
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&vf.url, "vectors", defaultVectors, "vector store URL: file:///path/dir (embedded) or postgres://user:pass@host:5432/db (pgvector)")
	f.IntVar(&vf.opts.EfSearch, "ef-search", 0, "HNSW candidate list size of a search (default: 80 embedded, pgvector's own)")
	f.IntVar(&vf.opts.MaxConns, "pg-max-conns", 0, "pgvector: connection pool size (default 4; at most PGlite's --max-connections)")
	f.StringVar(&vf.opts.Schema, "pg-schema", "", "pgvector: schema of the tables (default public)")
	f.StringVar(&version, "version", "", "model version to serve (default: the one the vector store holds, else ml-artifacts/LATEST); pins it: no reload")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on, host:port (:8080 for every interface)")
	f.StringVar(&authToken, "auth-token", "", "bearer token required by the recommendation endpoints (default: none; prefer RECOFLOW_AUTH_TOKEN)")
	f.Int64Var(&apiOpts.MaxBodyBytes, "max-body-bytes", api.DefaultMaxBodyBytes, "largest request body accepted; larger ones get 413")
	f.IntVar(&apiOpts.DefaultLimit, "default-limit", api.DefaultLimit, "number of items when a request gives no limit")
	f.IntVar(&apiOpts.MaxLimit, "max-limit", api.DefaultMaxLimit, "largest limit a request may ask for")
	f.DurationVar(&apiOpts.RequestTimeout, "request-timeout", api.DefaultRequestTimeout, "longest time spent on one request (then 503 timeout)")
	f.DurationVar(&engOpts.SearchTimeout, "search-timeout", recommend.DefaultSearchTimeout, "longest wait for the vector store on one call (then the popular products)")
	f.BoolVar(&engOpts.NoFallback, "no-fallback", false, "answer 503 instead of the popular products when the vector store cannot answer")
	f.BoolVar(&engOpts.AllowVersionMismatch, "allow-version-mismatch", false, "serve even when the store's vectors are not the model version's (e.g. loaded from files under another name)")
	f.DurationVar(&apiOpts.ShutdownGrace, "shutdown-grace", api.DefaultShutdownGrace, "time requests in flight get to finish on SIGINT/SIGTERM")
	f.DurationVar(&retryMax, "retry-max", 30*time.Second, "longest wait between attempts to load the model and open the store")
	f.DurationVar(&reloadInterval, "reload-interval", 30*time.Second, "how often to check for a new model version in the store (0: never)")
	f.BoolVar(&withDashboard, "dashboard", false, "also serve the web dashboard at /dashboard/ (model version and metrics, API figures; no token needed)")
	return cmd
}

// checkVectorsURL rejects vector store URLs no backend can open, before
// serve starts retrying them.
func checkVectorsURL(raw string) error {
	if raw == "" {
		return usageError("--vectors: want file:///path/dir or postgres://user@host:5432/db")
	}
	if !strings.Contains(raw, "://") {
		return nil // a directory
	}
	u, err := url.Parse(raw)
	if err != nil {
		return usageError("--vectors %q: %v", connect.Redact(raw), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file", "postgres", "postgresql":
		return nil
	}
	return usageError("--vectors %q: unknown scheme %q (want file or postgres)", connect.Redact(raw), u.Scheme)
}

// serveGC sets the collector as serve runs it — serveGCPercent unless the
// environment sets GOGC: a little GC CPU traded for a heap that stays
// close to the live data, which the store's vectors dominate — and
// returns that setting in words and the function that restores the
// previous one.
func (a *app) serveGC() (setting string, restore func()) {
	if v, _ := a.opts.Getenv("GOGC"); v != "" {
		return "GOGC " + v + " (from the environment)", func() {}
	}
	prev := debug.SetGCPercent(serveGCPercent)
	return "GOGC " + strconv.Itoa(serveGCPercent) + " (serve's)", func() { debug.SetGCPercent(prev) }
}

// serveGCPercent is the GOGC serve runs with unless the environment sets
// GOGC: the embedded store's vectors are most of the heap, and collecting
// at 25 % growth keeps the resident size near the live data.
const serveGCPercent = 25

// openStore opens serve's vector store; tests wrap it to count the stores
// serve opens and closes.
var openStore = recommend.OpenStore

// refresher is implemented by stores that see a version another process
// loaded only when asked (the embedded store).
type refresher interface {
	Refresh(ctx context.Context) (bool, error)
}

// loader builds the server's engine in the background, retrying with
// backoff until it succeeds, then watches for new model versions. It opens
// one vector store and builds every engine on it; the loader owns the
// store, the engines do not.
type loader struct {
	a        *app
	srv      *api.Server
	bucket   lake.BucketReader
	storeURL string
	version  string
	opts     recommend.Options
	retryMax time.Duration
	grace    time.Duration // how long a replaced engine stays open

	// store is the vector store every engine is built on; nil until it
	// opens. Only run uses it, and closeStore once run has returned.
	store vector.Store

	mu      sync.Mutex
	retired []*recommend.Engine
	timers  []*time.Timer
}

func (l *loader) run(ctx context.Context, reloadInterval time.Duration) {
	wait := 500 * time.Millisecond
	for {
		start := time.Now()
		e, err := l.load(ctx)
		if err == nil {
			l.srv.SetEngine(e)
			st := e.Status(ctx)
			l.a.log.Info("serving recommendations", "model_version", st.ModelVersion, "store", st.Store,
				"store_version", st.StoreVersion, "popular_products", st.Popular, "elapsed", time.Since(start).Round(time.Millisecond).String())
			break
		}
		if ctx.Err() != nil {
			return
		}
		l.srv.SetNotReady(err)
		l.a.log.Error("cannot load the recommendation engine; retrying", "error", err.Error(), "retry_in", wait.String())
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, l.retryMax)
	}
	if reloadInterval <= 0 || l.version != "" {
		return
	}
	for sleep(ctx, reloadInterval) {
		l.reload(ctx)
	}
}

// load opens the store, unless it is open, and builds the first engine on
// it. A store that fails to open, or whose engine fails, is closed at once
// and the memory it held is returned to the operating system, so that
// failed attempts do not pile up while serve retries.
func (l *loader) load(ctx context.Context) (*recommend.Engine, error) {
	if l.store == nil {
		st, err := openStore(ctx, l.storeURL, l.opts)
		if err != nil {
			debug.FreeOSMemory()
			return nil, err
		}
		l.store = st
	}
	e, err := recommend.OpenWithStore(ctx, l.bucket, l.store, l.version, l.opts)
	if err != nil {
		l.closeStore()
		debug.FreeOSMemory()
		return nil, err
	}
	return e, nil
}

// closeStore closes the store, once no engine is in use any more.
func (l *loader) closeStore() {
	if l.store == nil {
		return
	}
	if err := l.store.Close(); err != nil {
		l.a.log.Warn("cannot close the vector store", "store", l.store.String(), "error", err.Error())
	}
	l.store = nil
}

// reload builds an engine for the store's new version when the store no
// longer holds the current engine's, on the same store: an embedded store
// is refreshed first, switching to the version another process loaded in
// place. The old engine is closed after the grace period, once requests
// that hold it are done, and the memory of the version it served goes back
// to the operating system; the store stays open.
func (l *loader) reload(ctx context.Context) {
	cur := l.srv.Engine()
	if cur == nil || l.store == nil {
		return
	}
	if r, ok := l.store.(refresher); ok {
		if _, err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			l.a.log.Warn("cannot refresh the vector store; still serving its version", "store", l.store.String(), "error", err.Error())
		}
	}
	st := cur.Status(ctx)
	if !errors.Is(st.Err, recommend.ErrVersionMismatch) {
		return
	}
	e, err := recommend.OpenWithStore(ctx, l.bucket, l.store, "", l.opts)
	if err != nil {
		if ctx.Err() == nil {
			l.a.log.Error("cannot load the store's new model version; still serving the old one", "serving", st.ModelVersion,
				"store_version", st.StoreVersion, "error", err.Error())
		}
		return
	}
	old := l.srv.SetEngine(e)
	l.a.log.Info("serving a new model version", "model_version", e.Model().Version(), "previous", st.ModelVersion)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retired = append(l.retired, old)
	l.timers = append(l.timers, time.AfterFunc(l.grace, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, r := range l.retired {
			if r == old {
				old.Close()
				l.retired = append(l.retired[:i], l.retired[i+1:]...)
				// The previous version (its search rows on the heap, its
				// file mapping) is garbage now: hand it back at once
				// rather than as the scavenger gets to it.
				debug.FreeOSMemory()
				return
			}
		}
	}))
}

// closeRetired closes replaced engines still waiting for their grace
// period to end.
func (l *loader) closeRetired() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.timers {
		t.Stop()
	}
	for _, e := range l.retired {
		e.Close()
	}
	l.retired = nil
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// engineStatus describes srv's engine for the dashboard, or says why none
// is loaded, as /readyz does.
func engineStatus(srv *api.Server) func(ctx context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		e := srv.Engine()
		if e == nil {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil))
			var body struct {
				Error struct{ Message string }
			}
			if json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.Error.Message != "" {
				return nil, fmt.Errorf("the engine is not loaded: %s", body.Error.Message)
			}
			return nil, errors.New("the engine is not loaded yet")
		}
		s := e.Status(ctx)
		out := map[string]any{"model_version": s.ModelVersion, "dim": s.Dim, "store": s.Store,
			"store_version": s.StoreVersion, "store_items": s.StoreItems, "popular": s.Popular}
		if s.Err != nil {
			out["error"] = s.Err.Error()
		}
		return out, nil
	}
}

// servedVersion names the model version srv's engine serves ("" before
// one is loaded), for the dashboard.
func servedVersion(srv *api.Server) func() string {
	return func() string {
		if e := srv.Engine(); e != nil {
			return e.Model().Version()
		}
		return ""
	}
}

// serveHandler serves h on ln as api.Server.Serve serves the API alone
// (its timeouts, a graceful stop within grace once ctx is done); serve
// uses it when it adds the dashboard to the API.
func serveHandler(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	if grace == 0 {
		grace = api.DefaultShutdownGrace
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: api.DefaultReadHeaderTimeout,
		ReadTimeout:       api.DefaultReadTimeout,
		WriteTimeout:      api.DefaultWriteTimeout,
		IdleTimeout:       api.DefaultIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("api: serving, with the dashboard", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("api: shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		<-errc
		return fmt.Errorf("api: requests still running after the %s grace period were cut: %w", grace, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	}
	log.Info("api: stopped")
	return nil
}
