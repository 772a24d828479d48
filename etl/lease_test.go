package etl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
)

// TestConcurrentRunsExclude: while one run is between staging and commit,
// a second run on the same lake fails at once with an error naming the
// first (its run id, host and pid), stages nothing and removes nothing;
// the first then commits a complete dataset.
func TestConcurrentRunsExclude(t *testing.T) {
	for _, lk := range []struct {
		name string
		open func(t *testing.T) lake.Bucket
	}{{"file", fileLake}, {"s3", s3Lake}} {
		t.Run(lk.name, func(t *testing.T) {
			ctx := context.Background()
			db := sqliteSource(t)
			seedClassic(t, db)
			b := lk.open(t)
			staged := make(chan struct{})
			proceed := make(chan struct{})
			type result struct {
				sum *etl.Summary
				err error
			}
			done := make(chan result, 1)
			go func() {
				sum, err := etl.Run(ctx, db, b, etl.Options{AfterStage: func(context.Context) error {
					close(staged)
					<-proceed
					return nil
				}})
				done <- result{sum, err}
			}()
			select {
			case <-staged:
			case r := <-done:
				t.Fatalf("first run ended before staging: %v", r.err)
			case <-time.After(2 * time.Minute):
				t.Fatal("first run did not stage within 2 minutes")
			}
			_, err := etl.Run(ctx, db, b, etl.Options{})
			close(proceed)
			first := <-done
			if first.err != nil {
				t.Fatalf("first run: %v", first.err)
			}
			if !errors.Is(err, etl.ErrBusy) || !errors.Is(err, lake.ErrLeaseHeld) {
				t.Fatalf("second run: %v, want ErrBusy", err)
			}
			host, _ := os.Hostname()
			for _, want := range []string{"recoflow etl run " + first.sum.RunID, "host " + host, fmt.Sprintf("pid %d", os.Getpid())} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("second run's error %q does not name %q", err, want)
				}
			}
			got, m := readDataset(t, b)
			if m.RunID != first.sum.RunID || len(got) != 2532 {
				t.Fatalf("committed run %s with %d rows, want run %s with 2532", m.RunID, len(got), first.sum.RunID)
			}
			assertNoStagedRunsBut(t, b, first.sum.RunID)
			// The lease is free again.
			if _, err := etl.Run(ctx, db, b, etl.Options{}); err != nil {
				t.Fatalf("a run after the first: %v", err)
			}
		})
	}
}

// TestRunStopsWhenLeaseLost (S3): a run whose lease another holder took
// over stops without committing, says why, and leaves the previous
// dataset as it was.
func TestRunStopsWhenLeaseLost(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	b := s3Lake(t)
	first, err := etl.Run(ctx, db, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = etl.Run(ctx, db, b, etl.Options{LeaseTTL: 3 * time.Second, AfterStage: func(ctx context.Context) error {
		other := `{"owner":"an intruder","host":"elsewhere","pid":99,"expires":"2999-01-01T00:00:00Z"}`
		if err := b.Put(ctx, ".recoflow/leases/"+etl.LeaseName+".json", strings.NewReader(other)); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Minute):
			return errors.New("the run was not stopped within 2 minutes of losing its lease")
		}
	}})
	if !errors.Is(err, lake.ErrLeaseLost) || !strings.Contains(err.Error(), "an intruder") || !strings.Contains(err.Error(), "nothing committed") {
		t.Fatalf("error %v, want a lost lease naming the intruder", err)
	}
	got, m := readDataset(t, b)
	if m.RunID != first.RunID || len(got) != 2532 {
		t.Fatalf("committed run %s with %d rows, want the first run %s with 2532", m.RunID, len(got), first.RunID)
	}
}
