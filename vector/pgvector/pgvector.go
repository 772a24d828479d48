package pgvector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
	pgv "github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
)

// LoadMethod picks how Load moves rows into PostgreSQL.
type LoadMethod string

// Load methods.
const (
	// LoadAuto uses COPY, except on servers known to break on it (PGlite).
	LoadAuto LoadMethod = ""
	// LoadCopy streams rows with COPY … FROM STDIN (binary): the fastest.
	LoadCopy LoadMethod = "copy"
	// LoadInsert sends batches of INSERT … SELECT FROM unnest($1, $2):
	// works wherever COPY does not (poolers, PGlite).
	LoadInsert LoadMethod = "insert"
)

// ParseLoadMethod parses "auto", "copy" or "insert".
func ParseLoadMethod(s string) (LoadMethod, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return LoadAuto, nil
	case "copy":
		return LoadCopy, nil
	case "insert", "unnest":
		return LoadInsert, nil
	}
	return "", fmt.Errorf("load method %q: want auto, copy or insert", s)
}

// maxPGliteConns caps the pool against PGlite, whose server is typically
// started with --max-connections=8.
const maxPGliteConns = 8

// Defaults of Options.
const (
	DefaultMaxConns  = 4
	DefaultBatchRows = 2000
	// pgvector's own defaults for the HNSW index and its searches.
	DefaultM              = 16
	DefaultEfConstruction = 64
	DefaultEfSearch       = 40
)

// Options tune a pgvector store. The zero value is ready to use.
type Options struct {
	// Dim is the vectors' dimension. 0 means that of the live item_emb
	// table, or vector.DefaultDim (32) when there is none. A non-zero Dim
	// that differs from the live table makes Open fail with
	// vector.ErrDimension.
	Dim int
	// Schema holds the tables; default "public". It is created if
	// missing. Letters, digits and underscores only.
	Schema string
	// MaxConns bounds the connection pool; 0 means the URL's
	// pool_max_conns, else 4. Keep it at or below the server's limit; on
	// PGlite it is capped at 8 (start it with --max-connections=8).
	MaxConns int
	// LoadMethod: COPY or batched INSERT … unnest; default automatic.
	LoadMethod LoadMethod
	// BatchRows is the number of rows per INSERT batch (default 2000).
	BatchRows int
	// M and EfConstruction are the HNSW index's build parameters
	// (defaults 16 and 64, pgvector's).
	M, EfConstruction int
	// EfSearch sets hnsw.ef_search on each connection (default: the
	// server's setting, read when the store opens, else pgvector's 40). A
	// search for more hits (k plus exclusions) than that raises it for that
	// search alone; nothing ever lowers it.
	EfSearch int
	// MaintenanceWorkMem, e.g. "1GB", is set while the HNSW index is
	// built; a build that fits in it is much faster. Default: the server's.
	MaintenanceWorkMem string
	// Logger receives the store's few log lines; default: discard.
	Logger *slog.Logger
}

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)
var memRe = regexp.MustCompile(`^[0-9]+ ?(kB|MB|GB|TB)?$`)

func (o *Options) setDefaults() error {
	if o.Dim < 0 || o.Dim > 16000 {
		return fmt.Errorf("%w: dimension %d (pgvector indexes up to 2000)", vector.ErrInvalid, o.Dim)
	}
	if o.Schema == "" {
		o.Schema = "public"
	}
	if o.MaxConns < 0 || o.BatchRows < 0 {
		return fmt.Errorf("%w: negative pool size or batch size", vector.ErrInvalid)
	}
	if !identRe.MatchString(o.Schema) {
		return fmt.Errorf("%w: schema name %q: want lower-case letters, digits and underscores", vector.ErrInvalid, o.Schema)
	}
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = DefaultEfConstruction
	}
	if o.M < 2 || o.M > 100 || o.EfConstruction < 4 || o.EfConstruction > 1000 || o.EfSearch < 0 || o.EfSearch > 1000 {
		return fmt.Errorf("%w: HNSW parameters m=%d ef_construction=%d ef_search=%d out of pgvector's ranges", vector.ErrInvalid, o.M, o.EfConstruction, o.EfSearch)
	}
	if o.MaintenanceWorkMem != "" && !memRe.MatchString(o.MaintenanceWorkMem) {
		return fmt.Errorf("%w: maintenance_work_mem %q: want e.g. 512MB", vector.ErrInvalid, o.MaintenanceWorkMem)
	}
	switch o.LoadMethod {
	case LoadAuto, LoadCopy, LoadInsert:
	default:
		return fmt.Errorf("%w: load method %q", vector.ErrInvalid, o.LoadMethod)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Store is a vector store in PostgreSQL with pgvector, in the lab's tables:
//
//	item_emb(id varchar PRIMARY KEY, embedding vector(DIM))
//	user_emb(id int PRIMARY KEY, embedding vector(DIM))
//	recoflow_vector_version(version, dim, items, users, loaded_at,
//	                        user_id_type, item_id_type)
//
// The id columns follow the version's id types (vector.IDTypes): user_emb.id
// is int for integer user ids (the lab's) and text for string ones;
// item_emb.id is varchar for both item id types (integer item ids are kept
// in canonical decimal form). A version whose user id type differs from the
// live one's gets staging tables of its own type, swapped in like any other.
//
// each embedding column with an HNSW index for cosine distance
// (vector_cosine_ops). Load fills staging tables beside the live ones,
// indexes them, then in one transaction drops the live tables, renames the
// staging ones into place and records the version: queries wait for that
// short transaction and then see the new version, whole.
//
// A Store is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	opts     Options
	dim      int
	desc     string
	addr     string
	useCopy  bool
	efSearch int
	closed   atomic.Bool
	log      *slog.Logger

	items, users, versions string // quoted, schema-qualified table names

	// userIDs caches the live user_emb.id type (a vector.IDType), which a
	// load in another process may change: UserVector re-reads it when a
	// query finds the other type.
	userIDs atomic.Value

	// The searches' statements (see setSQL).
	searchSQL, searchExclSQL, similarSQL, similarExclSQL string
}

