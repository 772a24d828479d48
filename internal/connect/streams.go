package connect

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/recoflow/recoflow/stream"
	streamkafka "github.com/recoflow/recoflow/stream/kafka"
	streamkinesis "github.com/recoflow/recoflow/stream/kinesis"
	streamnats "github.com/recoflow/recoflow/stream/nats"
)

// DefaultStream is the event stream used when no URL is given: JetStream
// served in-process from a local directory.
const DefaultStream = "nats-embedded://recoflow-data/nats"

// DefaultKinesisCheckpoints is where a Kinesis source keeps its checkpoints
// when neither the URL nor StreamOptions say.
const DefaultKinesisCheckpoints = "recoflow-data/kinesis-checkpoints"

// StreamOptions tune how a stream is opened. Query parameters of the URL
// override them.
type StreamOptions struct {
	// Group is the consumer group sources join: the JetStream durable
	// consumer, the Kafka consumer group, the Kinesis checkpoint namespace.
	// Default "recoflow".
	Group string
	// MaxBatch, MaxInFlight and Logger are the source settings of
	// stream.SourceOptions (zero: defaults).
	MaxBatch, MaxInFlight int
	Logger                *slog.Logger

	// AckWait (NATS) is the consumer's redelivery timeout.
	AckWait time.Duration

	// Kinesis: the checkpoint store (a directory, file:///dir, or a lake
	// URL such as s3://bucket/prefix), this process's worker index and the
	// worker count, an endpoint and region override, and a shard count for
	// creating a missing stream.
	Checkpoints      string
	Worker, Workers  int
	Endpoint, Region string
	CreateShards     int
}

// streamTarget is a parsed stream URL: exactly one of the configurations
// is set.
type streamTarget struct {
	nats        *streamnats.Config
	kafka       *streamkafka.Config
	kinesis     *streamkinesis.Config
	checkpoints string // kinesis: where checkpoints live
}

// Stream opens a source of the stream named by rawURL (StreamURLHelp lists
// the forms; "" is DefaultStream).
func Stream(ctx context.Context, rawURL string, opts StreamOptions) (stream.Source, error) {
	t, err := parseStreamURL(rawURL, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case t.nats != nil:
		s, err := streamnats.NewSource(ctx, *t.nats)
		if err != nil {
			return nil, err
		}
		return s, nil
	case t.kafka != nil:
		s, err := streamkafka.NewSource(ctx, *t.kafka)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		ck, closeCk, err := openCheckpoints(ctx, t.checkpoints)
		if err != nil {
			return nil, err
		}
		t.kinesis.Checkpoints = ck
		s, err := streamkinesis.NewSource(ctx, *t.kinesis)
		if err != nil {
			closeCk()
			return nil, err
		}
		return &closingSource{Source: s, after: closeCk}, nil
	}
}

