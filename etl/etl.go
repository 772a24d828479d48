package etl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/training"
	"golang.org/x/sync/errgroup"
)

// BadRowPolicy says what a run does with a row that cannot be training data.
type BadRowPolicy string

// The bad-row policies.
const (
	// Quarantine keeps bad rows out, counts them and writes them with the
	// reason to the run's rejects file. The run succeeds.
	Quarantine BadRowPolicy = "quarantine"
	// Fail stops the run at the first bad row; nothing is committed.
	Fail BadRowPolicy = "fail"
)

// ParseBadRowPolicy parses "quarantine" or "fail".
func ParseBadRowPolicy(s string) (BadRowPolicy, error) {
	switch p := BadRowPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case Quarantine, Fail:
		return p, nil
	}
	return "", fmt.Errorf("%q is not a bad-row policy: want quarantine or fail", s)
}

// Progress is a snapshot of a running ETL.
type Progress struct {
	Rows     int64 // rows read from the source so far (good and rejected)
	Rejected int64
	// Total is the number of ratings in the source, or 0 while unknown.
	Total   int64
	Elapsed time.Duration
}

// Options tune a run. The zero value is usable.
type Options struct {
	// OnBadRows is the bad-row policy; empty means Quarantine.
	OnBadRows BadRowPolicy
	// Log receives structured log lines; nil discards them.
	Log *slog.Logger
	// Progress, when set, is called about every ProgressInterval from a
	// separate goroutine, and once at the end.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// RunID names the run; empty means a new random id.
	RunID string
	// MaxFileBytes starts a new Parquet file in a partition once the current
	// one has grown past it. Default 64 MiB.
	MaxFileBytes int64
	// Uploaders is the number of concurrent file uploads. Default 4.
	Uploaders int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// GCWait bounds how long a committed run waits for the removal of old
	// runs (which starts with the run) to finish. Default 1 s.
	GCWait time.Duration
	// AllowEmpty lets a run commit a dataset of zero rows; without it such
	// a run fails with ErrRefused and the previous dataset stays.
	AllowEmpty bool
	// MaxShrink is the largest fraction of the committed dataset's rows a
	// run may lose (0.5: a run may commit no fewer than half as many rows);
	// a run that would shrink it more fails with ErrRefused. 0 means the
	// default 0.5; 1 or more disables the check.
	MaxShrink float64
	// KeepRuns is how many earlier committed runs stay in the lake, besides
	// the one a run commits, for Rollback. Default (and minimum) 1. Each
	// costs its size in the lake (on S3 the current run's files are also
	// kept twice: in the dataset and in its staged copy).
	KeepRuns int
	// LeaseTTL is how long the run's lease on the dataset (see LeaseName)
	// outlives its last renewal on a lake where leases expire (S3); the
	// lease is renewed every third of it. Default 1 minute.
	LeaseTTL time.Duration
	// AfterStage, when set, is called after the data and the manifest are
	// staged and before the run is published. Tests use it to fail or stop
	// a run at that point.
	AfterStage func(ctx context.Context) error
	// Spec is the dataset spec the run follows; nil means the built-in
	// classicmodels spec (dataset.Classic). See SpecRun for what a spec
	// other than the built-in one writes.
	Spec *dataset.Spec
}

// layout returns where the run's dataset lives in the lake.
func (o Options) layout() layout {
	if o.Spec == nil {
		return classicLayout
	}
	s := o.Spec.WithDefaults()
	return layout{s.Lake.Dataset}
}

// Summary describes a finished run.
type Summary struct {
	RunID      string
	Rows       int64 // rows written to the training dataset
	Rejected   int64
	Rejects    map[string]int64 // rejected rows by kind
	Partitions int
	Files      int
	Bytes      int64
	Duration   time.Duration
	// ManifestKey is the lake key of the committed manifest.
	ManifestKey string
	// RejectsKey is the lake key of the rejects file, empty when none.
	RejectsKey string
	// Customers and Products are the numbers of rows of the catalogue
	// committed with the run; CatalogRejected counts catalogue rows kept
	// out (they are in the rejects file too).
	Customers, Products int64
	CatalogRejected     int64
}

