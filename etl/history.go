package etl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// RunInfo describes a committed run whose files are still in the lake.
type RunInfo struct {
	RunID string `json:"run_id"`
	// CommittedAt is when the run was last committed (by its ETL run or by
	// a rollback to it).
	CommittedAt time.Time `json:"committed_at"`
	// Via is "etl" or "rollback": how the run was last committed.
	Via        string    `json:"via"`
	Source     string    `json:"source"`
	StartedAt  time.Time `json:"started_at"`
	Rows       int64     `json:"rows"`
	Partitions int       `json:"partitions"`
	Files      int       `json:"files"`
	Bytes      int64     `json:"bytes"`
	// Current is true for the run that is committed now.
	Current bool `json:"-"`
}

// recordCommit writes the history record of a run just committed.
func recordCommit(ctx context.Context, b lake.Bucket, lay layout, man *training.Manifest, via string, at time.Time) error {
	files := 0
	for _, p := range man.Partitions {
		files += len(p.Files)
	}
	return putJSON(ctx, b, lay.historyKey(man.RunID), RunInfo{
		RunID: man.RunID, CommittedAt: at.UTC(), Via: via, Source: man.Source, StartedAt: man.StartedAt,
		Rows: man.Rows, Partitions: len(man.Partitions), Files: files, Bytes: man.Bytes,
	})
}

// currentRunID returns the id of the committed run, or "" when none.
func currentRunID(ctx context.Context, b lake.BucketReader, lay layout) (string, error) {
	m, err := currentManifest(ctx, b, lay)
	if m == nil {
		return "", err
	}
	return m.RunID, nil
}

// currentManifest returns the committed run's manifest, or nil when the lake
// has none.
func currentManifest(ctx context.Context, b lake.BucketReader, lay layout) (*training.Manifest, error) {
	loc, err := training.LocationOf(ctx, b, lay.dataset)
	if errors.Is(err, training.ErrNoDataset) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := training.ReadManifest(ctx, b, loc)
	if errors.Is(err, training.ErrNoDataset) {
		return nil, nil
	}
	return m, err
}

// Runs lists the committed runs whose files are still in the lake, most
// recently committed first; the current one is marked. Only these can be
// committed again with Rollback. How many are kept is Options.KeepRuns.
func Runs(ctx context.Context, b lake.BucketReader) ([]RunInfo, error) {
	return runsOf(ctx, b, classicLayout)
}

// RunsOf is Runs for the lake dataset named dataset (a spec's
// lake.dataset).
func RunsOf(ctx context.Context, b lake.BucketReader, dataset string) ([]RunInfo, error) {
	return runsOf(ctx, b, layout{dataset})
}

