package cli

import (
	"context"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	"github.com/spf13/pflag"
)

// defaultLake is where commands keep the lake when --lake is not given.
const defaultLake = "file://recoflow-data/lake"

// lakeFlags are the flags every command that touches the lake shares.
type lakeFlags struct {
	url  string
	opts connect.LakeOptions
}

func (l *lakeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.url, "lake", defaultLake, "lake URL: file:///path/lake or s3://bucket/prefix")
	fs.StringVar(&l.opts.S3Endpoint, "s3-endpoint", "", "S3 endpoint for S3-compatible stores, e.g. http://127.0.0.1:7070 (default: AWS, or AWS_ENDPOINT_URL_S3)")
	fs.StringVar(&l.opts.S3Region, "s3-region", "", "S3 region (default: from the AWS config, else us-east-1)")
	fs.BoolVar(&l.opts.S3PathStyle, "s3-path-style", false, "use path-style S3 addressing (needed by most S3-compatible stores)")
}

func (l *lakeFlags) open(ctx context.Context) (lake.Bucket, error) {
	return connect.Lake(ctx, l.url, l.opts)
}
