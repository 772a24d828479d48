// Package s3 is the lake backend on AWS S3 and S3-compatible stores.
package s3

import (
	"context"
	"errors"

	"github.com/recoflow/recoflow/lake"
)

// Config locates a bucket. Credentials come from the AWS SDK's standard chain.
type Config struct {
	Bucket    string
	Prefix    string
	Region    string
	Endpoint  string
	PathStyle bool
}

// Bucket is a lake in an S3 bucket under a prefix.
type Bucket struct{ lake.Bucket }

// Open connects to the bucket described by cfg.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	return nil, errors.New("lake/s3: not implemented yet")
}
