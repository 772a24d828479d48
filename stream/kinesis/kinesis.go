package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/recoflow/recoflow/stream"
)

// Defaults of Config.
const (
	DefaultGroup        = "recoflow"
	DefaultRegion       = "us-east-1"
	DefaultPollInterval = 250 * time.Millisecond
	DefaultListInterval = 30 * time.Second
	DefaultRecordsLimit = 1000
)

// Config says where the stream is and how to read it.
type Config struct {
	// Stream is the Kinesis data stream's name.
	Stream string
	// Region overrides the SDK's (AWS_REGION, profiles); when neither is
	// set, DefaultRegion.
	Region string
	// Endpoint overrides the Kinesis endpoint (and AWS_ENDPOINT_URL), e.g.
	// http://127.0.0.1:5000 for moto.
	Endpoint string
	// CreateShards, when positive, creates a missing stream with that many
	// shards (provisioned mode) and waits until it is active.
	CreateShards int32

	// Checkpoints keeps the read positions; required by a Source. With
	// several workers (Workers > 1) it must be a store they share.
	Checkpoints Checkpointer
	// Group names the application whose positions Checkpoints keeps; two
	// groups read the stream independently. Default DefaultGroup.
	Group string
	// Worker and Workers divide the shards among the processes of a group:
	// sorted by id, the shard at index i is read by worker i % Workers.
	// Default: worker 0 of 1 (every shard).
	Worker, Workers int
	// PollInterval is the pause between GetRecords calls on a shard that
	// had nothing new (Kinesis allows five calls per second per shard).
	// Default DefaultPollInterval.
	PollInterval time.Duration
	// ListInterval is how often the shard list is read again, to follow
	// resharding. Default DefaultListInterval.
	ListInterval time.Duration
	// RecordsLimit is the most records one GetRecords call returns;
	// default DefaultRecordsLimit.
	RecordsLimit int32

	// Source holds the settings every source has.
	Source stream.SourceOptions
}

func (c Config) withDefaults(source bool) (Config, error) {
	if c.Stream == "" {
		return c, errors.New("kinesis: no stream name")
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.ListInterval == 0 {
		c.ListInterval = DefaultListInterval
	}
	if c.RecordsLimit == 0 {
		c.RecordsLimit = DefaultRecordsLimit
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return c, fmt.Errorf("kinesis: endpoint %q is not a URL such as http://host:port", c.Endpoint)
		}
	}
	var err error
	if c.Source, err = c.Source.WithDefaults(); err != nil {
		return c, err
	}
	switch {
	case source && c.Checkpoints == nil:
		return c, errors.New("kinesis: a source needs a checkpoint store")
	case c.Workers < 1 || c.Worker < 0 || c.Worker >= c.Workers:
		return c, fmt.Errorf("kinesis: worker %d of %d: want 0 ≤ worker < workers", c.Worker, c.Workers)
	case c.RecordsLimit < 1 || c.RecordsLimit > 10000:
		return c, fmt.Errorf("kinesis: RecordsLimit %d: want 1..10000", c.RecordsLimit)
	}
	return c, nil
}

func (c Config) where() string {
	s := "kinesis://" + c.Stream
	if c.Endpoint != "" {
		s += " at " + c.Endpoint
	}
	return s
}

// client builds a Kinesis client from the SDK's default configuration
// chain (environment, shared files, instance roles) and the overrides.
func client(ctx context.Context, cfg Config) (*kinesis.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithDefaultRegion(DefaultRegion)}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration for %s: %w", cfg.where(), err)
	}
	return kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	}), nil
}

// ensureStream checks that the stream exists, creating it when
// cfg.CreateShards says so.
func ensureStream(ctx context.Context, kc *kinesis.Client, cfg Config) error {
	_, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(cfg.Stream)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) && cfg.CreateShards > 0 {
		_, err = kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(cfg.Stream), ShardCount: aws.Int32(cfg.CreateShards)})
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create %s: %w", cfg.where(), err)
		}
		w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
		})
		if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(cfg.Stream)}, 5*time.Minute); err != nil {
			return fmt.Errorf("wait for %s to become active: %w", cfg.where(), err)
		}
		return nil
	}
	if errors.As(err, &nf) {
		return fmt.Errorf("%s: %w", cfg.where(), stream.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("describe %s: %w", cfg.where(), err)
	}
	return nil
}