// setSQL builds the search statements. Each is one HNSW index scan in
// distance order, cut at k: the scan yields up to hnsw.ef_search rows, the
// filter drops the excluded ids (which is why a search raises ef_search to
// k plus exclusions), and there is no second sort. Every value is a
// parameter.
func (s *Store) setSQL() {
	s.searchSQL = "SELECT id, embedding <=> $1 AS distance FROM " + s.items + " ORDER BY distance LIMIT $2"
	s.searchExclSQL = "SELECT id, embedding <=> $1 AS distance FROM " + s.items +
		" WHERE id <> ALL($3) ORDER BY distance LIMIT $2"
	// The item's vector is an InitPlan, looked up once by primary key; the
	// gate skips the scan for an unknown item.
	q := "(SELECT embedding FROM " + s.items + " WHERE id = $1)"
	s.similarSQL = "SELECT id, embedding <=> " + q + " AS distance FROM " + s.items +
		" WHERE " + q + " IS NOT NULL AND id <> $1 ORDER BY distance LIMIT $2"
	s.similarExclSQL = "SELECT id, embedding <=> " + q + " AS distance FROM " + s.items +
		" WHERE " + q + " IS NOT NULL AND id <> $1 AND id <> ALL($3) ORDER BY distance LIMIT $2"
}

var (
	_ vector.Store           = (*Store)(nil)
	_ vector.SimilarSearcher = (*Store)(nil)
)

