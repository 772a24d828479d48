package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	pgv "github.com/pgvector/pgvector-go"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/pgvector"
	"github.com/recoflow/recoflow/vector/vectorbench"
)

// sqlTally sums one system's cost over the rounds of one kind of search.
type sqlTally struct {
	queries        int
	wall           time.Duration // summed over the rounds
	client, server time.Duration // CPU: this process, the server's process tree
}

func (t sqlTally) perQuery(d time.Duration) float64 {
	if t.queries == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1e3 / float64(t.queries)
}

// adapterVsSQL is the pgvector adapter measured against plain SQL on the
// same tables, for user→items (a query vector) and item→items (an id).
type adapterVsSQL struct {
	serverCPU bool // the server's CPU was measured (--pgvector-pid)
	pglite    bool
	kinds     []string
	adapter   map[string]*sqlTally
	plain     map[string]*sqlTally
	same      map[string][2]int // identical answers, compared
}

// benchAdapterVsSQL measures, at concurrency 1 and alternating the two in
// every round, the adapter's SearchItems and SimilarItems against the one
// statement a user of pgx would write on the same tables, on one plain
// connection in the same query mode: the CPU of this process and, given
// --pgvector-pid, of the server, per query.
func (a *app) benchAdapterVsSQL(ctx context.Context, c vectorsBenchConfig, ps *benchSystem, items []embedding.Entry, queries [][]float32) (*adapterVsSQL, error) {
	st, ok := ps.store.(*pgvector.Store)
	if !ok {
		return nil, fmt.Errorf("not a pgvector store: %T", ps.store)
	}
	cfg, err := pgx.ParseConfig(c.pgURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", connect.Redact(c.pgURL), err)
	}
	if ps.pglite {
		// As the adapter does on PGlite (see vector/pgvector.Open).
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", connect.Redact(c.pgURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if ef := st.EfSearch(); ef > 0 {
		// The adapter's session setting, so that both scan alike.
		if _, err := conn.Exec(ctx, "SELECT set_config('hnsw.ef_search', $1, false)", strconv.Itoa(ef)); err != nil {
			return nil, fmt.Errorf("set hnsw.ef_search on %s: %w", connect.Redact(c.pgURL), err)
		}
	}
	table := pgx.Identifier{ps.schema, "item_emb"}.Sanitize()
	searchSQL := "SELECT id, embedding <=> $1 AS distance FROM " + table + " ORDER BY distance LIMIT $2"
	similarSQL := "SELECT id, embedding <=> (SELECT embedding FROM " + table + " WHERE id = $1) AS distance FROM " + table +
		" WHERE id <> $1 ORDER BY distance LIMIT $2"
	ids := make([]string, len(queries))
	for i := range ids {
		ids[i] = items[(i*7919)%len(items)].ID
	}
	var buf []vector.Hit
	plainQuery := func(sql string, arg any) ([]vector.Hit, error) {
		rows, err := conn.Query(ctx, sql, arg, vectorbench.K)
		if err != nil {
			return nil, err
		}
		buf = buf[:0]
		for rows.Next() {
			var h vector.Hit
			if err := rows.Scan(&h.ID, &h.Distance); err != nil {
				rows.Close()
				return nil, err
			}
			buf = append(buf, h)
		}
		return buf, rows.Err()
	}
	type system struct {
		name string
		run  func(i int) ([]vector.Hit, error)
	}
	kinds := map[string][2]system{
		"user → items": {
			{"adapter", func(i int) ([]vector.Hit, error) { return st.SearchItems(ctx, queries[i], vectorbench.K) }},
			{"plain", func(i int) ([]vector.Hit, error) { return plainQuery(searchSQL, pgv.NewVector(queries[i])) }},
		},
		"item → items": {
			{"adapter", func(i int) ([]vector.Hit, error) { return st.SimilarItems(ctx, ids[i], vectorbench.K) }},
			{"plain", func(i int) ([]vector.Hit, error) { return plainQuery(similarSQL, ids[i]) }},
		},
	}
	r := &adapterVsSQL{serverCPU: c.pgPID > 0, pglite: ps.pglite, kinds: []string{"user → items", "item → items"},
		adapter: map[string]*sqlTally{}, plain: map[string]*sqlTally{}, same: map[string][2]int{}}
	for _, kind := range r.kinds {
		r.adapter[kind], r.plain[kind] = &sqlTally{}, &sqlTally{}
		// Both must give the same answers.
		sys := kinds[kind]
		n, same := min(50, len(queries)), 0
		for i := range n {
			got, err := sys[0].run(i)
			if err != nil {
				return nil, err
			}
			got = slices.Clone(got)
			want, err := sys[1].run(i)
			if err != nil {
				return nil, err
			}
			if slices.EqualFunc(got, want, func(x, y vector.Hit) bool { return x.ID == y.ID }) {
				same++
			}
		}
		r.same[kind] = [2]int{same, n}
	}
	for round := range c.rounds {
		for _, kind := range r.kinds {
			order := kinds[kind]
			if round%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, s := range order {
				tally := r.adapter[kind]
				if s.name == "plain" {
					tally = r.plain[kind]
				}
				cpu0, srv0, t0 := processCPU(), treeCPU(c.pgPID), time.Now()
				tp, err := vectorbench.RunFunc(len(queries), 1, c.duration, func(i int) error {
					_, err := s.run(i)
					return err
				})
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %w", kind, s.name, err)
				}
				tally.wall += time.Since(t0)
				tally.client += processCPU() - cpu0
				tally.server += treeCPU(c.pgPID) - srv0
				tally.queries += tp.Queries
				a.log.Info("bench vectors: pgvector adapter against plain SQL", "search", kind, "system", s.name, "qps", int(tp.QPS))
			}
		}
	}
	return r, nil
}

