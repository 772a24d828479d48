package etl_test

import (
	"context"
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// TestEmptyRunRefused: a run from an empty ratings table does not replace
// a good dataset (nor commit a first, empty one) unless allowed.
func TestEmptyRunRefused(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	if _, err := db.SQL.Exec("DELETE FROM ratings"); err != nil {
		t.Fatal(err)
	}
	_, err := etl.Run(ctx, db, fileLake(t), etl.Options{})
	if !errors.Is(err, etl.ErrRefused) || !strings.Contains(err.Error(), "empty dataset") {
		t.Fatalf("first run from an empty table: %v, want refused", err)
	}
	// Restore the ratings from a fresh seed for the good run.
	good := sqliteSource(t)
	seedClassic(t, good)
	first, err := etl.Run(ctx, good, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = etl.Run(ctx, db, b, etl.Options{})
	if !errors.Is(err, etl.ErrRefused) {
		t.Fatalf("empty run over a good dataset: %v, want ErrRefused", err)
	}
	for _, want := range []string{"empty dataset (0 rows", "in place of run " + first.RunID + " (2,532 rows)", "--allow-empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	got, m := readDataset(t, b)
	if m.RunID != first.RunID || len(got) != 2532 {
		t.Fatalf("after a refused run: run %s with %d rows, want %s with 2532", m.RunID, len(got), first.RunID)
	}
	assertNoStagedRunsBut(t, b, first.RunID)
	sum, err := etl.Run(ctx, db, b, etl.Options{AllowEmpty: true})
	if err != nil {
		t.Fatalf("empty run with AllowEmpty: %v", err)
	}
	got, m = readDataset(t, b)
	if m.RunID != sum.RunID || len(got) != 0 {
		t.Fatalf("with AllowEmpty: run %s with %d rows, want %s with 0", m.RunID, len(got), sum.RunID)
	}
}

// TestShrinkRefused: a run that would lose more than MaxShrink of the
// committed rows is refused; a smaller loss, or a larger MaxShrink, passes.
func TestShrinkRefused(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	first, err := etl.Run(ctx, db, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 2,532 → 898 rows: 65% fewer.
	if _, err := db.SQL.Exec("DELETE FROM ratings WHERE customerNumber > 200"); err != nil {
		t.Fatal(err)
	}
	_, err = etl.Run(ctx, db, b, etl.Options{})
	if !errors.Is(err, etl.ErrRefused) || !strings.Contains(err.Error(), "from 2,532 rows (run "+first.RunID+") to 898, 65% fewer") || !strings.Contains(err.Error(), "--max-shrink 0.5") {
		t.Fatalf("error %v, want a refusal naming 2,532 → 898 rows (65%%) and --max-shrink 0.5", err)
	}
	if _, m := readDataset(t, b); m.RunID != first.RunID {
		t.Fatalf("a refused run replaced the dataset")
	}
	sum, err := etl.Run(ctx, db, b, etl.Options{MaxShrink: 0.7})
	if err != nil {
		t.Fatalf("with MaxShrink 0.7: %v", err)
	}
	if sum.Rows != 898 {
		t.Fatalf("committed %d rows, want 898", sum.Rows)
	}
	// 898 → 719 rows (20% fewer) passes the default.
	if _, err := db.SQL.Exec("DELETE FROM ratings WHERE customerNumber > 170"); err != nil {
		t.Fatal(err)
	}
	sum, err = etl.Run(ctx, db, b, etl.Options{})
	if err != nil {
		t.Fatalf("a 20%% smaller run: %v", err)
	}
	if sum.Rows >= 898 || sum.Rows < 449 {
		t.Fatalf("committed %d rows, want between 449 and 898", sum.Rows)
	}
}

func runIDs(runs []etl.RunInfo) []string {
	var ids []string
	for _, r := range runs {
		id := r.RunID
		if r.Current {
			id += "*"
		}
		ids = append(ids, id)
	}
	return ids
}

func listRuns(t *testing.T, b lake.BucketReader) []string {
	t.Helper()
	runs, err := etl.Runs(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return runIDs(runs)
}

// TestRunsAndRollback: committed runs stay for rollback as KeepRuns says;
// Rollback commits the previous run (or a named one) again, completely, and
// refuses what it cannot restore.
func TestRunsAndRollback(t *testing.T) {
	for _, lk := range []struct {
		name string
		open func(t *testing.T) lake.Bucket
	}{{"file", fileLake}, {"s3", s3Lake}} {
		t.Run(lk.name, func(t *testing.T) {
			ctx := context.Background()
			db := sqliteSource(t)
			seedClassic(t, db)
			b := lk.open(t)
			opts := etl.Options{KeepRuns: 2}
			a, err := etl.Run(ctx, db, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec("DELETE FROM ratings WHERE customerNumber > 450"); err != nil {
				t.Fatal(err)
			}
			bb, err := etl.Run(ctx, db, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec("DELETE FROM ratings WHERE customerNumber > 400"); err != nil {
				t.Fatal(err)
			}
			c, err := etl.Run(ctx, db, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !(a.Rows > bb.Rows && bb.Rows > c.Rows) {
				t.Fatalf("rows %d, %d, %d: want three different datasets", a.Rows, bb.Rows, c.Rows)
			}
			want := strings.Join([]string{c.RunID + "*", bb.RunID, a.RunID}, " ")
			if got := strings.Join(listRuns(t, b), " "); got != want {
				t.Fatalf("runs %s, want %s", got, want)
			}

			// Back to the previous run.
			rb, err := etl.Rollback(ctx, b, "", etl.Options{})
			if err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if rb.RunID != bb.RunID || rb.Replaced != c.RunID {
				t.Fatalf("rolled back to %s replacing %s, want %s replacing %s", rb.RunID, rb.Replaced, bb.RunID, c.RunID)
			}
			got, m := readDataset(t, b)
			if m.RunID != bb.RunID || int64(len(got)) != bb.Rows {
				t.Fatalf("after rollback: run %s with %d rows, want %s with %d", m.RunID, len(got), bb.RunID, bb.Rows)
			}
			if cat, err := training.ReadCatalog(ctx, b, m); err != nil || cat == nil || len(cat.Customers) != 122 {
				t.Fatalf("catalogue after rollback: %v", err)
			}
			checkOnlyRunListed(t, b, bb.RunID)
			if got, want := strings.Join(listRuns(t, b), " "), strings.Join([]string{bb.RunID + "*", c.RunID, a.RunID}, " "); got != want {
				t.Fatalf("runs after rollback %s, want %s", got, want)
			}

			// To a named run.
			if _, err := etl.Rollback(ctx, b, a.RunID, etl.Options{}); err != nil {
				t.Fatal(err)
			}
			got, m = readDataset(t, b)
			if m.RunID != a.RunID || len(got) != 2532 {
				t.Fatalf("after rollback to the first run: run %s with %d rows, want %s with 2532", m.RunID, len(got), a.RunID)
			}
			checkOnlyRunListed(t, b, a.RunID)

			// What cannot be done.
			if _, err := etl.Rollback(ctx, b, a.RunID, etl.Options{}); err == nil || !strings.Contains(err.Error(), "already the committed run") {
				t.Errorf("rollback to the current run: %v", err)
			}
			if _, err := etl.Rollback(ctx, b, "20200101T000000Z-00000000", etl.Options{}); !errors.Is(err, etl.ErrNoRun) {
				t.Errorf("rollback to an unknown run: %v, want ErrNoRun", err)
			}
			// A run with a file missing is not committed half.
			var victim string
			b.List(ctx, training.RunDir(c.RunID)+"/", func(k string) error {
				if victim == "" && strings.HasSuffix(k, ".parquet") && strings.Contains(k, "customerNumber=") {
					victim = k
				}
				return nil
			})
			if err := b.Delete(ctx, victim); err != nil {
				t.Fatal(err)
			}
			_, err = etl.Rollback(ctx, b, c.RunID, etl.Options{})
			if err == nil || !strings.Contains(err.Error(), path.Base(victim)) {
				t.Fatalf("rollback to a run with a missing file: %v, want an error naming %s", err, path.Base(victim))
			}
			if _, m := readDataset(t, b); m.RunID != a.RunID {
				t.Fatalf("a failed rollback changed the committed run to %s", m.RunID)
			}

			// Retention: with KeepRuns 1 a new run keeps only the run it replaces.
			// GCWait: wait for the removal of old runs to finish, so it can be checked.
			d, err := etl.Run(ctx, db, b, etl.Options{KeepRuns: 1, MaxShrink: 1, GCWait: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(listRuns(t, b), " "), d.RunID+"* "+a.RunID; got != want {
				t.Fatalf("runs after a run with KeepRuns 1: %s, want %s", got, want)
			}
			assertNoStagedRunsBut(t, b, d.RunID, a.RunID)
		})
	}
}

// checkOnlyRunListed checks that an outside reader listing the dataset
// finds exactly the files of run id.
func checkOnlyRunListed(t *testing.T, b lake.BucketReader, id string) {
	t.Helper()
	n := 0
	b.List(context.Background(), training.Dataset+"/", func(k string) error {
		if strings.HasSuffix(k, ".parquet") {
			n++
			if !strings.Contains(k, id) {
				t.Errorf("listing the dataset finds %s, a file of another run than %s", k, id)
			}
		}
		return nil
	})
	if n == 0 {
		t.Errorf("listing the dataset finds no file of run %s", id)
	}
}