// BadRowError is returned under the Fail policy for the first bad row.
type BadRowError struct {
	Reject Reject
	// Spec is the bad row of a spec other than the built-in one; Reject is
	// then empty.
	Spec *SpecReject
}

func (e *BadRowError) Error() string {
	if r := e.Spec; r != nil {
		return fmt.Sprintf("bad row (user %s, item %s): %s (--on-bad-rows=fail stops at the first bad row; quarantine keeps going)",
			deref(r.User), deref(r.Item), r.Reason)
	}
	if e.Reject.Table == source.Customers {
		return fmt.Sprintf("bad customers row (customerNumber=%s): %s (--on-bad-rows=fail stops at the first bad row; quarantine keeps going)",
			deref(e.Reject.CustomerNumber), e.Reject.Reason)
	}
	if e.Reject.Table == source.Products {
		return fmt.Sprintf("bad products row (productCode=%s): %s (--on-bad-rows=fail stops at the first bad row; quarantine keeps going)",
			deref(e.Reject.ProductCode), e.Reject.Reason)
	}
	return fmt.Sprintf("bad row (customerNumber=%s, productCode=%s): %s (--on-bad-rows=fail stops at the first bad row; quarantine keeps going)",
		deref(e.Reject.CustomerNumber), deref(e.Reject.ProductCode), e.Reject.Reason)
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// RejectsPrefix is where rejected rows are written, one file per run.
const RejectsPrefix = "rejects/" + training.Dataset

// NewRunID returns a fresh run id: a UTC timestamp and random suffix, so
// that run ids sort by start time.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Run extracts the training join from db and commits it as a new training
// dataset in b. It blocks until the run is committed, fails, or ctx is
// cancelled; in the last two cases the previous dataset is left as it was.
// Repeating a run is safe: each run replaces the dataset as a whole.
func Run(ctx context.Context, db *source.DB, b lake.Bucket, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	log := opts.Log
	start := opts.Now()
	runID := opts.RunID
	if runID == "" {
		runID = NewRunID(start)
	}
	log.Info("etl starting", "run_id", runID, "source", db.String(), "lake", b.String(), "on_bad_rows", string(opts.OnBadRows))

	spec := dataset.Classic()
	if opts.Spec != nil {
		spec = opts.Spec.WithDefaults()
	}
	var plan *specPlan
	if isClassic(&spec) {
		if err := Preflight(ctx, db); err != nil {
			return nil, err
		}
	} else {
		// The spec against the source, before the lake is touched or a row
		// read: tables, columns, types.
		p, err := newSpecPlan(ctx, db, &spec)
		if err != nil {
			return nil, err
		}
		plan = p
	}
	lay := layout{spec.Lake.Dataset}
	// One writer per lake and dataset: the lease is held until the run has
	// committed (or failed) and stops the run if it is lost.
	lease, err := takeLease(ctx, b, lay, "recoflow etl run "+runID, opts.LeaseTTL, log)
	if err != nil {
		return nil, err
	}
	defer lease.release(log)
	ctx, stopWatching := withLease(ctx, lease)
	defer stopWatching()

	st := &state{
		opts:    opts,
		bucket:  b,
		lease:   lease,
		runID:   runID,
		staging: lay.runDir(runID),
		lay:     lay,
		spec:    &spec,
		plan:    plan,
		start:   start,
		rejects: map[string]int64{},
	}
	sum, err := st.run(ctx, db)
	return sum, leaseCause(ctx, err)
}

// run does the work of Run under the lease.
func (st *state) run(ctx context.Context, db *source.DB) (*Summary, error) {
	opts, log, b, runID, start := st.opts, st.opts.Log, st.bucket, st.runID, st.start
	// The marker makes the run visible to the clean-up of later runs even if
	// this process dies before it writes any data file.
	if err := putJSON(ctx, b, path.Join(st.staging, startedName), st.startedMarker()); err != nil {
		return nil, fmt.Errorf("start run in %s: %w", b, err)
	}
	// Remove old runs while the data flows: everything staged except this
	// run and the committed one, which readers may be reading.
	// It runs on a context of its own: a run that fails still lets it
	// finish, and a process that exits cuts it short harmlessly (the next
	// run removes the rest). It stops when the run gives up its lease:
	// only the lease holder may remove staged runs.
	gcDone := make(chan error, 1)
	go func() { gcDone <- st.removeOldRuns(context.WithoutCancel(ctx)) }()

	stopProgress := st.startProgress(ctx, db)
	err := st.extract(ctx, db)
	stopProgress()
	if err != nil {
		st.abandon()
		return nil, err
	}
	extracted := opts.Now()
	if err := st.guard(ctx); err != nil {
		st.abandon()
		return nil, err
	}

	if bp, ok := b.(lake.BatchPutter); ok {
		if err := bp.Sync(ctx); err != nil {
			st.abandon()
			return nil, fmt.Errorf("make staged files durable: %w", err)
		}
		st.timings["sync"] = opts.Now().Sub(extracted).Round(time.Millisecond).String()
	}
	man := st.manifest(db, extracted)
	if err := putJSON(ctx, b, path.Join(st.staging, training.ManifestName), man); err != nil {
		st.abandon()
		return nil, fmt.Errorf("stage manifest: %w", err)
	}
	if opts.AfterStage != nil {
		if err := opts.AfterStage(ctx); err != nil {
			st.abandon()
			return nil, err
		}
	}
	manifestKey, err := publish(ctx, b, st.lay, st.staging, runID, man, opts, st.lease.check)
	if err != nil {
		return nil, fmt.Errorf("publish run %s: %w", runID, err)
	}
	if err := recordCommit(ctx, b, st.lay, man, "etl", opts.Now()); err != nil {
		log.Warn("etl committed but could not record the run for rollback", "run_id", runID, "err", err)
	}
	// Old runs are usually gone by now; on a slow disk give the removal a
	// little more time, then leave the rest to the next run.
	select {
	case gcErr := <-gcDone:
		if gcErr != nil {
			log.Warn("etl could not remove old runs", "err", gcErr)
		}
	case <-time.After(opts.GCWait):
		log.Info("etl leaves the removal of old runs to the next run", "waited", opts.GCWait.String())
	}
	sum := &Summary{
		RunID: runID, Rows: man.Rows, Rejected: man.Rejected, Rejects: st.rejects,
		Partitions: len(man.Partitions), Files: st.files, Bytes: man.Bytes,
		Duration: opts.Now().Sub(start), ManifestKey: manifestKey, RejectsKey: man.Rejects,
		CatalogRejected: st.catalogRejected,
	}
	if c := man.Catalog; c != nil {
		sum.Customers, sum.Products = c.CustomerRows, c.ProductRows
	}
	log.Info("etl committed", "run_id", runID, "rows", sum.Rows, "rejected", sum.Rejected,
		"partitions", sum.Partitions, "files", sum.Files, "bytes", sum.Bytes, "duration", sum.Duration.Round(time.Millisecond).String(),
		"manifest", manifestKey)
	return sum, nil
}

func (o Options) withDefaults() Options {
	if o.OnBadRows == "" {
		o.OnBadRows = Quarantine
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 2 * time.Second
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 64 << 20
	}
	if o.Uploaders <= 0 {
		o.Uploaders = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GCWait <= 0 {
		o.GCWait = time.Second
	}
	if o.MaxShrink <= 0 {
		o.MaxShrink = DefaultMaxShrink
	}
	if o.KeepRuns < 1 {
		o.KeepRuns = 1
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = time.Minute
	}
	return o
}

// ErrNotSeeded is wrapped by Preflight's error when the source lacks the
// shop's tables altogether: nothing was loaded into it yet.
var ErrNotSeeded = errors.New("the source holds none of the shop's tables")

// Preflight checks that the source has every table and column the join
// reads, and names the first one missing. A source without any of them
// gives an error wrapping ErrNotSeeded that says to run recoflow seed.
func Preflight(ctx context.Context, db *source.DB) error {
	for _, t := range requiredColumns {
		// Identifiers come from the constant list above, never from input.
		if _, err := db.SQL.ExecContext(ctx, "SELECT 1 FROM "+t.table+" WHERE 1=0"); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if existing, lerr := db.Existing(ctx); lerr == nil && len(existing) == 0 {
				return fmt.Errorf("source %s: %w (no table %s): run `recoflow seed` with the same --source to load the sample, or point --source at the shop's database", db, ErrNotSeeded, t.table)
			}
			return fmt.Errorf("source %s: table %s is missing or unreadable: %w", db, t.table, err)
		}
		for _, c := range t.columns {
			rows, err := db.SQL.QueryContext(ctx, "SELECT "+c+" FROM "+t.table+" WHERE 1=0")
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("source %s: table %s has no column %s: %w", db, t.table, c, err)
			}
			rows.Close()
		}
	}
	return nil
}