// Open connects to the PostgreSQL server at rawURL (a postgres:// URL or
// keyword/value string pgx accepts, e.g. with
// default_query_exec_mode=exec), makes sure the vector extension, the
// schema and the version table exist, and reads the live dimension.
//
// A server that cannot be reached gives vector.ErrUnavailable naming
// host:port; a server without pgvector gives vector.ErrUnavailable saying
// so; opts.Dim contradicting the live tables gives vector.ErrDimension.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("open pgvector store: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("open pgvector store: %w: %v", vector.ErrInvalid, err)
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 10 * time.Second
	}
	s := &Store{
		opts:     opts,
		addr:     net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))),
		log:      opts.Logger,
		items:    pgx.Identifier{opts.Schema, "item_emb"}.Sanitize(),
		users:    pgx.Identifier{opts.Schema, "user_emb"}.Sanitize(),
		versions: pgx.Identifier{opts.Schema, "recoflow_vector_version"}.Sanitize(),
	}
	s.setSQL()
	s.desc = fmt.Sprintf("postgres://%s@%s/%s", cc.User, s.addr, cc.Database)
	if opts.Schema != "public" {
		s.desc += "?schema=" + opts.Schema
	}

	// Prepare the database on one plain connection: the pool's connections
	// register pgvector's types when they start, which needs the extension.
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return nil, s.errorf("connect to", err)
	}
	dim, pglite, err := s.prepare(ctx, conn)
	if err == nil {
		s.efSearch, err = s.serverEfSearch(ctx, conn)
	}
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	if opts.EfSearch > 0 {
		s.efSearch = opts.EfSearch
	}
	s.dim = dim
	if pglite {
		// PGlite's connection multiplexer queues protocol messages one by
		// one, so the Parse, Bind and Execute of one connection's
		// extended-protocol query can interleave with another's on its one
		// session, and a query then runs another's statement. A simple
		// query is one message, so it is atomic there: use the simple
		// protocol (pgx still quotes every parameter) whatever the URL says.
		cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	switch opts.LoadMethod {
	case LoadCopy:
		s.useCopy = true
	case LoadAuto:
		s.useCopy = !pglite
	}

	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = int32(opts.MaxConns)
	case !strings.Contains(rawURL, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	if pglite && cfg.MaxConns > maxPGliteConns {
		// More would only queue in PGlite's socket server (or time out
		// there, past its --max-connections).
		s.log.Info("pgvector: PGlite runs one query at a time; pool capped", "max_conns", maxPGliteConns)
		cfg.MaxConns = maxPGliteConns
	}
	efSearch := opts.EfSearch
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if err := registerTypes(ctx, c); err != nil {
			return err
		}
		if efSearch > 0 {
			_, err := c.Exec(ctx, "SELECT set_config('hnsw.ef_search', $1, false)", strconv.Itoa(efSearch))
			return err
		}
		return nil
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.errorf("connect to", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, s.errorf("connect to", err)
	}
	return s, nil
}

// registerTypes teaches a connection pgvector's vector type, with its
// binary and text codecs from pgvector-go, like pgvector-go's
// RegisterTypes but with a single simple-protocol query (see Open on PGlite).
func registerTypes(ctx context.Context, c *pgx.Conn) error {
	var oid, arrayOID *uint32
	err := c.QueryRow(ctx, "SELECT to_regtype('vector')::oid, to_regtype('_vector')::oid", pgx.QueryExecModeSimpleProtocol).
		Scan(&oid, &arrayOID)
	if err != nil {
		return err
	}
	if oid == nil || arrayOID == nil {
		return errors.New("the vector type is not in this database")
	}
	tm := c.TypeMap()
	vt := &pgtype.Type{Name: "vector", OID: *oid, Codec: &pgxvec.VectorCodec{}}
	tm.RegisterType(vt)
	tm.RegisterType(&pgtype.Type{Name: "_vector", OID: *arrayOID, Codec: &pgtype.ArrayCodec{ElementType: vt}})
	// In the exec and simple-protocol query modes pgx picks a parameter's
	// type from its Go type.
	tm.RegisterDefaultPgType(pgv.Vector{}, "vector")
	tm.RegisterDefaultPgType([]pgv.Vector{}, "_vector")
	return nil
}

// prepare checks the server and creates what the store needs. It returns
// the live dimension and whether the server is PGlite.
func (s *Store) prepare(ctx context.Context, conn *pgx.Conn) (dim int, pglite bool, err error) {
	var version string
	var available, installed bool
	err = conn.QueryRow(ctx, `SELECT version(),
		EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector'),
		EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')`, pgx.QueryExecModeSimpleProtocol).Scan(&version, &available, &installed)
	if err != nil {
		return 0, false, s.errorf("inspect", err)
	}
	pglite = strings.Contains(version, "PGlite") || strings.Contains(version, "emscripten")
	server := version
	if i := strings.Index(server, " on "); i > 0 {
		server = server[:i]
	}
	if !available && !installed {
		return 0, false, fmt.Errorf("open %s: %w: the vector extension is not available on %s (%s); install pgvector (https://github.com/pgvector/pgvector) on that server, or use a file:// vector store",
			s, vector.ErrUnavailable, s.addr, server)
	}
	if !installed {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil && !isDuplicate(err) {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42501" {
				return 0, false, fmt.Errorf("open %s: %w: the vector extension is available on %s but not created in this database, and this user may not create it: run CREATE EXTENSION vector as its owner or a superuser",
					s, vector.ErrUnavailable, s.addr)
			}
			return 0, false, s.errorf("create the vector extension on", err)
		}
	}
	schema := pgx.Identifier{s.opts.Schema}.Sanitize()
	ddl := []string{
		"CREATE SCHEMA IF NOT EXISTS " + schema,
		`CREATE TABLE IF NOT EXISTS ` + s.versions + ` (
			singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
			version text NOT NULL,
			dim int NOT NULL,
			items bigint NOT NULL,
			users bigint NOT NULL,
			loaded_at timestamptz NOT NULL)`,
	}
	// Versions loaded before id types existed are the lab's.
	ddl = append(ddl,
		"ALTER TABLE "+s.versions+" ADD COLUMN IF NOT EXISTS user_id_type text NOT NULL DEFAULT 'integer'",
		"ALTER TABLE "+s.versions+" ADD COLUMN IF NOT EXISTS item_id_type text NOT NULL DEFAULT 'string'")
	for _, q := range ddl {
		if _, err := conn.Exec(ctx, q); err != nil && !isDuplicate(err) {
			return 0, false, s.errorf("prepare schema on", err)
		}
	}
	if err := s.readUserIDType(ctx, conn); err != nil {
		return 0, false, err
	}
	var typmod *int32
	err = conn.QueryRow(ctx, `SELECT a.atttypmod FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = 'item_emb' AND a.attname = 'embedding' AND NOT a.attisdropped`,
		pgx.QueryExecModeSimpleProtocol, s.opts.Schema).Scan(&typmod)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, s.errorf("inspect", err)
	}
	live := 0
	if typmod != nil && *typmod > 0 {
		live = int(*typmod)
	}
	switch {
	case live != 0 && s.opts.Dim != 0 && live != s.opts.Dim:
		return 0, false, fmt.Errorf("open %s: %w: item_emb holds %d-dimensional vectors, %d were asked for",
			s, vector.ErrDimension, live, s.opts.Dim)
	case live != 0:
		dim = live
	case s.opts.Dim != 0:
		dim = s.opts.Dim
	default:
		dim = vector.DefaultDim
	}
	return dim, pglite, nil
}

