package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// ErrDrop, wrapped in a transform's error, marks the record "Dropped": left
// out on purpose, not a failure.
var ErrDrop = errors.New("record dropped")

// ErrRetry, wrapped in a transform's error, fails the whole invocation so
// that Firehose retries it: for failures of a dependency, not of the
// record.
var ErrRetry = errors.New("retry the invocation")

// Transform turns one input record's data into one output record's data. It
// is called concurrently when Options.Concurrency is above one.
type Transform func(ctx context.Context, data []byte) ([]byte, error)

// Options tune a handler.
type Options struct {
	// Logger receives one line per failed record (default slog.Default(),
	// which Lambda sends to CloudWatch Logs).
	Logger *slog.Logger
	// Concurrency is how many records are transformed at once (default 1).
	Concurrency int
}

// Handler returns a Firehose data-transformation handler around transform,
// with default Options.
func Handler(transform func(ctx context.Context, data []byte) ([]byte, error)) func(context.Context, events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	return NewHandler(transform, Options{})
}

// NewHandler is Handler with options. The handler blocks while it
// transforms the event's records; it returns one result per record, in the
// input order, or an error (ErrRetry from the transform, or ctx's error)
// that makes Firehose invoke it again with the same records.
func NewHandler(transform Transform, o Options) func(context.Context, events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	workers := max(o.Concurrency, 1)
	return func(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
		out := make([]events.KinesisFirehoseResponseRecord, len(ev.Records))
		errs := make([]error, len(ev.Records))
		var wg sync.WaitGroup
		next := make(chan int)
		for range min(workers, len(ev.Records)) {
			wg.Go(func() {
				for i := range next {
					out[i], errs[i] = one(ctx, transform, ev.Records[i], log)
				}
			})
		}
	feed:
		for i := range ev.Records {
			select {
			case next <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return events.KinesisFirehoseResponse{}, fmt.Errorf("firehose transformation %s: %w", ev.InvocationID, err)
		}
		for i, err := range errs {
			if err != nil {
				return events.KinesisFirehoseResponse{}, fmt.Errorf("firehose transformation %s, record %s: %w", ev.InvocationID, ev.Records[i].RecordID, err)
			}
		}
		return events.KinesisFirehoseResponse{Records: out}, nil
	}
}

// one transforms one record; a non-nil error fails the invocation.
func one(ctx context.Context, transform Transform, r events.KinesisFirehoseEventRecord, log *slog.Logger) (events.KinesisFirehoseResponseRecord, error) {
	res := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Data: r.Data}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	data, err := call(ctx, transform, r.Data)
	switch {
	case errors.Is(err, ErrRetry):
		return res, err
	case errors.Is(err, ErrDrop):
		res.Result = events.KinesisFirehoseTransformedStateDropped
	case err != nil:
		res.Result = events.KinesisFirehoseTransformedStateProcessingFailed
		log.Warn("firehose record failed", "record_id", r.RecordID, "err", err)
	case len(bytes.TrimSpace(data)) == 0:
		res.Result = events.KinesisFirehoseTransformedStateDropped
	default:
		if data[len(data)-1] != '\n' {
			data = append(data[:len(data):len(data)], '\n')
		}
		res.Result = events.KinesisFirehoseTransformedStateOk
		res.Data = data
	}
	return res, nil
}

// call runs transform, turning a panic into an error.
func call(ctx context.Context, transform Transform, data []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("transform panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return transform(ctx, data)
}