// CheckSource checks that the source holds what a run of spec s reads,
// before any row is read: Preflight for the built-in spec (nil or
// equivalent to dataset.Classic), dataset.Check for any other, whose
// errors name the spec's keys. Run does the same; callers use it to fail
// before they open (and so create) a lake.
func CheckSource(ctx context.Context, db *source.DB, s *dataset.Spec) error {
	if s == nil {
		return Preflight(ctx, db)
	}
	d := s.WithDefaults()
	if isClassic(&d) {
		return Preflight(ctx, db)
	}
	return dataset.Check(ctx, db, &d)
}

// state is one run in progress.
type state struct {
	opts    Options
	bucket  lake.Bucket
	lease   *runLease
	runID   string
	staging string
	start   time.Time
	lay     layout
	spec    *dataset.Spec // with defaults
	plan    *specPlan     // nil on the built-in spec's own path

	rowsRead atomic.Int64
	rejected atomic.Int64
	total    atomic.Int64

	rejects    map[string]int64
	rejectsKey string
	partitions []training.Partition
	files      int
	bytes      int64
	rows       int64
	timings    map[string]string

	catalog         *training.CatalogFiles
	catalogRejected int64
}

// startedName is the marker object a run writes first in its staging prefix.
const startedName = "_STARTED"

