package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/recoflow/recoflow/batch"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/sink"
	sinkfirehose "github.com/recoflow/recoflow/sink/firehose"
	sinklake "github.com/recoflow/recoflow/sink/lake"
)

// SinkOptions tune the sink that Sink opens. Query parameters of the URL
// override them.
type SinkOptions struct {
	// BufferSize and BufferInterval are the flush policy (Firehose's
	// buffering hints, --buffer-size and --buffer-interval): a flush at
	// this many bytes or after this long, whichever first. Zero takes the
	// defaults, 5 MiB and 60 s.
	BufferSize     int64
	BufferInterval time.Duration
	// MaxInFlight bounds the bytes handed in but not yet acknowledged
	// (default 4 × BufferSize).
	MaxInFlight int64
	// Stream names the output objects (<stream>-<time>-<id>.json) and the
	// ledger; workers of one pipeline share it (default "recoflow").
	Stream string
	// Gzip compresses the lake's objects (.json.gz).
	Gzip bool
	// FirehoseEndpoint and FirehoseRegion override the AWS SDK's for a
	// firehose:// sink (e.g. http://127.0.0.1:5000 for moto).
	FirehoseEndpoint, FirehoseRegion string
	// Logger receives the sink's warnings (default slog.Default()).
	Logger *slog.Logger
}

// Sink opens the delivery sink named by rawURL:
//
//   - "" or lake (lake://?gzip=true&stream=NAME): the lake sink on
//     lakeBucket, recommendations/ and recommendations-errors/, exactly once;
//   - firehose://delivery-stream (?endpoint=URL&region=R): PutRecordBatch to
//     that delivery stream, at least once; error records go to lakeBucket's
//     recommendations-errors/.
//
// Both need lakeBucket. Sink blocks while it recovers the lake sink's
// ledger or loads the AWS configuration; ctx covers only that. The caller
// closes the sink.
func Sink(ctx context.Context, rawURL string, lakeBucket lake.Bucket, opts SinkOptions) (sink.Sink, error) {
	scheme, rest := "lake", ""
	if rawURL != "" {
		var ok bool
		scheme, rest, ok = strings.Cut(rawURL, "://")
		if !ok {
			scheme, rest = rawURL, ""
		}
	}
	name, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("sink URL %q: %v", Redact(rawURL), err)
	}
	if v := q.Get("stream"); v != "" {
		opts.Stream = v
	}
	if v := q.Get("gzip"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("sink URL %q: gzip=%q is not true or false", Redact(rawURL), v)
		}
		opts.Gzip = b
	}
	if lakeBucket == nil {
		return nil, errors.New("sink: no lake for the output and its error records")
	}
	so := sink.Options{
		Policy:      batch.Policy{Bytes: opts.BufferSize, Period: opts.BufferInterval},
		MaxInFlight: opts.MaxInFlight,
		Logger:      opts.Logger,
	}
	if so.Policy.Bytes == 0 {
		so.Policy.Bytes = sink.DefaultBufferSize
	}
	if so.Policy.Period == 0 {
		so.Policy.Period = sink.DefaultBufferInterval
	}
	lo := sinklake.Options{Stream: opts.Stream, Gzip: opts.Gzip}
	switch strings.ToLower(scheme) {
	case "lake":
		if name != "" {
			return nil, fmt.Errorf("sink URL %q: the lake sink writes to the lake given with --lake; use lake:// alone", Redact(rawURL))
		}
		s, err := sinklake.New(ctx, lakeBucket, lo, so)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "firehose":
		if name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("sink URL %q: want firehose://delivery-stream-name", Redact(rawURL))
		}
		cfg := sinkfirehose.Config{DeliveryStream: name, Endpoint: opts.FirehoseEndpoint, Region: opts.FirehoseRegion}
		if v := q.Get("endpoint"); v != "" {
			cfg.Endpoint = v
		}
		if v := q.Get("region"); v != "" {
			cfg.Region = v
		}
		if lo.Stream == "" {
			lo.Stream = name
		}
		errs, err := sinklake.NewWriter(lakeBucket, lo)
		if err != nil {
			return nil, err
		}
		s, err := sinkfirehose.New(ctx, cfg, errs, so)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("sink URL %q: unknown scheme %q (want lake or firehose)", Redact(rawURL), scheme)
	}
}
