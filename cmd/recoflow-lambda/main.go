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
// For now the transform only checks that each record is a JSON object and
// passes it through unchanged; the recommendation engine will be plugged in
// through newTransform. Environment, read once per cold start:
//
//	RECOFLOW_CONCURRENCY    records transformed at once (default 4)
//	RECOFLOW_LOG_LEVEL      debug, info, warn or error (default info)
//
// and, once the engine is plugged in:
//
//	RECOFLOW_LAKE           the lake holding ml-artifacts/ (s3://bucket/prefix)
//	RECOFLOW_MODEL_VERSION  the model version to load (default: the lake's LATEST)
//	RECOFLOW_VECTORS        the vector store (postgres://… with pgvector)
//	RECOFLOW_TOP_K          how many recommended and similar items (default 5)
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

	"github.com/recoflow/recoflow/lambda"
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

// newTransform builds the record transform from the environment. The
// recommendation engine replaces passThrough here.
var newTransform = func(_ context.Context, _ func(string) string) (lambda.Transform, error) {
	return passThrough, nil
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