func (st *state) removeOldRuns(ctx context.Context) error {
	keep, err := keepSet(ctx, st.bucket, st.lay, st.runID, st.opts.KeepRuns)
	if err != nil {
		return err
	}
	return gcRuns(ctx, st.bucket, st.lay, keep, st.opts, st.lease.check)
}

// startedMarker is the content of a run's _STARTED marker: which process
// owns the staged run.
func (st *state) startedMarker() map[string]any {
	host, _ := os.Hostname()
	return map[string]any{"run_id": st.runID, "started_at": st.start.UTC(), "host": host, "pid": os.Getpid()}
}

// abandon removes what a failed run staged, best effort: the next
// successful run removes anything left behind.
func (st *state) abandon() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := deleteRun(ctx, st.bucket, st.staging, st.opts); err != nil {
		st.opts.Log.Warn("etl could not remove staged files of failed run", "run_id", st.runID, "err", err)
	}
	if st.rejectsKey != "" {
		_ = st.bucket.Delete(ctx, st.rejectsKey)
	}
}

func (st *state) startProgress(ctx context.Context, db *source.DB) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	// The number of ratings, only for the ETA: MySQL's table statistics
	// when there are some (free, approximate), else a count beside the
	// main query (SQLite counts fast; on MySQL it would compete with the
	// join for the server).
	table := st.spec.Interactions.Table
	go func() {
		if table == "" {
			return // a query: its size is not known in advance
		}
		var n int64
		err := db.SQL.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).Scan(&n)
		if err != nil || n <= 0 {
			err = db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db.Quote(table)).Scan(&n)
		}
		if err == nil {
			st.total.Store(n)
		}
	}()
	go func() {
		defer close(done)
		if st.opts.Progress == nil {
			return
		}
		t := time.NewTicker(st.opts.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				st.opts.Progress(st.progress())
				return
			case <-t.C:
				st.opts.Progress(st.progress())
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (st *state) progress() Progress {
	return Progress{Rows: st.rowsRead.Load(), Rejected: st.rejected.Load(), Total: st.total.Load(), Elapsed: st.opts.Now().Sub(st.start)}
}

// extract runs the join and writes the staged Parquet files and rejects.
func (st *state) extract(ctx context.Context, db *source.DB) error {
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []training.Record, 4)
	files := make(chan stagedFile, st.opts.Uploaders)
	rej := newRejectsWriter(ctx, st.bucket, path.Join(st.lay.rejectsPrefix(), st.runID+".ndjson"))
	if st.plan != nil {
		return st.extractSpec(ctx, db, rej)
	}

	put := st.stagedPut()
	queryStart := st.opts.Now()
	var queryDone, catalogDone time.Time
	g.Go(func() error {
		err := func() error {
			defer close(batches)
			return st.read(gctx, db, batches, rej)
		}()
		queryDone = st.opts.Now()
		if err != nil {
			return err
		}
		// The catalogue follows the ratings on the same connection and
		// rejects writer; it is small next to the join.
		st.catalog, err = st.exportCatalog(gctx, db, put, rej)
		catalogDone = st.opts.Now()
		return err
	})
	w := newPartitionWriter(st.staging, st.runID, st.opts.MaxFileBytes)
	g.Go(func() error {
		defer close(files)
		return w.run(gctx, batches, files)
	})
	st.startUploaders(gctx, g, files, put)
	if err := st.finishExtract(ctx, g, rej); err != nil {
		return err
	}
	st.partitions = w.partitions
	st.files = w.files
	st.bytes = w.bytes
	st.rows = w.rows
	st.timings = map[string]string{
		"extract": queryDone.Sub(queryStart).Round(time.Millisecond).String(),
		"catalog": catalogDone.Sub(queryDone).Round(time.Millisecond).String(),
		"write":   st.opts.Now().Sub(queryStart).Round(time.Millisecond).String(),
	}
	return nil
}

// stagedPut returns what writes a staged file: on a lake.BatchPutter its
// PutUnsynced (made durable by one Sync before the manifest), else Put.
func (st *state) stagedPut() putFunc {
	if bp, ok := st.bucket.(lake.BatchPutter); ok {
		return bp.PutUnsynced
	}
	return st.bucket.Put
}

// startUploaders starts, in g, Options.Uploaders goroutines that write
// every staged file of files with put.
func (st *state) startUploaders(gctx context.Context, g *errgroup.Group, files <-chan stagedFile, put putFunc) {
	for i := 0; i < st.opts.Uploaders; i++ {
		g.Go(func() error {
			for f := range files {
				if err := put(gctx, f.key, f.data); err != nil {
					return fmt.Errorf("write %s: %w", f.key, err)
				}
			}
			return nil
		})
	}
}

// finishExtract waits for the extraction's goroutines, closes the rejects
// (keeping them only when the extraction succeeded) and records their
// key; it returns the extraction's error, a cancellation saying so.
func (st *state) finishExtract(ctx context.Context, g *errgroup.Group, rej *rejectsWriter) error {
	err := g.Wait()
	rejKey, rejErr := rej.close(err == nil)
	if err == nil && rejErr != nil {
		err = fmt.Errorf("write rejects: %w", rejErr)
	}
	st.rejectsKey = rejKey
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("etl cancelled: %w", ctx.Err())
	}
	return err
}

