package seed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/recoflow/recoflow/sample"
	"github.com/recoflow/recoflow/source"
)

// Options tune a seed run.
type Options struct {
	// Replace drops the schema's tables that already exist and creates
	// them again. Without it, a source that holds any of them is refused
	// with a *NotEmptyError.
	Replace bool
	// Progress, when set, is called from the loading goroutine with the
	// rows written so far and the total to write: every few thousand rows,
	// and once at the end. It must return quickly.
	Progress func(done, total int64)
}

// TableStats is what a seed run wrote into one table.
type TableStats struct {
	Table   string
	Rows    int64
	Elapsed time.Duration
}

// Stats summarise a seed run.
type Stats struct {
	// Tables lists every schema table in creation order, empty ones too.
	Tables []TableStats
	// Rows is the total over all tables.
	Rows    int64
	Elapsed time.Duration
}

// Count returns the rows written into the named table.
func (s Stats) Count(table string) int64 {
	for _, t := range s.Tables {
		if t.Table == table {
			return t.Rows
		}
	}
	return 0
}

// ErrNotEmpty is wrapped by *NotEmptyError.
var ErrNotEmpty = errors.New("source already holds schema tables")

// NotEmptyError refuses to seed a source that already holds some of the
// schema's tables, naming them with their row counts.
type NotEmptyError struct {
	Source string              // the redacted source address
	Tables []source.TableCount // the schema tables found, in schema order
}

func (e *NotEmptyError) Error() string {
	parts := make([]string, len(e.Tables))
	for i, t := range e.Tables {
		parts[i] = fmt.Sprintf("%s (%d rows)", t.Table, t.Rows)
	}
	noun := "table"
	if len(parts) > 1 {
		noun = "tables"
	}
	return fmt.Sprintf("source %s already has %s %s; seed with --replace to drop and recreate them",
		e.Source, noun, strings.Join(parts, ", "))
}

// Unwrap makes errors.Is(err, ErrNotEmpty) true.
func (e *NotEmptyError) Unwrap() error { return ErrNotEmpty }

// tableLoad is the content planned for one table.
type tableLoad struct {
	table string
	rows  source.Rows
	count int64 // rows that rows yields
}

// run creates the schema in db and fills it from plan. Tables missing from
// plan stay empty. On failure it drops the tables it created.
func run(ctx context.Context, db *source.DB, opts Options, plan []tableLoad) (Stats, error) {
	start := time.Now()
	existing, err := db.Existing(ctx)
	if err != nil {
		return Stats{}, err
	}
	reverse := source.SchemaNames()
	slices.Reverse(reverse)
	if len(existing) > 0 {
		if !opts.Replace {
			return Stats{}, &NotEmptyError{Source: db.String(), Tables: existing}
		}
		if err := db.DropTables(ctx, reverse...); err != nil {
			return Stats{}, err
		}
	}
	if err := db.CreateTables(ctx, source.Schema()); err != nil {
		dropQuietly(ctx, db, reverse)
		return Stats{}, err
	}

	var total int64
	for _, p := range plan {
		total += p.count
	}
	prog := &progress{fn: opts.Progress, total: total}
	stats := Stats{}
	for _, name := range source.SchemaNames() {
		ts := TableStats{Table: name}
		i := slices.IndexFunc(plan, func(p tableLoad) bool { return p.table == name })
		if i >= 0 && plan[i].count > 0 {
			t0 := time.Now()
			n, err := db.Load(ctx, name, prog.count(plan[i].rows))
			if err == nil && n != plan[i].count {
				err = fmt.Errorf("load %s into %s: stored %d rows, want %d", name, db, n, plan[i].count)
			}
			if err != nil {
				dropQuietly(ctx, db, reverse)
				if ctx.Err() != nil {
					return Stats{}, fmt.Errorf("seed cancelled while loading %s (tables dropped): %w", name, ctx.Err())
				}
				return Stats{}, fmt.Errorf("%w (the seeded tables were dropped)", err)
			}
			ts.Rows, ts.Elapsed = n, time.Since(t0)
		}
		stats.Tables = append(stats.Tables, ts)
		stats.Rows += ts.Rows
	}
	prog.report()
	stats.Elapsed = time.Since(start)
	return stats, nil
}

// dropQuietly removes the tables of a failed run, best effort, even when
// ctx is cancelled.
func dropQuietly(ctx context.Context, db *source.DB, names []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = db.DropTables(ctx, names...)
}

// progress counts rows as loaders pull them and reports every few
// thousand.
type progress struct {
	fn          func(done, total int64)
	done, total int64
}

const progressEvery = 8192

func (p *progress) report() {
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

func (p *progress) count(rows source.Rows) source.Rows {
	return func(yield func([]any, error) bool) {
		for row, err := range rows {
			if err == nil {
				p.done++
				if p.done%progressEvery == 0 {
					p.report()
				}
			}
			if !yield(row, err) {
				return
			}
		}
	}
}

// Classicmodels creates the schema in db and loads the real sample: the
// eight tables of the classicmodels dump (122 customers, 110 products, 326
// orders, 2,996 order lines, …) and the lab's 2,532 ratings.
func Classicmodels(ctx context.Context, db *source.DB, opts Options) (Stats, error) {
	tables, err := sample.Tables()
	if err != nil {
		return Stats{}, err
	}
	var plan []tableLoad
	for _, st := range source.Schema() {
		if st.Name == source.Ratings {
			continue
		}
		i := slices.IndexFunc(tables, func(t sample.Table) bool { return t.Name == st.Name })
		if i < 0 {
			return Stats{}, fmt.Errorf("embedded dump has no table %s", st.Name)
		}
		rows, err := dumpRows(&st, &tables[i])
		if err != nil {
			return Stats{}, err
		}
		plan = append(plan, tableLoad{table: st.Name, rows: rows, count: int64(len(tables[i].Rows))})
	}
	ratings, err := sample.Ratings()
	if err != nil {
		return Stats{}, err
	}
	plan = append(plan, tableLoad{table: source.Ratings, count: int64(len(ratings)), rows: func(yield func([]any, error) bool) {
		row := make([]any, 3)
		for _, r := range ratings {
			row[0], row[1], row[2] = int64(r.CustomerNumber), r.ProductCode, int64(r.ProductRating)
			if !yield(row, nil) {
				return
			}
		}
	}})
	return run(ctx, db, opts, plan)
}

// dumpRows yields the rows of a dump table in the schema's column order.
func dumpRows(st *source.Table, t *sample.Table) (source.Rows, error) {
	idx := make([]int, len(st.Columns))
	for i, c := range st.Columns {
		if idx[i] = t.Column(c.Name); idx[i] < 0 {
			return nil, fmt.Errorf("embedded dump: table %s has no column %s", t.Name, c.Name)
		}
	}
	return func(yield func([]any, error) bool) {
		row := make([]any, len(idx))
		for _, r := range t.Rows {
			for i, j := range idx {
				row[i] = r[j]
			}
			if !yield(row, nil) {
				return
			}
		}
	}, nil
}
