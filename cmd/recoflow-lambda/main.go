// Command recoflow-lambda is recoflow's transformer as an AWS Lambda
// function for Amazon Data Firehose data transformation: put it where the
// lab put its Python Lambda (the delivery stream's processing
// configuration), with the provided.al2023 runtime:
//
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./cmd/recoflow-lambda
//	zip recoflow-lambda.zip bootstrap
//
// The function answers Firehose's contract (package lambda): one result per
// recordId, Ok with newline-terminated JSON, Dropped, or ProcessingFailed.
//
// Each record is a shopper event in the lab's format; the output is the
// event plus recommended_items and similar_items, computed by the same
// engine as `recoflow stream` (package pipeline). A malformed event is
// ProcessingFailed with the reason; a vector store that is down fails the
// invocation so that Firehose retries it. Environment, read once per cold
// start:
//
//	RECOFLOW_LAKE           the lake holding ml-artifacts/ (s3://bucket/prefix), required
//	RECOFLOW_VECTORS        the vector store (postgres://… with pgvector), required
//	RECOFLOW_MODEL_VERSION  the model version to load (default: the store's live version)
//	RECOFLOW_TOP_K          how many recommended items (default 10)
//	RECOFLOW_SIMILAR_K      how many similar items (default 5)
//	RECOFLOW_CONCURRENCY    records transformed at once (default 4)
//	RECOFLOW_LOG_LEVEL      debug, info, warn or error (default info)
//	RECOFLOW_PASSTHROUGH=1  no engine: only check that each record is a JSON
//	                        object and pass it through (to test the wiring)
//
// plus the AWS SDK's own variables (AWS_REGION, credentials from the
// function's role).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lambda"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level(os.Getenv("RECOFLOW_LOG_LEVEL"))}))
	h, err := handler(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("recoflow-lambda cannot start", "err", err)
		os.Exit(1)
	}
	awslambda.Start(h)
}

// newTransform builds the record transform from the environment: the
// recommendation engine, or passThrough with RECOFLOW_PASSTHROUGH=1.
func newTransform(ctx context.Context, getenv func(string) string) (lambda.Transform, error) {
	if getenv("RECOFLOW_PASSTHROUGH") == "1" {
		return passThrough, nil
	}
	lakeURL, vectors := getenv("RECOFLOW_LAKE"), getenv("RECOFLOW_VECTORS")
	if lakeURL == "" || vectors == "" {
		return nil, errors.New("RECOFLOW_LAKE and RECOFLOW_VECTORS must name the lake with the model and the vector store (or set RECOFLOW_PASSTHROUGH=1)")
	}
	var opts pipeline.TransformOptions
	for name, dst := range map[string]*int{"RECOFLOW_TOP_K": &opts.K, "RECOFLOW_SIMILAR_K": &opts.SimilarK} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s=%q: want a positive integer", name, v)
			}
			*dst = n
		}
	}
	b, err := connect.Lake(ctx, lakeURL, connect.LakeOptions{})
	if err != nil {
		return nil, err
	}
	e, err := recommend.Open(ctx, b, vectors, getenv("RECOFLOW_MODEL_VERSION"), recommend.Options{})
	if err != nil {
		return nil, err
	}
	t, err := pipeline.NewTransformer(e, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, data []byte) ([]byte, error) {
		out, err := t.TransformOne(ctx, "", data)
		if errors.Is(err, pipeline.ErrStoreDown) {
			return nil, fmt.Errorf("%w: %v", lambda.ErrRetry, err)
		}
		return out, err
	}, nil
}

// handler builds the Firehose handler from the environment.
func handler(ctx context.Context, getenv func(string) string, log *slog.Logger) (func(context.Context, events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error), error) {
	conc := 4
	if v := getenv("RECOFLOW_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("RECOFLOW_CONCURRENCY=%q: want a positive integer", v)
		}
		conc = n
	}
	t, err := newTransform(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(t, lambda.Options{Logger: log, Concurrency: conc}), nil
}

// passThrough returns a record that is one JSON object as it is, and fails
// anything else.
func passThrough(_ context.Context, data []byte) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, errors.New("not a JSON object: null")
	}
	return data, nil
}

func level(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}
