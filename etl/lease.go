package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// LeaseName is the name of the lease that a run (or a rollback) holds on
// its lake while it writes the training dataset: one writer per lake and
// dataset at a time.
const LeaseName = training.Dataset

// ErrBusy is wrapped by the error of a run that could not start because
// another run holds the dataset's lease; the error names that run.
var ErrBusy = errors.New("another run is writing the dataset")

// runLease is the lease a run holds, or none on a bucket that grants none.
type runLease struct {
	mu       sync.Mutex
	l        lake.Lease // nil: the bucket grants no leases
	released bool
}

// errReleased stops work that outlives its run's lease (the removal of old
// runs): without the lease it may no longer touch the staging area.
var errReleased = errors.New("the run's lease was released")

// takeLease takes the dataset's lease in b for owner, or says who holds it.
func takeLease(ctx context.Context, b lake.Bucket, lay layout, owner string, ttl time.Duration, log *slog.Logger) (*runLease, error) {
	lr, ok := b.(lake.Leaser)
	if !ok {
		log.Warn("etl: the lake grants no leases; concurrent runs on it are not excluded", "lake", b.String())
		return &runLease{}, nil
	}
	l, err := lr.Lease(ctx, lay.leaseName(), lake.LeaseHolder{Owner: owner}, ttl)
	if errors.Is(err, lake.ErrLeaseHeld) {
		return nil, fmt.Errorf("%w: %w; wait for it to finish (a lease whose process died is freed when the process ends on a local lake, or when it expires on S3)", ErrBusy, err)
	}
	if err != nil {
		return nil, fmt.Errorf("take the lease on %s: %w", lay.leaseName(), err)
	}
	return &runLease{l: l}, nil
}

// check returns nil while the lease is held.
func (r *runLease) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return errReleased
	}
	if r.l != nil {
		return r.l.Err()
	}
	return nil
}

// lost is closed when the lease is lost; nil (never ready) without a lease.
func (r *runLease) lost() <-chan struct{} {
	if r.l == nil {
		return nil
	}
	return r.l.Lost()
}

// release gives the lease up.
func (r *runLease) release(log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	if r.l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.l.Release(ctx); err != nil {
		log.Warn("etl could not release its lease (it expires by itself)", "err", err)
	}
}

// withLease returns a context that is cancelled, with the lease's error as
// its cause, when the lease is lost, and a function that stops watching.
func withLease(ctx context.Context, r *runLease) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-r.lost():
			cancel(r.check())
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// leaseCause returns the lease's error when ctx was cancelled because the
// lease was lost, else err.
func leaseCause(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if c := context.Cause(ctx); errors.Is(c, lake.ErrLeaseLost) {
		return fmt.Errorf("etl stopped, nothing committed: %w", c)
	}
	return err
}