// read streams the join, converts and validates rows, and sends them in
// batches to the partition writer.
func (st *state) read(ctx context.Context, db *source.DB, out chan<- []training.Record, rej *rejectsWriter) error {
	rows, err := db.SQL.QueryContext(ctx, joinQuery)
	if err != nil {
		return fmt.Errorf("query source %s: %w", db, err)
	}
	defer rows.Close()
	const batchSize = 1024
	batch := make([]training.Record, 0, batchSize)
	var sr scanRow
	dest := sr.dest()
	in := interner{}
	var n, bad int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read source row %d: %w", n+1, err)
		}
		n++
		batch = append(batch, training.Record{})
		if r := sr.convert(&batch[len(batch)-1], in); r != nil {
			batch = batch[:len(batch)-1]
			bad++
			st.rejected.Store(bad)
			if st.opts.OnBadRows == Fail {
				return &BadRowError{Reject: *r}
			}
			st.rejects[r.Kind]++
			if err := rej.write(r); err != nil {
				return fmt.Errorf("write rejects: %w", err)
			}
		}
		if len(batch) == batchSize {
			st.rowsRead.Store(n)
			if err := sendBatch(ctx, out, batch); err != nil {
				return err
			}
			batch = make([]training.Record, 0, batchSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read source %s after %d rows: %w", db, n, err)
	}
	st.rowsRead.Store(n)
	if len(batch) > 0 {
		return sendBatch(ctx, out, batch)
	}
	return nil
}