// Producer opens a producer to the stream named by rawURL (the forms of
// Stream; group and checkpoint settings do not apply).
func Producer(ctx context.Context, rawURL string, opts StreamOptions) (stream.Producer, error) {
	t, err := parseStreamURL(rawURL, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case t.nats != nil:
		p, err := streamnats.NewProducer(ctx, *t.nats)
		if err != nil {
			return nil, err
		}
		return p, nil
	case t.kafka != nil:
		p, err := streamkafka.NewProducer(ctx, *t.kafka)
		if err != nil {
			return nil, err
		}
		return p, nil
	default:
		p, err := streamkinesis.NewProducer(ctx, *t.kinesis)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// StreamURLHelp describes the stream URL forms, for --help texts.
const StreamURLHelp = `  nats-embedded://DIR  JetStream served in-process, stored in DIR (relative,
                       or nats-embedded:///abs/dir); the default is
                       ` + DefaultStream + `. Another process
                       opening the same DIR connects to the one serving it.
  nats://HOST:4222     a NATS server with JetStream (nats://a:4222,b:4222 for
                       a cluster; user:pass@ allowed). Parameters: stream
                       (RECOFLOW), subject (recoflow.events), consumer (the
                       group), ack_wait, max_ack_pending, max_age, replicas.
  kafka://BROKER:9092/TOPIC
                       Kafka (kafka://b1:9092,b2:9092/topic); parameter group.
  kinesis://STREAM     Amazon Kinesis Data Streams; parameters region,
                       endpoint (e.g. http://127.0.0.1:5000 for moto),
                       checkpoints (a directory or s3://bucket/prefix; shared
                       by all workers), group, worker and workers (this
                       process's share of the shards), shards (create the
                       stream with this many shards when missing).`

func parseStreamURL(rawURL string, opts StreamOptions) (streamTarget, error) {
	if rawURL == "" {
		rawURL = DefaultStream
	}
	shown := Redact(rawURL)
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return streamTarget{}, fmt.Errorf("stream URL %q: want nats-embedded://dir, nats://host:4222, kafka://broker:9092/topic or kinesis://stream", shown)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return streamTarget{}, fmt.Errorf("stream URL %q: %v", shown, err)
	}
	p := queryParser{q: q, url: shown}
	group := p.str("group", opts.Group)
	src := stream.SourceOptions{MaxBatch: opts.MaxBatch, MaxInFlight: opts.MaxInFlight, Logger: opts.Logger}

	var t streamTarget
	switch strings.ToLower(scheme) {
	case "nats-embedded", "nats", "tls":
		cfg := streamnats.Config{
			Stream:        p.str("stream", ""),
			Subject:       p.str("subject", ""),
			Consumer:      p.str("consumer", group),
			AckWait:       p.duration("ack_wait", opts.AckWait),
			MaxAckPending: p.int("max_ack_pending", 0),
			MaxAge:        p.duration("max_age", 0),
			Replicas:      p.int("replicas", 0),
			Source:        src,
		}
		if strings.EqualFold(scheme, "nats-embedded") {
			if rest == "" {
				return t, fmt.Errorf("stream URL %q: no directory", shown)
			}
			cfg.EmbeddedDir = filepath.Clean(rest)
		} else {
			hostPart, _, _ := strings.Cut(rest, "/")
			if hostPart == "" {
				return t, fmt.Errorf("stream URL %q: no host", shown)
			}
			userinfo, hosts := "", hostPart
			if at := strings.LastIndex(hostPart, "@"); at >= 0 {
				userinfo, hosts = hostPart[:at+1], hostPart[at+1:]
			}
			var urls []string
			for _, h := range strings.Split(hosts, ",") {
				urls = append(urls, strings.ToLower(scheme)+"://"+userinfo+h)
			}
			cfg.URL = strings.Join(urls, ",")
		}
		t.nats = &cfg
	case "kafka":
		hosts, topic, _ := strings.Cut(rest, "/")
		topic = strings.Trim(topic, "/")
		if hosts == "" || topic == "" || strings.Contains(topic, "/") {
			return t, fmt.Errorf("stream URL %q: want kafka://broker:9092[,broker2:9092]/topic", shown)
		}
		t.kafka = &streamkafka.Config{Brokers: strings.Split(hosts, ","), Topic: topic, Group: group, Source: src}
	case "kinesis":
		name := strings.Trim(rest, "/")
		if name == "" || strings.Contains(name, "/") {
			return t, fmt.Errorf("stream URL %q: want kinesis://stream-name", shown)
		}
		t.kinesis = &streamkinesis.Config{
			Stream:       name,
			Region:       p.str("region", opts.Region),
			Endpoint:     p.str("endpoint", opts.Endpoint),
			CreateShards: int32(p.int("shards", opts.CreateShards)),
			Group:        group,
			Worker:       p.int("worker", opts.Worker),
			Workers:      p.int("workers", opts.Workers),
			Source:       src,
		}
		t.checkpoints = p.str("checkpoints", opts.Checkpoints)
		if t.checkpoints == "" {
			t.checkpoints = DefaultKinesisCheckpoints
		}
	default:
		return t, fmt.Errorf("stream URL %q: unknown scheme %q (want nats-embedded, nats, kafka or kinesis)", shown, scheme)
	}
	if p.err != nil {
		return streamTarget{}, p.err
	}
	for k := range q {
		if !p.used[k] {
			return streamTarget{}, fmt.Errorf("stream URL %q: parameter %q does not apply to %s", shown, k, scheme)
		}
	}
	return t, nil
}

// queryParser reads typed URL parameters, remembering the first error and
// which parameters were read.
type queryParser struct {
	q    url.Values
	url  string
	used map[string]bool
	err  error
}

func (p *queryParser) str(key, def string) string {
	if p.used == nil {
		p.used = map[string]bool{}
	}
	p.used[key] = true
	if v := p.q.Get(key); v != "" {
		return v
	}
	return def
}

func (p *queryParser) int(key string, def int) int {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("stream URL %q: %s=%q is not a whole number", p.url, key, v)
	}
	return n
}

func (p *queryParser) duration(key string, def time.Duration) time.Duration {
	v := p.str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("stream URL %q: %s=%q is not a duration such as 30s", p.url, key, v)
	}
	return d
}

// openCheckpoints opens a Kinesis checkpoint store: a lake URL (s3://…)
// or a directory (file:///dir or a path).
func openCheckpoints(ctx context.Context, where string) (streamkinesis.Checkpointer, func(), error) {
	if strings.HasPrefix(where, "s3://") {
		b, err := Lake(ctx, where, LakeOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("kinesis checkpoints: %w", err)
		}
		return streamkinesis.NewLakeCheckpoints(b, ""), func() { b.Close() }, nil
	}
	dir := where
	if rest, ok := strings.CutPrefix(where, "file://"); ok {
		dir = rest
	}
	ck, err := streamkinesis.NewFileCheckpoints(filepath.Clean(dir))
	if err != nil {
		return nil, nil, err
	}
	return ck, func() {}, nil
}

// closingSource releases what the source depends on after it closes.
type closingSource struct {
	stream.Source
	after func()
	once  sync.Once
}

func (c *closingSource) Close(ctx context.Context) error {
	err := c.Source.Close(ctx)
	c.once.Do(c.after)
	return err
}
