package firehose

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/recoflow/recoflow/batch"
	"github.com/recoflow/recoflow/sink"
)

// Limits of PutRecordBatch.
const (
	// MaxBatchRecords is the most records one call takes.
	MaxBatchRecords = 500
	// MaxBatchBytes is the most bytes one call takes.
	MaxBatchBytes = 4 << 20
	// MaxRecordBytes is the largest record, newline included.
	MaxRecordBytes = 1000 << 10
)

const (
	defaultRegion = "us-east-1"
	// rounds bounds how often one Write resends failed entries before it
	// returns an error to the sink (which retries with its own backoff).
	rounds = 5
)

// API is the part of the Firehose client that the sink uses; tests
// substitute it.
type API interface {
	PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, optFns ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error)
}

// Config locates a delivery stream. Only DeliveryStream is required.
type Config struct {
	// DeliveryStream is the delivery stream's name.
	DeliveryStream string
	// Region overrides the SDK's region; without any, us-east-1.
	Region string
	// Endpoint overrides the Firehose endpoint (and AWS_ENDPOINT_URL), e.g.
	// http://127.0.0.1:5000 for moto.
	Endpoint string
	// AccessKeyID, SecretAccessKey and SessionToken, when AccessKeyID is
	// set, replace the SDK's credential chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Client replaces the SDK client (tests); the fields above are then
	// ignored.
	Client API
	// MinBackoff and MaxBackoff bound the wait before failed entries are
	// sent again (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
}

// Writer sends flushes to a delivery stream. It implements sink.Writer and
// sink.Checker.
type Writer struct {
	api        API
	stream     string
	errs       sink.Writer
	minBackoff time.Duration
	maxBackoff time.Duration
	// progress remembers, per flush, what an earlier failed Write already
	// delivered. Write is never called concurrently.
	progress map[uint64]*progress
}

type progress struct {
	sent       []bool
	errorsDone bool
}

var (
	_ sink.Writer  = (*Writer)(nil)
	_ sink.Checker = (*Writer)(nil)
)

// NewWriter returns a Writer for the delivery stream in cfg whose error
// records go to errs. It loads the AWS configuration (blocking on it; ctx
// covers that) but does not call Firehose.
func NewWriter(ctx context.Context, cfg Config, errs sink.Writer) (*Writer, error) {
	if cfg.DeliveryStream == "" {
		return nil, errors.New("firehose sink: no delivery stream name")
	}
	if errs == nil {
		return nil, fmt.Errorf("firehose sink %s: no writer for error records", cfg.DeliveryStream)
	}
	w := &Writer{
		api:        cfg.Client,
		stream:     cfg.DeliveryStream,
		errs:       errs,
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		progress:   make(map[uint64]*progress),
	}
	if w.minBackoff <= 0 {
		w.minBackoff = 100 * time.Millisecond
	}
	if w.maxBackoff < w.minBackoff {
		w.maxBackoff = max(5*time.Second, w.minBackoff)
	}
	if w.api != nil {
		return w, nil
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("firehose sink %s: endpoint %q is not a URL such as http://host:port", cfg.DeliveryStream, cfg.Endpoint)
		}
	}
	opts := []func(*config.LoadOptions) error{config.WithDefaultRegion(defaultRegion)}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("firehose sink %s: load AWS configuration: %w", cfg.DeliveryStream, err)
	}
	w.api = firehose.NewFromConfig(awsCfg, func(o *firehose.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return w, nil
}

// New returns a Buffered sink on the delivery stream in cfg, error records
// going to errs. It blocks only while loading the AWS configuration.
func New(ctx context.Context, cfg Config, errs sink.Writer, so sink.Options) (*sink.Buffered, error) {
	w, err := NewWriter(ctx, cfg, errs)
	if err != nil {
		return nil, err
	}
	return sink.New(ctx, w, so)
}

// Check rejects records that Firehose cannot take: larger than 1,000 KiB
// with their newline. It does not block.
func (w *Writer) Check(r sink.Record) error {
	if n := len(r.Data) + 1; n > MaxRecordBytes {
		return fmt.Errorf("record of %d bytes exceeds Firehose's limit of %d bytes", n, MaxRecordBytes)
	}
	if len(r.Data) == 0 {
		return errors.New("empty record data")
	}
	return nil
}

// Write delivers f: its error records to the error writer, then its
// records with PutRecordBatch, resending failed entries up to a few rounds
// with backoff. It blocks until everything is accepted, an error, or ctx is
// done. After an error, calling it again with the same f sends only what
// was not accepted yet.
func (w *Writer) Write(ctx context.Context, f *sink.Flush) error {
	p := w.progress[f.Seq]
	if p == nil {
		p = &progress{sent: make([]bool, len(f.Records))}
		w.progress[f.Seq] = p
	}
	if len(f.Errors) > 0 && !p.errorsDone {
		ef := *f
		ef.Records = nil
		if err := w.errs.Write(ctx, &ef); err != nil {
			return fmt.Errorf("firehose sink %s: error records: %w", w.stream, err)
		}
		p.errorsDone = true
	}
	backoff := w.minBackoff
	for round := 1; ; round++ {
		failed, lastErr, err := w.sendPending(ctx, f, p)
		if err != nil {
			return err
		}
		if failed == 0 {
			delete(w.progress, f.Seq)
			return nil
		}
		if round == rounds {
			return fmt.Errorf("firehose sink %s: %d records still failing after %d rounds: %s", w.stream, failed, rounds, lastErr)
		}
		t := time.NewTimer(backoff/2 + time.Duration(jitter(int64(backoff/2))))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, w.maxBackoff)
	}
}

// sendPending sends every record of f not yet accepted, in calls within
// the API's limits, and returns how many failed and the last entry error.
// A failed call returns its error at once; what earlier calls delivered
// stays marked in p.
func (w *Writer) sendPending(ctx context.Context, f *sink.Flush, p *progress) (int, string, error) {
	failed, lastErr := 0, ""
	call := batch.New(batch.Policy{Count: MaxBatchRecords, Bytes: MaxBatchBytes}, nil)
	var idx []int
	var recs []types.Record
	send := func() error {
		if len(recs) == 0 {
			return nil
		}
		out, err := w.api.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{
			DeliveryStreamName: aws.String(w.stream),
			Records:            recs,
		})
		if err != nil {
			return fmt.Errorf("firehose sink %s: put record batch: %w", w.stream, err)
		}
		if len(out.RequestResponses) != len(recs) {
			return fmt.Errorf("firehose sink %s: %d responses to %d records", w.stream, len(out.RequestResponses), len(recs))
		}
		for i, rr := range out.RequestResponses {
			if rr.ErrorCode == nil || *rr.ErrorCode == "" {
				p.sent[idx[i]] = true
				continue
			}
			failed++
			lastErr = aws.ToString(rr.ErrorCode) + ": " + aws.ToString(rr.ErrorMessage)
		}
		idx, recs = idx[:0], nil
		call.Reset()
		return nil
	}
	for i, r := range f.Records {
		if p.sent[i] {
			continue
		}
		size := int64(len(r.Data) + 1)
		if !call.Fits(1, size) {
			if err := send(); err != nil {
				return 0, "", err
			}
		}
		data := make([]byte, len(r.Data)+1)
		copy(data, r.Data)
		data[len(r.Data)] = '\n'
		recs = append(recs, types.Record{Data: data})
		idx = append(idx, i)
		call.Add(1, size)
	}
	if err := send(); err != nil {
		return 0, "", err
	}
	return failed, lastErr, nil
}

// jitter returns a random duration in [0, n].
func jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n + 1)
}
