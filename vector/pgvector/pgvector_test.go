package pgvector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	pgv "github.com/pgvector/pgvector-go"

	"github.com/recoflow/recoflow/embedding"

	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// openTest opens a store in a schema of its own, dropped when the test ends,
// so that tests and packages can share one server.
func openTest(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	ctx := context.Background()
	if opts.Schema == "" {
		opts.Schema = fmt.Sprintf("recoflow_test_%016x", rand.Uint64())
	}
	st, err := Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return st
}

func TestAcceptance(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	for _, method := range []LoadMethod{LoadAuto, LoadInsert} {
		t.Run(fmt.Sprintf("load=%s", cmpOr(string(method), "auto")), func(t *testing.T) {
			if method == LoadInsert {
				probe := openTest(t, url, Options{})
				probe.Close()
				if !probe.UsesCopy() {
					t.Skip("the automatic choice on this server is already insert")
				}
			}
			vectortest.Run(t, vectortest.Harness{
				Open: func(t *testing.T) vector.Store {
					return openTest(t, url, Options{MaxConns: 4, LoadMethod: method})
				},
				Reopen: func(t *testing.T, st vector.Store) vector.Store {
					s := st.(*Store)
					st.Close()
					s2, err := Open(context.Background(), url, Options{Schema: s.opts.Schema, MaxConns: 4, LoadMethod: method})
					if err != nil {
						t.Fatal(err)
					}
					return s2
				},
				// pgvector's HNSW index, at its default ef_search.
				MinRecall: 0.95,
			})
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestLabTables checks that the tables are the lab's, so that its SQL
// keeps working.
func TestLabTables(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	st := openTest(t, url, Options{})
	defer st.Close()
	items := vectortest.Clustered(3, 50, 32, "S")
	if _, err := st.Load(ctx, "lab", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	rows, err := st.pool.Query(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`, st.opts.Schema)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var rel, col, typ string
		if err := rows.Scan(&rel, &col, &typ); err != nil {
			t.Fatal(err)
		}
		if rel != "recoflow_vector_version" {
			got = append(got, rel+"."+col+" "+typ)
		}
	}
	want := "item_emb.id character varying,item_emb.embedding vector(32),user_emb.id integer,user_emb.embedding vector(32)"
	if strings.Join(got, ",") != want {
		t.Fatalf("tables:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	var indexes []string
	rows, err = st.pool.Query(ctx, `SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename IN ('item_emb', 'user_emb') ORDER BY 1`, st.opts.Schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		indexes = append(indexes, s)
	}
	all := strings.Join(indexes, "\n")
	for _, w := range []string{"item_emb_pkey: ", "item_emb_embedding_idx: CREATE INDEX item_emb_embedding_idx ON " + st.opts.Schema + ".item_emb USING hnsw (embedding vector_cosine_ops)", "user_emb_pkey: ", "user_emb_embedding_idx: "} {
		if !strings.Contains(all, w) {
			t.Errorf("indexes lack %q:\n%s", w, all)
		}
	}
	// The lab's query, verbatim but for the schema.
	var id string
	err = st.pool.QueryRow(ctx, "SELECT id FROM "+st.opts.Schema+".item_emb ORDER BY embedding <=> (SELECT embedding FROM "+st.opts.Schema+".item_emb WHERE id = $1) LIMIT 1", items[7].ID).Scan(&id)
	if err != nil || id != items[7].ID {
		t.Fatalf("lab query: %q, %v", id, err)
	}
}

// TestNoExtension: a PostgreSQL without pgvector gives a clear error.
func TestNoExtension(t *testing.T) {
	url := testenv.URL(t, testenv.PostgresVar)
	_, err := Open(context.Background(), url, Options{Schema: "recoflow_test_noext"})
	if err == nil {
		t.Skip("this server has pgvector: nothing to check")
	}
	if !errors.Is(err, vector.ErrUnavailable) || !strings.Contains(err.Error(), "the vector extension is not available on") ||
		!strings.Contains(err.Error(), "install pgvector") {
		t.Fatalf("error %q: want ErrUnavailable saying the vector extension is not available and to install pgvector", err)
	}
	t.Log(err)
}

// TestDown: a server that does not answer gives ErrUnavailable naming
// host:port, and never the password.
func TestDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	url := "postgres://recoflow:s3cret-pw@" + addr + "/shop?sslmode=disable&connect_timeout=5"
	_, err = Open(context.Background(), url, Options{})
	if !errors.Is(err, vector.ErrUnavailable) {
		t.Fatalf("error %v: want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %q: want it to name %s and not the password", err, addr)
	}
	t.Log(err)
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Schema: "Robert'); DROP TABLE x;--"}, {Dim: -1}, {MaxConns: -1}, {M: 1}, {MaintenanceWorkMem: "1 GB; DROP"}, {LoadMethod: "fast"}} {
		if _, err := Open(context.Background(), "postgres://127.0.0.1:1/x", o); !errors.Is(err, vector.ErrInvalid) {
			t.Errorf("options %+v: error %v, want ErrInvalid", o, err)
		}
	}
	for in, want := range map[string]LoadMethod{"": LoadAuto, "auto": LoadAuto, "COPY": LoadCopy, "insert": LoadInsert} {
		if got, err := ParseLoadMethod(in); err != nil || got != want {
			t.Errorf("ParseLoadMethod(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLoadMethod("bulk"); err == nil {
		t.Error("ParseLoadMethod(bulk): no error")
	}
}

func TestPoolSize(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	st := openTest(t, url, Options{MaxConns: 20})
	defer st.Close()
	want := int32(20)
	if !st.UsesCopy() { // the automatic choice: PGlite
		want = maxPGliteConns
	}
	if got := st.pool.Config().MaxConns; got != want {
		t.Fatalf("pool size %d, want %d", got, want)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	st2 := openTest(t, url+sep+"pool_max_conns=3", Options{})
	defer st2.Close()
	if got := st2.pool.Config().MaxConns; got != 3 {
		t.Fatalf("pool_max_conns=3 in the URL gave a pool of %d", got)
	}
}

// TestBinaryCodec checks pgvector-go's binary encoding of vectors — what
// COPY … FROM STDIN (BINARY) sends on real PostgreSQL — against the server's
// pgvector, through binary parameters and results, since PGlite cannot run
// COPY itself. It runs inside a transaction: on PGlite that keeps other
// connections' messages from interleaving with its extended-protocol ones.
func TestBinaryCodec(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe // binary parameters and results
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
		t.Fatal(err)
	}
	if err := registerTypes(ctx, conn); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE codec_probe (id int, embedding vector(4)) ON COMMIT DROP"); err != nil {
		t.Fatal(err)
	}
	want := []float32{1.5, -2.25, 3e-7, float32(1) / 3}
	if _, err := tx.Exec(ctx, "INSERT INTO codec_probe VALUES ($1, $2)", 1, pgv.NewVector(want)); err != nil {
		t.Fatal(err)
	}
	var got pgv.Vector
	var text string
	if err := tx.QueryRow(ctx, "SELECT embedding, embedding::text FROM codec_probe WHERE id = $1", 1).Scan(&got, &text); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Slice(), want) {
		t.Fatalf("binary round trip gave %v (server text %s), want %v", got.Slice(), text, want)
	}
	var d float64
	if err := tx.QueryRow(ctx, "SELECT $1::vector <=> $2::vector", pgv.NewVector([]float32{1, 0}), pgv.NewVector([]float32{0, 1})).Scan(&d); err != nil || d != 1 {
		t.Fatalf("cosine distance of orthogonal vectors: %v, %v", d, err)
	}
}

// TestEfSearchNeverLowered: a server configured with a larger
// hnsw.ef_search than pgvector's 40 keeps it, even for searches wanting
// more than 40 rows; --ef-search overrides it; large searches raise it.
func TestEfSearchNeverLowered(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()", pgx.QueryExecModeSimpleProtocol).Scan(&version); err != nil {
		t.Fatal(err)
	}
	configured := url
	if strings.Contains(version, "PGlite") || strings.Contains(version, "emscripten") {
		// PGlite's connections share one session: a SET there is what
		// every later connection sees, like a server setting. Only a
		// larger ef_search, so that tests sharing the server lose nothing.
		if _, err := conn.Exec(ctx, "SET hnsw.ef_search = 200", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, "RESET hnsw.ef_search", pgx.QueryExecModeSimpleProtocol)
	} else {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		configured = url + sep + "options=-c%20hnsw.ef_search%3D200"
	}

	st := openTest(t, configured, Options{})
	defer st.Close()
	if got := st.EfSearch(); got != 200 {
		t.Errorf("EfSearch on a server set to 200: %d", got)
	}
	for _, tc := range []struct{ want, set int }{{10, 0}, {41, 0}, {50, 0}, {200, 0}, {201, 201}, {5000, 1000}} {
		if got := st.searchEf(tc.want); got != tc.set {
			t.Errorf("a search for %d rows on a server set to 200 sets ef_search %d, want %d (0: leave it)", tc.want, got, tc.set)
		}
	}
	items := vectortest.Clustered(31, 100, 32, "E")
	if _, err := st.Load(ctx, "ef", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	if hits, err := st.SearchItems(ctx, items[0].Vector, 50); err != nil || len(hits) != 50 {
		t.Fatalf("search for 50: %d hits, %v", len(hits), err)
	}

	explicit := openTest(t, configured, Options{EfSearch: 60})
	defer explicit.Close()
	if got := explicit.EfSearch(); got != 60 {
		t.Errorf("EfSearch with --ef-search 60: %d", got)
	}
	if got := explicit.searchEf(61); got != 61 {
		t.Errorf("a search for 61 rows with --ef-search 60 sets %d, want 61", got)
	}
}

// TestSearchPlans: every search is one HNSW index scan in distance order
// with no sort on top, and SimilarItems looks the item's vector up in the
// same statement.
func TestSearchPlans(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	st := openTest(t, url, Options{})
	defer st.Close()
	items := vectortest.Clustered(32, 200, 32, "P")
	if _, err := st.Load(ctx, "plans", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sql  string
		args []any
	}{
		{"search", st.searchSQL, []any{pgv.NewVector(items[3].Vector), 10}},
		{"search with exclusions", st.searchExclSQL, []any{pgv.NewVector(items[3].Vector), 10, []string{items[3].ID, "x"}}},
		{"similar items", st.similarSQL, []any{items[3].ID, 10}},
		{"similar items with exclusions", st.similarExclSQL, []any{items[3].ID, 10, []string{items[4].ID}}},
	} {
		tx, err := st.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A table this small would be scanned whole; the plan's shape is
		// what is checked here.
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+tc.sql, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		tx.Rollback(ctx)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		t.Logf("%s:\n%s", tc.name, plan)
		if !strings.Contains(plan, "Index Scan using item_emb_embedding_idx") || strings.Contains(plan, "Sort") {
			t.Errorf("%s: want one HNSW index scan and no sort:\n%s", tc.name, plan)
		}
	}
}

// TestSameAnswersAsPlainSQL: the adapter's searches return what the
// one-statement SQL a user would write returns on the same tables, ids and
// distances, and SimilarItems is that one statement.
func TestSameAnswersAsPlainSQL(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	st := openTest(t, url, Options{})
	defer st.Close()
	items := vectortest.Clustered(33, 300, 32, "Q")
	if _, err := st.Load(ctx, "plain", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	plain := func(sql string, args ...any) []vector.Hit {
		t.Helper()
		rows, err := st.pool.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vector.Hit, error) {
			var h vector.Hit
			return h, r.Scan(&h.ID, &h.Distance)
		})
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	same := func(what string, got, want []vector.Hit) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d hits, plain SQL %d", what, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || math.Abs(got[i].Distance-want[i].Distance) > 1e-9 {
				t.Fatalf("%s: hit %d is %v, plain SQL says %v", what, i, got[i], want[i])
			}
		}
	}
	searchSQL := "SELECT id, embedding <=> $1 FROM " + st.items + " ORDER BY embedding <=> $1 LIMIT $2"
	similarSQL := "SELECT id, embedding <=> (SELECT embedding FROM " + st.items + " WHERE id = $1) AS d FROM " + st.items +
		" WHERE id <> $1 ORDER BY d LIMIT $2"
	similarExclSQL := "SELECT id, embedding <=> (SELECT embedding FROM " + st.items + " WHERE id = $1) AS d FROM " + st.items +
		" WHERE id <> $1 AND NOT (id = ANY($3)) ORDER BY d LIMIT $2"
	for i := 0; i < len(items); i += 15 {
		it := items[i]
		got, err := st.SearchItems(ctx, it.Vector, 10)
		if err != nil {
			t.Fatal(err)
		}
		same("search "+it.ID, got, plain(searchSQL, pgv.NewVector(it.Vector), 10))
		got, err = st.SimilarItems(ctx, it.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		same("similar to "+it.ID, got, plain(similarSQL, it.ID, 10))
		excl := []string{items[(i+1)%len(items)].ID, got[0].ID}
		got, err = st.SimilarItems(ctx, it.ID, 10, excl...)
		if err != nil {
			t.Fatal(err)
		}
		same("similar to "+it.ID+" with exclusions", got, plain(similarExclSQL, it.ID, 10, excl))
	}
	if _, err := st.SimilarItems(ctx, "no-such-item", 10); !errors.Is(err, vector.ErrNotFound) {
		t.Errorf("similar to an unknown item: %v, want ErrNotFound", err)
	}
}

// TestRaisedEfSearchOneBatch: a search for more rows than the session's
// hnsw.ef_search raises it within its own batch (one round trip, no
// explicit transaction), gets them all, and leaves the session's setting
// as it was.
func TestRaisedEfSearchOneBatch(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	st := openTest(t, url, Options{})
	defer st.Close()
	items := vectortest.Clustered(34, 2000, 32, "R")
	if _, err := st.Load(ctx, "raise", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	ef := st.EfSearch()
	want := ef + 25
	hits, err := st.SearchItems(ctx, items[0].Vector, want)
	if err != nil || len(hits) != want {
		t.Fatalf("search for %d (ef_search %d): %d hits, %v", want, ef, len(hits), err)
	}
	hits, err = st.SimilarItems(ctx, items[0].ID, want, items[1].ID)
	if err != nil || len(hits) != want {
		t.Fatalf("similar items, %d (ef_search %d): %d hits, %v", want, ef, len(hits), err)
	}
	for _, h := range hits {
		if h.ID == items[0].ID || h.ID == items[1].ID {
			t.Fatalf("similar items returned excluded %s", h.ID)
		}
	}
	var after string
	if err := st.pool.QueryRow(ctx, "SELECT current_setting('hnsw.ef_search')").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after == strconv.Itoa(want) || after == strconv.Itoa(want+2) {
		t.Errorf("hnsw.ef_search after the searches: %s, the raised value leaked into the session", after)
	}
}

// TestSpecTables: a version with string user ids and integer item ids
// gets user_emb.id text (item_emb.id stays varchar), the version row
// records the id types, and the lab's version after it gets the lab's
// tables back.
func TestSpecTables(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	st := openTest(t, url, Options{MaxConns: 2})
	defer st.Close()
	shop := vector.IDTypes{User: vector.IDString, Item: vector.IDInteger}
	items := vectortest.Clustered(3, 50, 32, "")
	for i := range items {
		items[i].ID = strconv.Itoa(1000 + i)
	}
	users := []embedding.Entry{{ID: "00000000-a762", Vector: items[0].Vector}, {ID: "0103", Vector: items[1].Vector}}
	columns := func() string {
		t.Helper()
		var got []string
		rows, err := st.pool.Query(ctx, `SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname IN ('item_emb', 'user_emb') AND a.attname = 'id' ORDER BY 1`, st.opts.Schema)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			got = append(got, s)
		}
		return strings.Join(got, ", ")
	}
	if _, err := st.Load(ctx, "shop", vector.FromSlice(items), vector.FromSlice(users), vector.WithIDTypes(shop)); err != nil {
		t.Fatal(err)
	}
	if got, want := columns(), "item_emb.id character varying, user_emb.id text"; got != want {
		t.Fatalf("shop's id columns: %s, want %s", got, want)
	}
	var ut, it string
	if err := st.pool.QueryRow(ctx, "SELECT user_id_type, item_id_type FROM "+st.versions).Scan(&ut, &it); err != nil || ut != "string" || it != "integer" {
		t.Fatalf("version row's id types %q %q, %v", ut, it, err)
	}
	if v, err := st.UserVector(ctx, "0103"); err != nil || !slices.Equal(v, items[1].Vector) {
		t.Fatalf("UserVector(0103) = %v, %v", v, err)
	}
	if _, err := st.Load(ctx, "lab", vector.FromSlice(vectortest.Clustered(3, 50, 32, "S")), nil); err != nil {
		t.Fatal(err)
	}
	if got, want := columns(), "item_emb.id character varying, user_emb.id integer"; got != want {
		t.Fatalf("lab's id columns after the shop's: %s, want %s", got, want)
	}
}

// TestIDTypeChangedElsewhere: a store that cached the live user id type
// finds users after another process loaded a version of the other type.
func TestIDTypeChangedElsewhere(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	a := openTest(t, url, Options{MaxConns: 2})
	defer a.Close()
	items := vectortest.Clustered(4, 20, 32, "S")
	labUsers := []embedding.Entry{{ID: "103", Vector: items[0].Vector}}
	if _, err := a.Load(ctx, "lab", vector.FromSlice(items), vector.FromSlice(labUsers)); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, url, Options{Schema: a.opts.Schema, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	shopUsers := []embedding.Entry{{ID: "alice", Vector: items[1].Vector}, {ID: "103", Vector: items[2].Vector}}
	if _, err := b.Load(ctx, "shop", vector.FromSlice(items), vector.FromSlice(shopUsers),
		vector.WithIDTypes(vector.IDTypes{User: vector.IDString})); err != nil {
		t.Fatal(err)
	}
	for _, u := range shopUsers { // "alice" cannot be an int; "103" can, and the query finds a text column
		if v, err := a.UserVector(ctx, u.ID); err != nil || !slices.Equal(v, u.Vector) {
			t.Fatalf("UserVector(%q) after another process loaded string user ids = %v, %v", u.ID, v, err)
		}
	}
	if _, err := b.Load(ctx, "lab2", vector.FromSlice(items), vector.FromSlice(labUsers)); err != nil {
		t.Fatal(err)
	}
	if v, err := a.UserVector(ctx, "0103"); err != nil || !slices.Equal(v, labUsers[0].Vector) {
		t.Fatalf("UserVector(0103) after the lab's version came back = %v, %v", v, err)
	}
	if _, err := a.UserVector(ctx, "alice"); !errors.Is(err, vector.ErrNotFound) {
		t.Fatalf("UserVector(alice) in the lab's version: %v, want ErrNotFound", err)
	}
	if info, err := a.Version(ctx); err != nil || info.IDs != vector.LabIDs {
		t.Fatalf("Version = %+v, %v; want the lab's id types", info, err)
	}
}

// TestVersionTableBeforeIDTypes: a version table made before id types
// existed gets the columns, and its version reads as the lab's.
func TestVersionTableBeforeIDTypes(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	st := openTest(t, url, Options{MaxConns: 2})
	defer st.Close()
	if _, err := st.Load(ctx, "old", vector.FromSlice(vectortest.Clustered(3, 20, 32, "S")), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, "ALTER TABLE "+st.versions+" DROP COLUMN user_id_type, DROP COLUMN item_id_type"); err != nil {
		t.Fatal(err)
	}
	st2, err := Open(ctx, url, Options{Schema: st.opts.Schema, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if info, err := st2.Version(ctx); err != nil || info.Version != "old" || info.IDs != vector.LabIDs {
		t.Fatalf("Version = %+v, %v; want %q with the lab's id types", info, err, "old")
	}
}
