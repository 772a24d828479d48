package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/recommend"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultLimit             = 10
	DefaultMaxLimit          = 1000
	DefaultMaxBatch          = 1000
	DefaultRequestTimeout    = 10 * time.Second
	DefaultRetryAfter        = 5 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 20 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownGrace     = 10 * time.Second
)

// Options configure a Server. The zero value gives the defaults above.
type Options struct {
	// AuthToken, when set, is the bearer token every data endpoint
	// requires (Authorization: Bearer <token>); health, readiness, metrics
	// and the OpenAPI document stay open. It is never logged.
	AuthToken string
	// MaxBodyBytes bounds a request body; larger ones get 413.
	MaxBodyBytes int64
	// DefaultLimit is the number of items when a request gives no limit;
	// MaxLimit the largest limit accepted (at most the engine's MaxK).
	DefaultLimit, MaxLimit int
	// MaxBatch bounds the entries of one /user_embeddings or batch
	// request.
	MaxBatch int
	// RequestTimeout bounds the work on one request; past it the answer
	// is a 503 (code timeout).
	RequestTimeout time.Duration
	// RetryAfter is the Retry-After of 503 answers.
	RetryAfter time.Duration
	// Server timeouts (see net/http.Server).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownGrace is the time Serve gives requests in flight when its
	// context ends.
	ShutdownGrace time.Duration
	// Registry receives the server's metrics and is what /metrics serves;
	// nil: a registry of the server's own.
	Registry *prometheus.Registry
	// Logger receives access logs (debug level; 5xx at warn) and
	// lifecycle lines. Default: discard.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	def := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.DefaultLimit == 0 {
		o.DefaultLimit = DefaultLimit
	}
	if o.MaxLimit == 0 {
		o.MaxLimit = DefaultMaxLimit
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	def(&o.RequestTimeout, DefaultRequestTimeout)
	def(&o.RetryAfter, DefaultRetryAfter)
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownGrace, DefaultShutdownGrace)
	switch {
	case o.MaxBodyBytes < 1:
		return fmt.Errorf("max body size %d: want at least 1 byte", o.MaxBodyBytes)
	case o.MaxLimit < 1 || o.DefaultLimit < 1 || o.DefaultLimit > o.MaxLimit:
		return fmt.Errorf("default limit %d and max limit %d: want 1 ≤ default ≤ max", o.DefaultLimit, o.MaxLimit)
	case o.MaxBatch < 1:
		return fmt.Errorf("max batch %d: want at least 1", o.MaxBatch)
	case o.RequestTimeout < 0 || o.RetryAfter < 0 || o.ShutdownGrace < 0:
		return errors.New("timeouts must not be negative")
	case strings.ContainsAny(o.AuthToken, " \t\r\n"):
		return errors.New("the auth token must not contain white space")
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Server is the inference API over a recommendation engine. It serves
// before the engine is ready (answering 503 not_ready) so that health
// checks and load balancers see it at once; SetEngine makes it ready.
// A Server is safe for concurrent use.
type Server struct {
	opts      Options
	log       *slog.Logger
	handler   http.Handler
	metrics   *metrics
	engine    atomic.Pointer[recommend.Engine]
	notReady  atomic.Pointer[error]
	tokenHash [sha256.Size]byte
	auth      bool
}

// New returns a server without an engine: data endpoints answer 503
// not_ready until SetEngine. It registers its metrics in opts.Registry and
// fails if they are already there.
func New(opts Options) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{opts: opts, log: opts.Logger}
	if opts.AuthToken != "" {
		s.auth = true
		s.tokenHash = sha256.Sum256([]byte(opts.AuthToken))
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	s.metrics = m
	s.handler = s.routes()
	loading := error(errLoading)
	s.notReady.Store(&loading)
	return s, nil
}

var errLoading = errors.New("the recommendation engine is loading")

// SetEngine makes e the engine that answers requests (nil: none, and the
// server is not ready) and returns the previous one, which the caller may
// close once requests in flight are done with it.
func (s *Server) SetEngine(e *recommend.Engine) *recommend.Engine {
	old := s.engine.Swap(e)
	s.metrics.ready.Set(b2f(e != nil))
	if e != nil {
		s.notReady.Store(nil)
	}
	return old
}

// SetNotReady records why there is no engine (a failed load, say), for
// 503 answers and /readyz. It does not remove an engine already set.
func (s *Server) SetNotReady(err error) {
	if err == nil {
		err = errLoading
	}
	s.notReady.Store(&err)
}

// Engine returns the current engine, or nil.
func (s *Server) Engine() *recommend.Engine { return s.engine.Load() }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler returns the server's HTTP handler, for tests and for mounting in
// another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers HTTP requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets requests in flight finish within
// Options.ShutdownGrace, then closes what remains. It returns nil after a
// clean shutdown, or the error that stopped it. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("api: serving", "addr", ln.Addr().String(), "auth", s.auth)
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.log.Info("api: shutting down", "grace", s.opts.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
		<-errc
		return fmt.Errorf("api: requests still running after the %s grace period were cut: %w", s.opts.ShutdownGrace, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	}
	s.log.Info("api: stopped")
	return nil
}

// authorized checks the bearer token in constant time (comparing SHA-256
// digests, so that neither the content nor the length leaks).
func (s *Server) authorized(r *http.Request) *apiError {
	if !s.auth {
		return nil
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return errorf(http.StatusUnauthorized, CodeUnauthorized, "", "missing bearer token: send Authorization: Bearer <token>")
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
		return errorf(http.StatusUnauthorized, CodeUnauthorized, "", "invalid bearer token")
	}
	return nil
}

// ready returns the engine, or the 503 that says why there is none.
func (s *Server) ready() (*recommend.Engine, *apiError) {
	if e := s.engine.Load(); e != nil {
		return e, nil
	}
	err := errLoading
	if p := s.notReady.Load(); p != nil {
		err = *p
	}
	if errors.Is(err, errLoading) {
		return nil, errorf(http.StatusServiceUnavailable, CodeNotReady, "", "%v", err)
	}
	return nil, unavailable(err)
}

// statusWriter records the status code of a response, and the cause of a
// server-side failure for the request's log line.
type statusWriter struct {
	http.ResponseWriter
	code  int
	cause string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route describes one endpoint.
type route struct {
	pattern   string // ServeMux pattern, method first
	name      string // metrics label
	protected bool   // needs the bearer token
	timeout   bool   // bounded by RequestTimeout
	h         func(w http.ResponseWriter, r *http.Request) *apiError
}

// routeTable lists the endpoints (the OpenAPI document must match it).
func (s *Server) routeTable() []route {
	return []route{
		{pattern: "POST /user_embeddings", protected: true, timeout: true, h: s.userEmbeddings},
		{pattern: "POST /items_from_user", protected: true, timeout: true, h: s.itemsFromUser},
		{pattern: "GET /items_from_item", protected: true, timeout: true, h: s.itemsFromItem},
		{pattern: "POST /v1/recommendations", protected: true, timeout: true, h: s.v1Recommendations},
		{pattern: "GET /v1/items/{item_id}/similar", protected: true, timeout: true, h: s.v1Similar},
		{pattern: "POST /v1/items/similar", protected: true, timeout: true, h: s.v1SimilarByFeatures},
		{pattern: "POST /v1/recommendations/batch", protected: true, timeout: true, h: s.v1Batch},
		{pattern: "GET /healthz", h: s.healthz},
		{pattern: "GET /readyz", timeout: true, h: s.readyz},
		{pattern: "GET /metrics", h: s.metricsHandler},
		{pattern: "GET /openapi.json", h: s.openAPI},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	rs := s.routeTable()
	paths := map[string][]string{}
	for _, rt := range rs {
		method, path, _ := strings.Cut(rt.pattern, " ")
		rt.name = path
		mux.Handle(rt.pattern, s.wrap(rt))
		paths[path] = append(paths[path], method)
	}
	// The same paths with other methods: 405 in JSON, not ServeMux's text.
	for path, methods := range paths {
		allow := strings.Join(append(methods, "OPTIONS"), ", ")
		if strings.Contains(strings.Join(methods, " "), "GET") {
			allow = strings.Join(append(methods, "HEAD", "OPTIONS"), ", ")
		}
		mux.Handle(path, s.wrap(route{name: path, h: func(w http.ResponseWriter, r *http.Request) *apiError {
			w.Header().Set("Allow", allow)
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			return errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "", "%s %s: method not allowed (allowed: %s)", r.Method, path, allow)
		}}))
	}
	mux.Handle("/", s.wrap(route{name: "other", h: func(w http.ResponseWriter, r *http.Request) *apiError {
		return errorf(http.StatusNotFound, CodeNotFound, "", "no such endpoint: %s %s (see /openapi.json)", r.Method, r.URL.Path)
	}}))
	return mux
}

// wrap adds to a route's handler what every request gets: metrics,
// logging, panic recovery, authentication and the request timeout.
func (s *Server) wrap(rt route) http.Handler {
	// The common case's series, looked up once (on the first 200, so that
	// /metrics shows no series before its first request).
	var okSeries atomic.Pointer[routeMetrics]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("api: panic", "route", rt.name, "panic", fmt.Sprint(p))
				sw.cause = "panic: " + fmt.Sprint(p)
				if sw.code == 0 {
					s.writeError(sw, errorf(http.StatusInternalServerError, CodeInternal, "", "internal error"))
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			elapsed := time.Since(start)
			if code == http.StatusOK {
				ok := okSeries.Load()
				if ok == nil {
					m := s.metrics.route(rt.name, http.StatusOK)
					ok = &m
					okSeries.Store(ok)
				}
				ok.requests.Inc()
				ok.latency.Observe(elapsed.Seconds())
			} else {
				s.metrics.observe(rt.name, code, elapsed)
			}
			lvl := slog.LevelDebug
			switch {
			case code >= 500 && code != http.StatusServiceUnavailable:
				// A server fault: the log says why (the client only sees "internal").
				lvl = slog.LevelError
			case code >= 500:
				lvl = slog.LevelWarn
			}
			if !s.log.Enabled(r.Context(), lvl) {
				return // the access log's fields cost allocations: only when logged
			}
			attrs := []any{"method", r.Method, "route", rt.name, "path", r.URL.Path,
				"code", code, "elapsed", elapsed.String(), "remote", r.RemoteAddr}
			switch {
			case code >= 500 && code != http.StatusServiceUnavailable:
				attrs = append(attrs, "error", cmp.Or(sw.cause, "unknown"))
			case code >= 500 && sw.cause != "":
				attrs = append(attrs, "error", sw.cause)
			}
			s.log.Log(r.Context(), lvl, "api: request", attrs...)
		}()
		if rt.protected {
			if e := s.authorized(r); e != nil {
				s.writeError(sw, e)
				return
			}
		}
		if rt.timeout && s.opts.RequestTimeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		if e := rt.h(sw, r); e != nil {
			if e.status >= 500 {
				sw.cause = e.message
			}
			s.writeError(sw, e)
		}
	})
}
