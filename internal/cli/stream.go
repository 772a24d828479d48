package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
	"github.com/spf13/cobra"
)

func (a *app) streamCommand() *cobra.Command {
	var (
		streamURL     string
		group         string
		lf            lakeFlags
		vectorsURL    string
		version       string
		sinkURL       string
		bufferSize    string
		bufferInt     time.Duration
		gzip          bool
		outName       string
		k, similarK   int
		onStoreDown   string
		annotate      bool
		maxBatch      int
		metricsListen string
		grace         time.Duration
		progressInt   time.Duration
		specFile      string
	)
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Turn live shopper activity from a stream into recommendations delivered to the lake",
		Long: `stream reads shopper events (the lab's JSON records) from a stream, computes
for each the recommended items (top-k for the shopper's embedding) and the items
similar to the most recent item in the cart (else the most recent browsed), and
delivers the input object plus recommended_items and similar_items, in buffered
batches, to

  <lake>/recommendations/YYYY/MM/dd/HH/<name>-<yyyy-MM-dd-HH-mm-ss>-<id>.json[.gz]

Every record has exactly the lab's eight keys, in the lab's order; a product
the vector store does not hold gets similar items from its catalogue features
(else the popular products), an empty browse history gets
{"product_code":"","similar_items":[]}. Fallbacks are counted in the metrics
(recoflow_stream_fallbacks_total) and marked in the record only with
--annotate. The progress line's publish_to_compute latency runs from an
event's arrival in the broker to its recommendations: after a restart it
includes the backlog's wait (recoflow_stream_compute_seconds is the
computation alone).

The events' fields are read through the dataset spec's stream section
(--dataset, or the config file's dataset key): which field holds the user's
id, the user features and the browsed items. Without a spec they are the
lab's (the built-in classicmodels spec), unless the model was trained on a
dataset spec: then its artifacts' spec maps them. Every user feature the
mapping carries goes to a spec model; a mapped feature the model lacks is
a usage error. Events that cannot be processed go,
with the reason, to recommendations-errors/.
A stream position is acknowledged only once the output holding it is durable,
and a ledger in the lake makes every event exactly one output or error record
across crashes and restarts. Many stream processes can share the work through
the broker's own mechanism (one JetStream durable consumer, one Kafka consumer
group, Kinesis shards split by --stream parameters); give them the same --group.

Stream URLs:
` + connect.StreamURLHelp,
		Example: `  # the embedded defaults (after recoflow demo), with a producer beside it
  recoflow stream --buffer-interval 1s &
  recoflow produce --rate 1000 --count 20000

  # NATS JetStream, pgvector, S3
  recoflow stream --stream nats://nats.internal:4222 --vectors postgres://app:pw@pg:5432/reco --lake s3://lake/shop

  # Kafka, delivering through a real Firehose delivery stream
  recoflow stream --stream kafka://broker:9092/shopper-events --sink firehose://recommendations`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			size, err := parseByteSize(bufferSize)
			if err != nil {
				return usageError("--buffer-size: %v", err)
			}
			if bufferInt < 100*time.Millisecond {
				return usageError("--buffer-interval %s: want at least 100ms", bufferInt)
			}
			policy, err := pipeline.ParseStoreDownPolicy(onStoreDown)
			if err != nil {
				return usageError("--on-store-down %v", err)
			}
			if k < 1 || similarK < 1 {
				return usageError("--k %d and --similar-k %d: want at least 1", k, similarK)
			}
			spec, from, err := a.resolveDataset(cmd, specFile)
			if err != nil {
				return err
			}
			mapping, err := event.NewMapping(spec)
			if err != nil {
				return usageError("%v", err)
			}
			ctx := cmd.Context()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			if metricsListen != "" {
				ln, err := net.Listen("tcp", metricsListen)
				if err != nil {
					return fmt.Errorf("--metrics-listen: %w", err)
				}
				srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
				go srv.Serve(ln)
				defer srv.Close()
				a.log.Info("metrics at", "url", "http://"+ln.Addr().String()+"/metrics")
			}

			bucket, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer bucket.Close()
			engine, err := recommend.Open(ctx, bucket, vectorsURL, version, recommend.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer engine.Close()
			if ms, _ := engine.Model().Spec(); ms != nil && !model.IsBuiltIn(ms) && from.builtIn {
				// No spec given, and the model was trained on one: its
				// artifacts carry it, and its stream section maps the
				// events.
				if mapping, err = event.NewMapping(ms); err != nil {
					return fmt.Errorf("model %s's dataset spec %q: %w", engine.Model().Version(), ms.Name, err)
				}
				a.log.Info("reading events as the model's dataset spec maps them", "spec", ms.Name, "model", engine.Model().Version())
			}
			tr, err := pipeline.NewTransformer(engine, pipeline.TransformOptions{K: k, SimilarK: similarK, OnStoreDown: policy, Annotate: annotate, Mapping: mapping})
			if err != nil {
				return usageError("%v", err)
			}
			snk, err := connect.Sink(ctx, sinkURL, bucket, connect.SinkOptions{
				BufferSize: size, BufferInterval: bufferInt, Gzip: gzip, Stream: outName, Logger: a.log,
			})
			if err != nil {
				return err
			}
			src, err := connect.Stream(ctx, streamURL, connect.StreamOptions{Group: group, MaxBatch: maxBatch, Logger: a.log})
			if err != nil {
				snk.Close(ctx)
				return err
			}
			a.log.Info("streaming", "from", src.String(), "lake", bucket.String(), "model", engine.Model().Version(),
				"buffer_size", size, "buffer_interval", bufferInt.String(), "group", group)

			var events atomic.Int64
			var latMu sync.Mutex
			var lat []time.Duration
			start := time.Now()
			stopProgress := make(chan struct{})
			progressDone := make(chan struct{})
			go func() {
				defer close(progressDone)
				t := time.NewTicker(progressInt)
				defer t.Stop()
				var last int64
				lastT := start
				for {
					select {
					case <-stopProgress:
						return
					case now := <-t.C:
						n := events.Load()
						latMu.Lock()
						p50, p99 := percentiles(lat)
						lat = lat[:0]
						latMu.Unlock()
						a.log.Info("stream progress", "events", n, "rate", fmt.Sprintf("%.0f/s", float64(n-last)/now.Sub(lastT).Seconds()),
							"publish_to_compute_p50", p50.String(), "publish_to_compute_p99", p99.String())
						last, lastT = n, now
					}
				}
			}()
			err = pipeline.Run(ctx, src, tr, snk, pipeline.Options{
				Log: a.log, Registerer: reg, ShutdownGrace: grace, MaxInFlightBytes: inFlightBound(size),
				OnComputed: func(n int, l []time.Duration) {
					events.Add(int64(n))
					latMu.Lock()
					if len(lat) < 1<<20 {
						lat = append(lat, l...)
					}
					latMu.Unlock()
				},
			})
			close(stopProgress)
			<-progressDone
			if err != nil {
				return err
			}
			fmt.Fprintf(a.opts.Stdout, "stream stopped after %s: %d events processed; outputs under %s/recommendations/\n",
				time.Since(start).Round(time.Millisecond), events.Load(), strings.TrimSuffix(bucket.String(), "/"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&streamURL, "stream", defaultStream, "event stream URL (see above)")
	f.StringVar(&group, "group", "recoflow", "consumer group shared by the stream processes that split the work")
	lf.register(f)
	f.StringVar(&vectorsURL, "vectors", defaultVectors, "vector store URL: file:///path/dir (embedded) or postgres://… (pgvector)")
	f.StringVar(&version, "version", "", "model version (default: the one the vector store holds)")
	f.StringVar(&sinkURL, "sink", "", "delivery: empty for the lake sink (lake://?gzip=true to compress), or firehose://delivery-stream")
	f.StringVar(&bufferSize, "buffer-size", "5MiB", "flush the buffer at this size (Firehose's size hint), e.g. 1MiB or 500KiB")
	f.DurationVar(&bufferInt, "buffer-interval", 60*time.Second, "flush the buffer after this long (Firehose's interval hint), down to 100ms")
	f.BoolVar(&gzip, "gzip", false, "gzip the lake objects (.json.gz)")
	f.StringVar(&outName, "output-name", "recoflow", "name in the output objects' file names (<name>-<time>-<id>.json)")
	f.IntVar(&k, "k", 10, "number of recommended_items")
	f.IntVar(&similarK, "similar-k", 5, "number of similar_items")
	f.StringVar(&onStoreDown, "on-store-down", "wait", "while the vector store cannot answer: wait (retry the batch with backoff) or fallback (deliver popular products, counted as fallbacks)")
	f.BoolVar(&annotate, "annotate", false, "mark each record with a fallback with a ninth key, recommendation_fallback (fallbacks are counted in the metrics either way)")
	f.IntVar(&maxBatch, "max-batch", 0, "most events read from the stream at once (default 500)")
	f.StringVar(&metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address, e.g. 127.0.0.1:9101")
	f.DurationVar(&grace, "shutdown-grace", 30*time.Second, "on SIGINT/SIGTERM, time to flush and acknowledge what is in flight")
	f.DurationVar(&progressInt, "progress-interval", 5*time.Second, "how often to log throughput and latency")
	f.StringVar(&specFile, "dataset", "", "dataset spec file (YAML) whose stream section maps the events' fields (default: the config file's dataset key, else the built-in classicmodels spec: the lab's events)")
	return cmd
}

// parseByteSize parses "5MiB", "512KiB", "1GiB", "5MB" or a number of bytes.
// inFlightBound is the pipeline's bound on unacknowledged input for a
// sink that flushes at bufferSize bytes: the default, or three buffers
// when they are larger (one filling, one being written, and the outputs'
// growth over their inputs), so that reads never wait for the interval
// flush of a full buffer.
func inFlightBound(bufferSize int64) int64 {
	return max(pipeline.DefaultMaxInFlightBytes, 3*bufferSize)
}

func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q: want a positive size such as 5MiB, 512KiB or 1048576", s)
	}
	n := int64(f * float64(mult))
	if n < 1 {
		return 0, errors.New("size below one byte")
	}
	return n, nil
}

// percentiles returns the 50th and 99th percentiles of ds (sorted in place).
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*99/100)]
}
