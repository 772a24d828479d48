package etl

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
	"golang.org/x/sync/errgroup"
)

// publish makes the staged run the committed dataset and returns the key of
// its manifest. See the package documentation for the protocol.
//
// held reports whether the run still holds its lease; it is asked right
// before the commit point.
func publish(ctx context.Context, b lake.Bucket, lay layout, staging, runID string, man *training.Manifest, opts Options, held func() error) (string, error) {
	if l, ok := b.(lake.Linker); ok {
		if err := held(); err != nil {
			return "", err
		}
		if err := l.Link(ctx, staging, lay.dataset); err != nil {
			return "", err
		}
		// The previous run stays for readers still on it; the next run
		// removes it when it starts.
		return path.Join(lay.dataset, training.ManifestName), nil
	}

	// Object stores: copy the run's files into place (their names carry the
	// run id, so they never overwrite the previous run's), commit by writing
	// the manifest, then delete everything the manifest does not list.
	live := map[string]bool{}
	var keys []string
	for _, p := range man.Partitions {
		for _, f := range p.Files {
			live[path.Join(lay.dataset, f.Path)] = true
			keys = append(keys, f.Path)
		}
	}
	if c := man.Catalog; c != nil {
		for _, rel := range []string{c.Customers, c.Products} {
			live[path.Join(lay.dataset, rel)] = true
			keys = append(keys, rel)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Uploaders * 2)
	for _, rel := range keys {
		g.Go(func() error {
			return copyObject(gctx, b, path.Join(staging, rel), path.Join(lay.dataset, rel))
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	manifestKey := path.Join(lay.dataset, training.ManifestName)
	if err := held(); err != nil {
		return "", err
	}
	if err := putJSON(ctx, b, manifestKey, man); err != nil {
		return "", fmt.Errorf("commit manifest: %w", err)
	}
	live[manifestKey] = true
	var stale []string
	err := b.List(ctx, lay.dataset+"/", func(key string) error {
		if !live[key] {
			stale = append(stale, key)
		}
		return nil
	})
	if err == nil {
		err = deleteKeys(ctx, b, stale, opts.Uploaders*2)
	}
	// The run's staged copy stays: it is what Rollback commits again. The
	// clean-up of later runs removes it past Options.KeepRuns.
	if err != nil {
		opts.Log.Warn("etl committed but could not remove old files", "err", err)
	}
	return manifestKey, nil
}

func copyObject(ctx context.Context, b lake.Bucket, src, dst string) error {
	if c, ok := b.(lake.Copier); ok {
		if err := c.Copy(ctx, src, dst); err != nil {
			return fmt.Errorf("copy %s to %s: %w", src, dst, err)
		}
		return nil
	}
	rc, err := b.Get(ctx, src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer rc.Close()
	if err := b.Put(ctx, dst, rc); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// gcRuns deletes staged runs whose prefix is not in keep: runs that failed
// or were killed, and committed runs that are no longer current.
//
// held reports whether the caller still holds the dataset's lease; gcRuns
// stops, deleting nothing more, as soon as it does not.
func gcRuns(ctx context.Context, b lake.Bucket, lay layout, keep map[string]bool, opts Options, held func() error) error {
	stagingRoot, historyRoot := lay.runsRoot(), lay.historyRoot()
	// Where whole prefixes can be deleted, only the run names are kept in
	// memory, not every key of every old run.
	pd, wholePrefixes := b.(lake.PrefixDeleter)
	byRun := map[string][]string{}
	var order []string
	err := b.List(ctx, stagingRoot+"/", func(key string) error {
		rest := strings.TrimPrefix(key, stagingRoot+"/")
		run, _, _ := strings.Cut(rest, "/")
		prefix := path.Join(stagingRoot, run)
		if keep[prefix] {
			return nil
		}
		if _, seen := byRun[prefix]; !seen {
			order = append(order, prefix)
			byRun[prefix] = nil
		}
		if !wholePrefixes {
			byRun[prefix] = append(byRun[prefix], key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Records of runs that are no longer staged.
	var orphans []string
	err = b.List(ctx, historyRoot+"/", func(key string) error {
		run := strings.TrimSuffix(path.Base(key), ".json")
		if !keep[path.Join(stagingRoot, run)] {
			if _, staged := byRun[path.Join(stagingRoot, run)]; !staged {
				orphans = append(orphans, key)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := held(); err != nil {
		return err
	}
	if err := deleteKeys(ctx, b, orphans, opts.Uploaders*2); err != nil {
		return err
	}
	for _, prefix := range order {
		if err := held(); err != nil {
			return err
		}
		// The run's record goes first: a run half removed is never offered
		// for rollback.
		if err := b.Delete(ctx, lay.historyKey(path.Base(prefix))); err != nil {
			return err
		}
		if wholePrefixes {
			err = pd.DeletePrefix(ctx, prefix)
		} else {
			err = deleteKeys(ctx, b, byRun[prefix], opts.Uploaders*2)
		}
		if err != nil {
			return err
		}
		opts.Log.Debug("etl removed old run", "prefix", prefix)
	}
	return nil
}

func deletePrefix(ctx context.Context, b lake.Bucket, prefix string, workers int) error {
	var keys []string
	if err := b.List(ctx, prefix, func(key string) error { keys = append(keys, key); return nil }); err != nil {
		return err
	}
	return deleteKeys(ctx, b, keys, workers)
}

func deleteKeys(ctx context.Context, b lake.Bucket, keys []string, workers int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, k := range keys {
		g.Go(func() error { return b.Delete(gctx, k) })
	}
	return g.Wait()
}

func deleteRun(ctx context.Context, b lake.Bucket, prefix string, opts Options) error {
	if pd, ok := b.(lake.PrefixDeleter); ok {
		return pd.DeletePrefix(ctx, prefix)
	}
	return deletePrefix(ctx, b, prefix+"/", opts.Uploaders*2)
}
