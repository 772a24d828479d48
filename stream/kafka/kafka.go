package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/recoflow/recoflow/stream"
)

// Defaults of Config.
const (
	DefaultGroup         = "recoflow"
	DefaultFetchMaxBytes = 8 << 20
)

// Config says where the topic is and how to read it.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic holds the events.
	Topic string
	// Group is the consumer group that every Source of one pipeline
	// joins; Kafka divides the topic's partitions among its members.
	// Default DefaultGroup.
	Group string
	// ClientID names the client to the brokers; default "recoflow".
	ClientID string
	// FetchMaxBytes bounds one fetch response, and so the read-ahead the
	// client buffers per broker; default DefaultFetchMaxBytes.
	FetchMaxBytes int32
	// Source holds the settings every source has.
	Source stream.SourceOptions
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Brokers) == 0 {
		return c, errors.New("kafka: no brokers")
	}
	if c.Topic == "" {
		return c, errors.New("kafka: no topic")
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.ClientID == "" {
		c.ClientID = "recoflow"
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	var err error
	c.Source, err = c.Source.WithDefaults()
	return c, err
}

func (c Config) where() string {
	return "kafka://" + strings.Join(c.Brokers, ",") + "/" + c.Topic
}

// checkTopic fails with stream.ErrNotFound when the topic does not exist.
func checkTopic(ctx context.Context, cl *kgo.Client, cfg Config) error {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(cfg.Topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafka metadata from %s: %w", cfg.where(), err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != cfg.Topic {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("kafka topic %s on %s: %w", cfg.Topic, cfg.where(), stream.ErrNotFound)
			}
			return fmt.Errorf("kafka topic %s on %s: %w", cfg.Topic, cfg.where(), err)
		}
		return nil
	}
	return fmt.Errorf("kafka topic %s on %s: %w", cfg.Topic, cfg.where(), stream.ErrNotFound)
}

// logger passes franz-go's warnings and errors to slog.
type logger struct{ log *slog.Logger }

func (l logger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		l.log.Error("kafka: "+msg, keyvals...)
	case kgo.LogLevelWarn:
		l.log.Warn("kafka: "+msg, keyvals...)
	}
}