func (r *adapterVsSQL) print(w io.Writer, c vectorsBenchConfig) {
	fmt.Fprintf(w, "  pgvector adapter against plain SQL on the same tables (one pgx connection, the one statement a user would write), c = 1, %d rounds of %s alternated:\n", c.rounds, c.duration)
	if r.serverCPU {
		fmt.Fprintln(w, "    CPU-µs per query: this process (client) + the server's process tree")
	} else {
		fmt.Fprintln(w, "    CPU-µs per query: this process (client) only — give --pgvector-pid to count the server's; the wall-clock ratio includes the server")
	}
	if r.pglite {
		fmt.Fprintln(w, "    (PGlite: about 2× slower than native PostgreSQL per query, and its one session is shared by every client of it)")
	}
	fmt.Fprintf(w, "    %-14s %10s %10s %12s %12s %12s %12s %9s %9s %s\n", "", "adapter", "plain", "adapter", "plain", "adapter", "plain", "ratio", "ratio", "identical")
	fmt.Fprintf(w, "    %-14s %10s %10s %12s %12s %12s %12s %9s %9s %s\n", "", "QPS", "QPS", "client µs", "client µs", "total µs", "total µs", "CPU", "wall", "answers")
	for _, kind := range r.kinds {
		ad, pl := r.adapter[kind], r.plain[kind]
		adT, plT := ad.perQuery(ad.client+ad.server), pl.perQuery(pl.client+pl.server)
		same := r.same[kind]
		fmt.Fprintf(w, "    %-14s %10.0f %10.0f %12.1f %12.1f %12.1f %12.1f %9.3f %9.3f %d/%d\n", kind,
			float64(ad.queries)/ad.wall.Seconds(), float64(pl.queries)/pl.wall.Seconds(),
			ad.perQuery(ad.client), pl.perQuery(pl.client), adT, plT, adT/plT,
			ad.perQuery(ad.wall)/pl.perQuery(pl.wall), same[0], same[1])
	}
}