func runsOf(ctx context.Context, b lake.BucketReader, lay layout) ([]RunInfo, error) {
	current, err := currentRunID(ctx, b, lay)
	if err != nil {
		return nil, err
	}
	var keys []string
	if err := b.List(ctx, lay.historyRoot()+"/", func(k string) error {
		if strings.HasSuffix(k, ".json") {
			keys = append(keys, k)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list committed runs in %s: %w", b, err)
	}
	var runs []RunInfo
	for _, k := range keys {
		ri, err := readRunInfo(ctx, b, k)
		if errors.Is(err, lake.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		// A record whose staged manifest is gone is being removed.
		if _, err := b.Attributes(ctx, path.Join(lay.runDir(ri.RunID), training.ManifestName)); err != nil {
			if errors.Is(err, lake.ErrNotFound) {
				continue
			}
			return nil, err
		}
		ri.Current = ri.RunID == current
		runs = append(runs, ri)
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].CommittedAt.Equal(runs[j].CommittedAt) {
			return runs[i].CommittedAt.After(runs[j].CommittedAt)
		}
		return runs[i].RunID > runs[j].RunID
	})
	return runs, nil
}

func readRunInfo(ctx context.Context, b lake.BucketReader, key string) (RunInfo, error) {
	var ri RunInfo
	rc, err := b.Get(ctx, key)
	if err != nil {
		return ri, err
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(&ri); err != nil {
		return ri, fmt.Errorf("run record %s in %s: %w", key, b, err)
	}
	return ri, nil
}

// keepSet returns the staged run prefixes that the clean-up at the start of
// run ours must leave: ours, the committed one (readers may be on it), and
// the keepRuns-1 most recently committed others, so that once ours commits
// keepRuns earlier runs remain for Rollback.
func keepSet(ctx context.Context, b lake.Bucket, lay layout, ours string, keepRuns int) (map[string]bool, error) {
	keep := map[string]bool{lay.runDir(ours): true}
	if l, ok := b.(lake.Linker); ok {
		current, err := l.Resolve(ctx, lay.dataset)
		if err != nil && !errors.Is(err, lake.ErrNotFound) {
			return nil, err
		}
		if err == nil {
			keep[current] = true
		}
	}
	runs, err := runsOf(ctx, b, lay)
	if err != nil {
		return nil, err
	}
	others := 0
	for _, r := range runs {
		switch {
		case r.Current:
			keep[lay.runDir(r.RunID)] = true
		case others < keepRuns-1:
			keep[lay.runDir(r.RunID)] = true
			others++
		}
	}
	return keep, nil
}

// RollbackSummary describes a finished rollback.
type RollbackSummary struct {
	// RunID is the run committed again; Replaced the run it replaced.
	RunID, Replaced string
	Rows            int64
	Partitions      int
	ManifestKey     string
	Duration        time.Duration
}

// ErrNoRun is wrapped by Rollback's error when the run asked for is not a
// committed run still in the lake (see Runs).
var ErrNoRun = errors.New("no run to roll back to")

// Rollback commits again a run that Runs lists — runID, or when empty the
// most recently committed run before the current one — after checking
// that every file its manifest lists is still there. It holds the
// dataset's lease like a run, so it never interleaves with one, and
// removes nothing: the run it replaces stays listed and can be restored
// the same way. Only Log, Uploaders, Now, LeaseTTL and Spec (its
// lake.dataset names the dataset) of opts are used.
func Rollback(ctx context.Context, b lake.Bucket, runID string, opts Options) (*RollbackSummary, error) {
	opts = opts.withDefaults()
	start := opts.Now()
	lay := opts.layout()
	lease, err := takeLease(ctx, b, lay, "recoflow etl rollback to "+cmpOr(runID, "the previous run"), opts.LeaseTTL, opts.Log)
	if err != nil {
		return nil, err
	}
	defer lease.release(opts.Log)
	ctx, stopWatching := withLease(ctx, lease)
	defer stopWatching()
	sum, err := rollback(ctx, b, lay, runID, opts, lease, start)
	return sum, leaseCause(ctx, err)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func rollback(ctx context.Context, b lake.Bucket, lay layout, runID string, opts Options, lease *runLease, start time.Time) (*RollbackSummary, error) {
	runs, err := runsOf(ctx, b, lay)
	if err != nil {
		return nil, err
	}
	var target, current *RunInfo
	for i := range runs {
		r := &runs[i]
		if r.Current {
			current = r
		}
		if runID == "" && !r.Current && target == nil {
			target = r
		}
		if runID != "" && r.RunID == runID {
			target = r
		}
	}
	if target == nil {
		if runID == "" {
			return nil, fmt.Errorf("%w: %s holds no committed run before the current one (see `recoflow etl runs`; keep more with --keep-runs)", ErrNoRun, b)
		}
		return nil, fmt.Errorf("%w: run %s is not among the committed runs still in %s (see `recoflow etl runs`)", ErrNoRun, runID, b)
	}
	if target.Current {
		return nil, fmt.Errorf("run %s is already the committed run", target.RunID)
	}
	staging := lay.runDir(target.RunID)
	man, err := training.ReadManifest(ctx, b, staging)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", target.RunID, err)
	}
	if man.RunID != target.RunID {
		return nil, fmt.Errorf("run %s: its staged manifest names run %s", target.RunID, man.RunID)
	}
	if err := checkStagedFiles(ctx, b, staging, man); err != nil {
		return nil, fmt.Errorf("cannot roll back to run %s: %w", target.RunID, err)
	}
	manifestKey, err := publish(ctx, b, lay, staging, man.RunID, man, opts, lease.check)
	if err != nil {
		return nil, fmt.Errorf("commit run %s again: %w", man.RunID, err)
	}
	if err := recordCommit(ctx, b, lay, man, "rollback", opts.Now()); err != nil {
		opts.Log.Warn("etl rollback committed but could not record it", "run_id", man.RunID, "err", err)
	}
	sum := &RollbackSummary{RunID: man.RunID, Rows: man.Rows, Partitions: len(man.Partitions),
		ManifestKey: manifestKey, Duration: opts.Now().Sub(start)}
	if current != nil {
		sum.Replaced = current.RunID
	}
	opts.Log.Info("etl rollback committed", "run_id", sum.RunID, "replaced", sum.Replaced, "rows", sum.Rows)
	return sum, nil
}

// checkStagedFiles checks that every file the manifest lists is staged,
// with one listing of the run's prefix rather than a request per file.
func checkStagedFiles(ctx context.Context, b lake.BucketReader, staging string, man *training.Manifest) error {
	want := map[string]bool{}
	for _, p := range man.Partitions {
		for _, f := range p.Files {
			want[f.Path] = true
		}
	}
	if c := man.Catalog; c != nil {
		want[c.Customers] = true
		want[c.Products] = true
	}
	err := b.List(ctx, staging+"/", func(key string) error {
		delete(want, strings.TrimPrefix(key, staging+"/"))
		return nil
	})
	if err != nil {
		return err
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for rel := range want {
			missing = append(missing, rel)
		}
		sort.Strings(missing)
		return fmt.Errorf("%d of its files are gone from %s, first %s: %w", len(missing), staging, missing[0], lake.ErrNotFound)
	}
	return nil
}