func (st *state) manifest(db *source.DB, finished time.Time) *training.Manifest {
	schema, partCol := training.Schema, ""
	if st.plan != nil {
		sort.Slice(st.partitions, func(i, j int) bool { return st.partitions[i].Dir < st.partitions[j].Dir })
		schema, partCol = st.plan.manifestSchema(), st.spec.Lake.Partition
	} else {
		sort.Slice(st.partitions, func(i, j int) bool { return st.partitions[i].CustomerNumber < st.partitions[j].CustomerNumber })
	}
	return &training.Manifest{
		Dataset:         st.lay.dataset,
		Spec:            st.spec.Name,
		SpecHash:        dataset.Hash(st.spec),
		PartitionColumn: partCol,
		RunID:           st.runID,
		Source:          db.String(),
		StartedAt:       st.start.UTC(),
		FinishedAt:      finished.UTC(),
		Rows:            st.rows,
		Rejected:        st.rejected.Load(),
		Bytes:           st.bytes,
		Schema:          schema,
		Partitions:      st.partitions,
		Timings:         st.timings,
		Rejects:         st.rejectsKey,
		Catalog:         st.catalog,
	}
}

var errStop = errors.New("stop")

// DefaultMaxShrink is the default of Options.MaxShrink.
const DefaultMaxShrink = 0.5

// ErrRefused is wrapped by the error of a run that would have committed an
// empty dataset, or one that shrinks the committed dataset by more than
// Options.MaxShrink. Nothing is committed; the previous dataset stays.
var ErrRefused = errors.New("run refused")

// guard refuses a run that would commit zero rows, or lose more than
// MaxShrink of the committed dataset's rows, unless the options allow it.
func (st *state) guard(ctx context.Context) error {
	prev, err := currentManifest(ctx, st.bucket, st.lay)
	if err != nil {
		return fmt.Errorf("read the committed dataset to compare: %w", err)
	}
	if st.rows == 0 {
		if st.opts.AllowEmpty {
			return nil
		}
		instead := ""
		if prev != nil {
			instead = fmt.Sprintf(" in place of run %s (%s rows)", prev.RunID, thousands(prev.Rows))
		}
		return fmt.Errorf("%w: the run would commit an empty dataset (0 rows, %s rejected)%s; is the source's ratings table empty? Use --allow-empty to commit it anyway",
			ErrRefused, thousands(st.rejected.Load()), instead)
	}
	if prev == nil || prev.Rows == 0 || st.opts.MaxShrink >= 1 {
		return nil
	}
	lost := float64(prev.Rows-st.rows) / float64(prev.Rows)
	if lost > st.opts.MaxShrink {
		return fmt.Errorf("%w: the run would shrink the dataset from %s rows (run %s) to %s, %.0f%% fewer, more than --max-shrink %s allows; raise --max-shrink (1 disables the check) to commit it",
			ErrRefused, thousands(prev.Rows), prev.RunID, thousands(st.rows), lost*100, strconv.FormatFloat(st.opts.MaxShrink, 'f', -1, 64))
	}
	return nil
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
