package connect

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
	"github.com/recoflow/recoflow/vector/pgvector"
)

// VectorOptions tune how a vector store is opened. Zero values mean each
// backend's defaults.
type VectorOptions struct {
	// Dim is the embedding dimension; 0: the store's own, or 32 for a new
	// one. A Dim that contradicts the stored vectors fails with
	// vector.ErrDimension.
	Dim int
	// HNSWM and HNSWEfConstruction are the HNSW index's build parameters,
	// for the local graph and pgvector's index alike.
	HNSWM, HNSWEfConstruction int
	// EfSearch is the HNSW candidate list size of a search.
	EfSearch int
	// Logger receives the store's log lines.
	Logger *slog.Logger

	// ExactThreshold (file://): versions with fewer items are searched
	// exactly.
	ExactThreshold int
	// RefreshInterval (file://): how often to pick up a version that
	// another process loaded; 0: never.
	RefreshInterval time.Duration

	// MaxConns (postgres://) bounds the connection pool; keep it at or
	// below PGlite's --max-connections. The URL's pool_max_conns wins.
	MaxConns int
	// Schema (postgres://) holds the tables; default public. The URL's
	// schema parameter wins.
	Schema string
	// LoadMethod (postgres://): auto, copy or insert. The URL's
	// load_method parameter wins.
	LoadMethod string
	// MaintenanceWorkMem (postgres://) is set while the HNSW index builds,
	// e.g. "1GB".
	MaintenanceWorkMem string
}

// Vectors opens the vector store named by rawURL:
//
//	file:///abs/dir, file://rel/dir or a plain directory   the embedded store
//	postgres://user:pass@host:5432/db?…  (or postgresql://) PostgreSQL + pgvector
//
// PostgreSQL URLs take pgx's parameters (sslmode, default_query_exec_mode,
// pool_max_conns, …) plus recoflow's schema and load_method, which are
// removed before the URL reaches pgx.
func Vectors(ctx context.Context, rawURL string, opts VectorOptions) (vector.Store, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("vector store URL is empty: want file:///path/vectors or postgres://user@host:5432/db")
	}
	if !strings.Contains(rawURL, "://") {
		return openLocalVectors(ctx, rawURL, opts)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("vector store URL %q: %v", Redact(rawURL), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" { // file://rel/dir
			p = u.Host + u.Path
		}
		if p == "" {
			return nil, fmt.Errorf("vector store URL %q: no directory", rawURL)
		}
		return openLocalVectors(ctx, p, opts)
	case "postgres", "postgresql":
		q := u.Query()
		po := pgvector.Options{
			Dim: opts.Dim, Schema: opts.Schema, MaxConns: opts.MaxConns,
			M: opts.HNSWM, EfConstruction: opts.HNSWEfConstruction, EfSearch: opts.EfSearch,
			MaintenanceWorkMem: opts.MaintenanceWorkMem, Logger: opts.Logger,
		}
		method := opts.LoadMethod
		if q.Has("schema") {
			po.Schema = q.Get("schema")
			q.Del("schema")
		}
		if q.Has("load_method") {
			method = q.Get("load_method")
			q.Del("load_method")
		}
		if q.Has("pool_max_conns") {
			po.MaxConns = 0 // pgx reads it from the URL
		}
		if po.LoadMethod, err = pgvector.ParseLoadMethod(method); err != nil {
			return nil, fmt.Errorf("vector store URL %q: %v", Redact(rawURL), err)
		}
		u.RawQuery = q.Encode()
		return pgvector.Open(ctx, u.String(), po)
	default:
		return nil, fmt.Errorf("vector store URL %q: unknown scheme %q (want file or postgres)", Redact(rawURL), u.Scheme)
	}
}

func openLocalVectors(ctx context.Context, dir string, opts VectorOptions) (vector.Store, error) {
	defer noteCreation(ctx, dir)()
	return local.Open(ctx, dir, local.Options{
		Dim: opts.Dim, ExactThreshold: opts.ExactThreshold,
		M: opts.HNSWM, EfConstruction: opts.HNSWEfConstruction, EfSearch: opts.EfSearch,
		RefreshInterval: opts.RefreshInterval, Logger: opts.Logger,
	})
}