// querier is a connection or the pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readUserIDType reads the type of the live user_emb.id into the cache:
// integer types are vector.IDInteger, anything else (text) vector.IDString;
// no table yet means the lab's.
func (s *Store) readUserIDType(ctx context.Context, q querier) error {
	var typ *string
	err := q.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = 'user_emb' AND a.attname = 'id' AND NOT a.attisdropped`,
		pgx.QueryExecModeSimpleProtocol, s.opts.Schema).Scan(&typ)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return s.errorf("inspect", err)
	}
	t := vector.LabIDs.User
	if typ != nil {
		switch *typ {
		case "integer", "bigint", "smallint":
			t = vector.IDInteger
		default:
			t = vector.IDString
		}
	}
	s.userIDs.Store(t)
	return nil
}

func (s *Store) userIDType() vector.IDType { return s.userIDs.Load().(vector.IDType) }

// serverEfSearch reads the session's hnsw.ef_search: the server's setting
// (postgresql.conf, ALTER DATABASE or ROLE, the URL's options), or
// pgvector's default when nothing sets it.
func (s *Store) serverEfSearch(ctx context.Context, conn *pgx.Conn) (int, error) {
	var v *string
	err := conn.QueryRow(ctx, "SELECT current_setting('hnsw.ef_search', true)", pgx.QueryExecModeSimpleProtocol).Scan(&v)
	if err != nil {
		return 0, s.errorf("inspect", err)
	}
	if v == nil || *v == "" {
		return DefaultEfSearch, nil
	}
	n, err := strconv.Atoi(*v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("open %s: %w: the server's hnsw.ef_search is %q, not a positive integer", s, vector.ErrInvalid, *v)
	}
	return n, nil
}

// EfSearch returns the hnsw.ef_search that searches run with: --ef-search
// when given, else the server's setting. A search wanting more hits raises
// it for that search alone (see searchEf).
func (s *Store) EfSearch() int { return s.efSearch }

// searchEf returns the hnsw.ef_search a search for want rows (k plus
// exclusions) must set, or 0 when the session's is already enough. It only
// ever raises the setting, up to pgvector's limit of 1,000.
func (s *Store) searchEf(want int) int {
	if want <= s.efSearch {
		return 0
	}
	return min(want, 1000)
}

// String describes the store: postgres://user@host:port/db, no password.
func (s *Store) String() string { return s.desc }

// Dim returns the dimension of the store's vectors.
func (s *Store) Dim() int { return s.dim }

// UsesCopy reports whether Load uses COPY (else batched INSERTs).
func (s *Store) UsesCopy() bool { return s.useCopy }

// Close closes the connection pool. Later calls fail with
// vector.ErrUnavailable.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.pool.Close()
	}
	return nil
}

// errorf wraps err from attempting op, translated to the vector package's
// sentinels: the connection failing or the server shutting down →
// ErrUnavailable; a missing live table → ErrEmpty.
func (s *Store) errorf(op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("%s %s: %w: store closed", op, s, vector.ErrUnavailable)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, s, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "42P01": // undefined_table: nothing loaded yet
			return fmt.Errorf("%s %s: %w", op, s, vector.ErrEmpty)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300":
			// connection exception, admin/crash shutdown, too many connections
			return fmt.Errorf("%s %s: %w: %s", op, s, vector.ErrUnavailable, pe.Message)
		}
		return fmt.Errorf("%s %s: %w", op, s, err)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) || strings.Contains(err.Error(), "conn closed") {
		return fmt.Errorf("%s %s: %w: cannot talk to %s: %v", op, s, vector.ErrUnavailable, s.addr, err)
	}
	return fmt.Errorf("%s %s: %w", op, s, err)
}

func isDuplicate(err error) bool {
	var pe *pgconn.PgError
	// Concurrent CREATE … IF NOT EXISTS can still collide in the catalogs.
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710" || pe.Code == "42701")
}

func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("%s %s: %w: store closed", op, s, vector.ErrUnavailable)
	}
	return nil
}

// Version describes the live version.
func (s *Store) Version(ctx context.Context) (vector.Info, error) {
	if err := s.checkOpen("version of"); err != nil {
		return vector.Info{}, err
	}
	var info vector.Info
	var items, users int64
	err := s.pool.QueryRow(ctx, "SELECT version, dim, items, users, loaded_at, user_id_type, item_id_type FROM "+s.versions).
		Scan(&info.Version, &info.Dim, &items, &users, &info.LoadedAt, &info.IDs.User, &info.IDs.Item)
	if errors.Is(err, pgx.ErrNoRows) {
		return vector.Info{}, fmt.Errorf("version of %s: %w", s, vector.ErrEmpty)
	}
	if err != nil {
		return vector.Info{}, s.errorf("version of", err)
	}
	info.Items, info.Users = int(items), int(users)
	info.LoadedAt = info.LoadedAt.UTC()
	return info, nil
}

// ItemVector returns a copy of item id's vector.
func (s *Store) ItemVector(ctx context.Context, id string) ([]float32, error) {
	return s.vectorOf(ctx, "item", "SELECT embedding FROM "+s.items+" WHERE id = $1", id)
}

// UserVector returns a copy of user id's vector, id matched as the type
// of user_emb.id says (see vector.IDInteger). The type is cached; when a
// load elsewhere has changed it, the query fails on the types (or the id
// cannot be an integer), and the type is read again and the query retried.
func (s *Store) UserVector(ctx context.Context, id string) ([]float32, error) {
	if err := s.checkOpen("user vector from"); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		typ := s.userIDType()
		var v []float32
		var err error
		key, ok := vector.LookupID("user", typ, id)
		if !ok {
			err = fmt.Errorf("user %q: %w (user_emb.id is int)", id, vector.ErrNotFound)
		} else if typ == vector.IDInteger {
			n, _ := strconv.ParseInt(key, 10, 32)
			v, err = s.vectorOf(ctx, "user", "SELECT embedding FROM "+s.users+" WHERE id = $1::int", int32(n))
		} else {
			v, err = s.vectorOf(ctx, "user", "SELECT embedding FROM "+s.users+" WHERE id = $1::text", key)
		}
		var pe *pgconn.PgError
		stale := !ok || errors.As(err, &pe) && pe.Code == "42883" // undefined_function: int = text

		if !stale || attempt > 0 {
			return v, err
		}
		if err := s.readUserIDType(ctx, s.pool); err != nil {
			return nil, err
		}
		if s.userIDType() == typ && pe == nil {
			return v, err // not found, and the type has not changed
		}
	}
}

func (s *Store) vectorOf(ctx context.Context, kind, sql string, id any) ([]float32, error) {
	op := kind + " vector from"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	var v pgv.Vector
	err := s.pool.QueryRow(ctx, sql, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		if kind == "item" {
			return nil, fmt.Errorf("item %q: %w", id, vector.ErrNotFound)
		}
		return nil, fmt.Errorf("user %v: %w", id, vector.ErrNotFound)
	}
	if err != nil {
		return nil, s.errorf(op, err)
	}
	return v.Slice(), nil
}

// SearchItems returns the k items nearest to query, nearest first.
func (s *Store) SearchItems(ctx context.Context, query []float32, k int, exclude ...string) ([]vector.Hit, error) {
	out, err := s.SearchItemsBatch(ctx, []vector.Query{{Vector: query, K: k, Exclude: exclude}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// SearchItemsBatch sends all the queries in one round trip (a pipeline),
// raising hnsw.ef_search for that batch alone when one of them needs more.
// An index scan yields at most 1,000 rows (pgvector's largest
// hnsw.ef_search), which bounds k plus the excluded ids.
func (s *Store) SearchItemsBatch(ctx context.Context, queries []vector.Query) ([][]vector.Hit, error) {
	if err := s.checkOpen("search"); err != nil {
		return nil, err
	}
	out := make([][]vector.Hit, len(queries))
	batch := &pgx.Batch{}
	var sent []int
	maxWant := 0
	for i, q := range queries {
		if err := vector.CheckVector(q.Vector, s.dim); err != nil {
			return nil, fmt.Errorf("search %s: query %d: %w", s, i+1, err)
		}
		if q.K <= 0 {
			continue
		}
		maxWant = max(maxWant, q.K+len(q.Exclude))
		if len(q.Exclude) == 0 {
			batch.Queue(s.searchSQL, pgv.NewVector(q.Vector), q.K)
		} else {
			batch.Queue(s.searchExclSQL, pgv.NewVector(q.Vector), q.K, q.Exclude)
		}
		sent = append(sent, i)
	}
	if len(sent) == 0 {
		return out, nil
	}
	return out, s.runSearches(ctx, batch, maxWant, sent, out)
}

// SimilarItems returns the k items nearest to item id, nearest first,
// skipping id itself and the ids in exclude, in one statement (one round
// trip): the item's vector is looked up inside the search. An unknown id
// wraps vector.ErrNotFound.
func (s *Store) SimilarItems(ctx context.Context, id string, k int, exclude ...string) ([]vector.Hit, error) {
	if err := s.checkOpen("search"); err != nil {
		return nil, err
	}
	if k <= 0 {
		// Still say whether the item exists, like a search would.
		_, err := s.ItemVector(ctx, id)
		return nil, err
	}
	out := make([][]vector.Hit, 1)
	batch := &pgx.Batch{}
	if len(exclude) == 0 {
		batch.Queue(s.similarSQL, id, k)
	} else {
		batch.Queue(s.similarExclSQL, id, k, exclude)
	}
	if err := s.runSearches(ctx, batch, k+1+len(exclude), []int{0}, out); err != nil {
		return nil, err
	}
	if len(out[0]) == 0 {
		// No hits: the item is unknown, or everything else is excluded.
		if _, err := s.ItemVector(ctx, id); err != nil {
			return nil, err
		}
	}
	return out[0], nil
}

// runSearches sends batch (one search per index of sent) in one round
// trip and collects each search's hits into out. When a search wants more
// rows (k plus exclusions) than the session's hnsw.ef_search, the batch
// starts with a set_config(…, true) that raises it: a batch runs as one
// implicit transaction (one Sync in the extended protocol, one
// multi-statement query in the simple one), so the setting holds for the
// searches after it and reverts when they end.
func (s *Store) runSearches(ctx context.Context, batch *pgx.Batch, maxWant int, sent []int, out [][]vector.Hit) error {
	ef := s.searchEf(maxWant)
	if ef == 0 && len(sent) == 1 {
		// One search: a plain query, without the batch's bookkeeping.
		q := batch.QueuedQueries[0]
		rows, err := s.pool.Query(ctx, q.SQL, q.Arguments...)
		if err != nil {
			return s.errorf("search", err)
		}
		if out[sent[0]], err = pgx.CollectRows(rows, scanHit); err != nil {
			return s.errorf("search", err)
		}
		return nil
	}
	if ef > 0 {
		raise := &pgx.Batch{}
		raise.Queue("SELECT set_config('hnsw.ef_search', $1, true)", strconv.Itoa(ef))
		raise.QueuedQueries = append(raise.QueuedQueries, batch.QueuedQueries...)
		batch = raise
	}
	br := s.pool.SendBatch(ctx, batch)
	if ef > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return s.errorf("search", err)
		}
	}
	for _, i := range sent {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return s.errorf("search", err)
		}
		hits, err := pgx.CollectRows(rows, scanHit)
		if err != nil {
			br.Close()
			return s.errorf("search", err)
		}
		out[i] = hits
	}
	if err := br.Close(); err != nil {
		return s.errorf("search", err)
	}
	return nil
}

// scanHit scans a search's row: id, distance.
func scanHit(r pgx.CollectableRow) (vector.Hit, error) {
	var h vector.Hit
	err := r.Scan(&h.ID, &h.Distance)
	return h, err
}

// Load fills staging tables, indexes them and swaps them in. See
// vector.Store.
func (s *Store) Load(ctx context.Context, version string, items, users vector.Entries, opts ...vector.LoadOption) (vector.Info, error) {
	fail := func(err error) (vector.Info, error) {
		return vector.Info{}, fmt.Errorf("load version %q into %s: %w", version, s, err)
	}
	if err := s.checkOpen("load into"); err != nil {
		return vector.Info{}, err
	}
	lo, err := vector.LoadOptionsOf(opts...)
	if err != nil {
		return fail(err)
	}
	ids := lo.IDs
	if err := vector.CheckVersion(version); err != nil {
		return fail(err)
	}
	start := time.Now()
	suffix := fmt.Sprintf("%016x", rand.Uint64())
	stage := map[string]string{"item": "item_emb_load_" + suffix, "user": "user_emb_load_" + suffix}
	q := func(name string) string { return pgx.Identifier{s.opts.Schema, name}.Sanitize() }
	defer func() {
		// Leftovers only exist when the load failed before the swap.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := s.pool.Exec(cctx, "DROP TABLE IF EXISTS "+q(stage["item"])+", "+q(stage["user"])); err != nil {
			s.log.Warn("pgvector: drop staging tables", "err", err)
		}
	}()
	idType := map[string]string{"item": "varchar", "user": "int"}
	if ids.User == vector.IDString {
		idType["user"] = "text"
	}
	for _, kind := range []string{"item", "user"} {
		if _, err := s.pool.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (id %s NOT NULL, embedding vector(%d) NOT NULL)",
			q(stage[kind]), idType[kind], s.dim)); err != nil {
			return fail(s.errorf("create staging table in", err))
		}
	}
	nItems, err := s.fill(ctx, stage["item"], "item", ids.Item, items)
	if err != nil {
		return fail(err)
	}
	if nItems == 0 {
		return fail(fmt.Errorf("%w: no item embeddings", vector.ErrEmpty))
	}
	nUsers, err := s.fill(ctx, stage["user"], "user", ids.User, users)
	if err != nil {
		return fail(err)
	}
	loaded := time.Since(start)
	s.log.Info("pgvector: rows sent, building indexes", "store", s.String(), "items", nItems, "users", nUsers,
		"took", loaded.Round(time.Millisecond).String())
	for _, kind := range []string{"item", "user"} {
		if err := s.index(ctx, stage[kind], kind); err != nil {
			return fail(err)
		}
	}
	indexed := time.Since(start) - loaded

	// The swap: one short transaction. LOCK serialises concurrent loads
	// (readers of the version row are not blocked); DROP and RENAME wait
	// for running queries, and queries arriving meanwhile wait for COMMIT,
	// then read the new tables.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail(s.errorf("swap in", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	swap := []string{"LOCK TABLE " + s.versions + " IN EXCLUSIVE MODE"}
	for _, kind := range []string{"item", "user"} {
		live := kind + "_emb"
		swap = append(swap,
			"DROP TABLE IF EXISTS "+q(live),
			"ALTER TABLE "+q(stage[kind])+" RENAME TO "+pgx.Identifier{live}.Sanitize(),
			"ALTER TABLE "+q(live)+" RENAME CONSTRAINT "+pgx.Identifier{stage[kind] + "_pkey"}.Sanitize()+" TO "+pgx.Identifier{live + "_pkey"}.Sanitize(),
			"ALTER INDEX "+q(stage[kind]+"_embedding_idx")+" RENAME TO "+pgx.Identifier{live + "_embedding_idx"}.Sanitize(),
		)
	}
	for _, stmt := range swap {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fail(s.errorf("swap in", err))
		}
	}
	var info vector.Info
	err = tx.QueryRow(ctx, "INSERT INTO "+s.versions+` (singleton, version, dim, items, users, loaded_at, user_id_type, item_id_type)
		VALUES (true, $1, $2, $3, $4, now(), $5, $6)
		ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, dim = EXCLUDED.dim,
			items = EXCLUDED.items, users = EXCLUDED.users, loaded_at = EXCLUDED.loaded_at,
			user_id_type = EXCLUDED.user_id_type, item_id_type = EXCLUDED.item_id_type
		RETURNING loaded_at`, version, s.dim, nItems, nUsers, string(ids.User), string(ids.Item)).Scan(&info.LoadedAt)
	if err != nil {
		return fail(s.errorf("record version in", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(s.errorf("swap in", err))
	}
	s.userIDs.Store(ids.User)
	info.Version, info.Dim, info.Items, info.Users, info.IDs = version, s.dim, int(nItems), int(nUsers), ids
	info.LoadedAt = info.LoadedAt.UTC()
	s.log.Info("pgvector store loaded version", "store", s.String(), "version", version, "items", nItems, "users", nUsers,
		"copy", s.useCopy, "load", loaded, "index", indexed, "took", time.Since(start))
	return info, nil
}

// index adds the primary key and the HNSW index to a staging table.
func (s *Store) index(ctx context.Context, table, kind string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.errorf("index", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if s.opts.MaintenanceWorkMem != "" {
		if _, err := tx.Exec(ctx, "SELECT set_config('maintenance_work_mem', $1, true)", s.opts.MaintenanceWorkMem); err != nil {
			return s.errorf("index", err)
		}
	}
	qt := pgx.Identifier{s.opts.Schema, table}.Sanitize()
	_, err = tx.Exec(ctx, "ALTER TABLE "+qt+" ADD CONSTRAINT "+pgx.Identifier{table + "_pkey"}.Sanitize()+" PRIMARY KEY (id)")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		// The server's detail reads: Key (id)=(S10_1678) is duplicated.
		if id, ok := strings.CutPrefix(pe.Detail, "Key (id)=("); ok {
			if id, ok := strings.CutSuffix(id, ") is duplicated."); ok {
				return &vector.DuplicateIDError{Kind: kind, ID: id}
			}
		}
		return fmt.Errorf("%w: a %s id appears twice (%s)", vector.ErrInvalid, kind, pe.Detail)
	}
	if err != nil {
		return s.errorf("index", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE INDEX %s ON %s USING hnsw (embedding vector_cosine_ops) WITH (m = %d, ef_construction = %d)",
		pgx.Identifier{table + "_embedding_idx"}.Sanitize(), qt, s.opts.M, s.opts.EfConstruction)); err != nil {
		return s.errorf("index", err)
	}
	if _, err := tx.Exec(ctx, "ANALYZE "+qt); err != nil {
		return s.errorf("index", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.errorf("index", err)
	}
	return nil
}

// row is one checked entry ready to send.
type row struct {
	id  any // int32 for integer user ids, else string
	vec pgv.Vector
}

// rows checks entries as they are read: dimension, finiteness, ids of
// type typ.
func (s *Store) rows(ctx context.Context, kind string, typ vector.IDType, seq vector.Entries) iter.Seq2[row, error] {
	return func(yield func(row, error) bool) {
		n := 0
		for e, err := range seq {
			if err != nil {
				yield(row{}, fmt.Errorf("read %s embeddings: %w", kind, err))
				return
			}
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(row{}, err)
					return
				}
			}
			if err := vector.CheckVector(e.Vector, s.dim); err != nil {
				yield(row{}, fmt.Errorf("%s %q: %w", kind, e.ID, err))
				return
			}
			id, err := vector.CanonicalID(kind, typ, e.ID)
			if err != nil {
				yield(row{}, err)
				return
			}
			r := row{vec: pgv.NewVector(e.Vector), id: id}
			if kind == "user" && typ == vector.IDInteger {
				n, _ := strconv.ParseInt(id, 10, 32)
				r.id = int32(n)
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// fill sends every entry of seq into the staging table and returns how many
// it sent.
func (s *Store) fill(ctx context.Context, table, kind string, typ vector.IDType, seq vector.Entries) (int64, error) {
	if seq == nil {
		seq = func(func(embedding.Entry, error) bool) {}
	}
	rows := s.rows(ctx, kind, typ, seq)
	if s.useCopy {
		return s.copyRows(ctx, table, kind, rows)
	}
	return s.insertRows(ctx, table, kind, kind == "user" && typ == vector.IDInteger, rows)
}

func (s *Store) copyRows(ctx context.Context, table, kind string, rows iter.Seq2[row, error]) (int64, error) {
	next, stop := iter.Pull2(rows)
	defer stop()
	src := &copySource{next: next}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, s.errorf("load "+kind+"s into", err)
	}
	defer conn.Release()
	n, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{s.opts.Schema, table}, []string{"id", "embedding"}, src)
	if src.err != nil {
		return 0, src.err
	}
	if err != nil {
		return 0, s.errorf("copy "+kind+"s into", err)
	}
	return n, nil
}

type copySource struct {
	next func() (row, error, bool)
	cur  row
	err  error
}

func (c *copySource) Next() bool {
	r, err, ok := c.next()
	if !ok {
		return false
	}
	if err != nil {
		c.err = err
		return false
	}
	c.cur = r
	return true
}

func (c *copySource) Values() ([]any, error) { return []any{c.cur.id, c.cur.vec}, nil }
func (c *copySource) Err() error             { return c.err }

// insertRows sends rows in batches; intIDs: the ids are int32s (else
// strings).
func (s *Store) insertRows(ctx context.Context, table, kind string, intIDs bool, rows iter.Seq2[row, error]) (int64, error) {
	qt := pgx.Identifier{s.opts.Schema, table}.Sanitize()
	sql := "INSERT INTO " + qt + " (id, embedding) SELECT * FROM unnest($1::varchar[], $2::vector[])"
	if kind == "user" {
		sql = "INSERT INTO " + qt + " (id, embedding) SELECT * FROM unnest($1::text[], $2::vector[])"
	}
	if intIDs {
		sql = "INSERT INTO " + qt + " (id, embedding) SELECT * FROM unnest($1::int[], $2::vector[])"
	}
	var n int64
	var sids []string
	var uids []int32
	vecs := make([]pgv.Vector, 0, s.opts.BatchRows)
	flush := func() error {
		if len(vecs) == 0 {
			return nil
		}
		var ids any = sids
		if intIDs {
			ids = uids
		}
		if _, err := s.pool.Exec(ctx, sql, ids, vecs); err != nil {
			return s.errorf("insert "+kind+"s into", err)
		}
		n += int64(len(vecs))
		sids, uids, vecs = sids[:0], uids[:0], vecs[:0]
		return nil
	}
	for r, err := range rows {
		if err != nil {
			return 0, err
		}
		if intIDs {
			uids = append(uids, r.id.(int32))
		} else {
			sids = append(sids, r.id.(string))
		}
		vecs = append(vecs, r.vec)
		if len(vecs) == s.opts.BatchRows {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return n, nil
}
