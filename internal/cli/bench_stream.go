package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/shopper"
	"github.com/recoflow/recoflow/stream"
	"github.com/spf13/cobra"
)

func (a *app) benchStreamCommand() *cobra.Command {
	var (
		events     int
		duration   time.Duration
		ratesFlag  string
		bufferInt  time.Duration
		lakeURL    string
		vectorsURL string
		workDir    string
		streamURL  string
		cpuProfile string
		maxBatch   int
	)
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Measure the streaming pipeline against a plain consumer of the same broker, in the same run",
		Long: `bench stream measures, in this one process, with lab-format shopper events
from the simulator (the records recoflow produce publishes), on a fresh
JetStream stream: the embedded broker (nats-embedded, in the working
directory) by default, or the external NATS server given by --stream
nats://host:4222 (the stream is created for the run and deleted after), or
with --stream kfake Kafka: franz-go's in-process kfake cluster, a topic of
4 partitions per phase (the reference is then a plain franz-go consumer
group that commits its offsets at the end, the pipeline reads through
recoflow's Kafka source).

  backlog    --events events are published first (recoflow's producer); the
             phases below all read this same backlog, each with a durable
             consumer of its own.
  reference  a plain durable pull consumer of the same broker (nats.go's
             jetstream Consume, explicit acks): it reads the backlog and
             acknowledges each message, nothing else; events/s = events /
             (first read → last ack sent). Run before and after the
             pipeline; the ratios below are to the mean of the two runs.
  pipeline   recoflow stream's pipeline (its NATS source, the
             recommendations, the lake sink with --buffer-interval) reads the
             same backlog; events/s to the last recommendation computed, and
             to the last acknowledgement (every output durable in the lake,
             each acknowledgement confirmed by the server); each as a ratio
             to the reference (target ≥ 0.5).
  latency    for each of --rates, a paced producer for --duration while the
             pipeline runs, on a fresh stream: the time from each event's
             broker timestamp to its recommendations being computed (p50,
             p99; target p99 < 20 ms at 1,000/s) and to the acknowledgement of
             its batch, i.e. durable in the lake (p50, p99; target p99 ≤
             --buffer-interval + 1 s).
  memory     the peak Go heap (sampled every 100 ms) and the peak resident
             memory of the process during the measurements (the embedded
             broker's included when it is used).

The pipeline, the producer and the reference consumer run in this process;
the embedded broker too, unless --stream is given. The reference reaches the
broker over loopback TCP; the pipeline reaches the embedded broker in-process
and an external one over TCP. Without --lake and --vectors the demo's batch
stages first build a model and vector store in the working directory (under
a second); the outputs always go to a lake in the working directory.`,
		Example: `  recoflow bench stream
  recoflow bench stream --events 20000 --rates 1000,5000,10000 --duration 5s
  recoflow bench stream --stream kfake`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rates, err := parseRates(ratesFlag)
			switch {
			case err != nil:
				return usageError("--rates %q: %v", ratesFlag, err)
			case events < 1:
				return usageError("--events %d: want at least 1", events)
			case duration < 100*time.Millisecond:
				return usageError("--duration %s: want at least 100ms", duration)
			case bufferInt < 100*time.Millisecond:
				return usageError("--buffer-interval %s: want at least 100ms", bufferInt)
			case maxBatch < 0:
				return usageError("--max-batch %d: want a positive number", maxBatch)
			case (lakeURL == "") != (vectorsURL == ""):
				return usageError("--lake and --vectors: give both (an existing setup) or neither (the demo's, built first)")
			}
			server, err := benchNATSServer(streamURL)
			if err != nil {
				return usageError("--stream %q: %v", streamURL, err)
			}
			b := &streamBench{a: a, events: events, duration: duration, rates: rates, bufferInt: bufferInt, server: server, cpuProfile: cpuProfile, maxBatch: maxBatch}
			if server == kfakeBroker {
				b.server, b.kafka = "", true
			}
			return b.run(cmd.Context(), workDir, lakeURL, vectorsURL)
		},
	}
	f := cmd.Flags()
	f.IntVar(&events, "events", 50_000, "events of the reference and sustained-throughput phases")
	f.DurationVar(&duration, "duration", 10*time.Second, "how long each latency rate runs")
	f.StringVar(&ratesFlag, "rates", "1000,5000", "event rates (events/s) of the latency phases, comma-separated")
	f.DurationVar(&bufferInt, "buffer-interval", time.Second, "the lake sink's flush interval")
	f.StringVar(&lakeURL, "lake", "", "lake holding the model (with --vectors; default: run the demo's batch stages first)")
	f.StringVar(&vectorsURL, "vectors", "", "vector store of that model (with --lake)")
	f.StringVar(&workDir, "dir", "", "working directory (default: a temporary directory, removed after)")
	f.IntVar(&maxBatch, "max-batch", 0, "most events the pipeline's source reads at once, as recoflow stream --max-batch (default 500)")
	f.StringVar(&cpuProfile, "pipeline-cpu-profile", "", "write a Go CPU profile of the pipeline phase alone (the backlog read by the pipeline) to this file (read it with go tool pprof; --cpu-profile covers the whole command)")
	f.StringVar(&streamURL, "stream", "", "an external NATS JetStream server to measure on, nats://host:4222, or kfake: Kafka, franz-go's in-process kfake cluster (default: the embedded NATS broker, in the working directory)")
	return cmd
}

func parseRates(s string) ([]float64, error) {
	var rates []float64
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		r, err := strconv.ParseFloat(p, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("%q is not a positive rate", p)
		}
		rates = append(rates, r)
	}
	if len(rates) == 0 {
		return nil, errors.New("no rate")
	}
	return rates, nil
}

// streamBench is one run of bench stream.
type streamBench struct {
	a          *app
	events     int
	duration   time.Duration
	rates      []float64
	bufferInt  time.Duration
	server     string // nats://host:port of an external server; "" for the embedded one
	kafka      bool   // Kafka on an in-process kfake cluster instead of NATS
	cpuProfile string
	maxBatch   int

	kfake   *kfake.Cluster
	brokers []string // the kfake cluster's listen addresses

	dir     string
	natsDir string
	tag     string   // makes stream names unique on a shared server
	streams []string // created on the external server, deleted after
	engine  *recommend.Engine
	tr      *pipeline.Transformer
	data    []shopper.Event
	phase   int
}

// rateResult is one latency phase's figures.
type rateResult struct {
	rate, achieved           float64
	sent                     int
	computeP50, computeP99   time.Duration
	deliverP50, deliverP99   time.Duration
	computed, acked, samples int
	peakHeap                 uint64
}

// streamBenchReport is everything bench stream prints.
type streamBenchReport struct {
	events                  int
	avgSize                 float64
	broker                  string
	reference               string           // what the reference is
	publish                 time.Duration    // the backlog's publication
	refs                    [2]time.Duration // plain consumer: first read → last ack, before and after the pipeline
	pipeComputed, pipeAcked time.Duration    // pipeline start → last computed / last ack
	rates                   []rateResult
	peakHeap, peakRSS       uint64
	heapRef, heapPipeline   uint64 // peak Go heap during each phase
	rssNote                 string
	bufferInt               time.Duration
	duration                time.Duration
}

func (b *streamBench) run(ctx context.Context, workDir, lakeURL, vectorsURL string) error {
	a := b.a
	var err error
	if workDir == "" {
		workDir, err = os.MkdirTemp("", "recoflow-bench-stream-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(workDir)
	} else if err := os.MkdirAll(workDir, 0o777); err != nil {
		return err
	}
	if b.dir, err = filepath.Abs(workDir); err != nil {
		return err
	}
	b.natsDir = filepath.Join(b.dir, "nats")
	b.tag = strconv.FormatInt(time.Now().UnixNano()%1e12, 36) + strconv.Itoa(os.Getpid())
	defer b.deleteStreams()

	if lakeURL == "" {
		demoDir := filepath.Join(b.dir, "demo")
		a.log.Info("bench stream: building a model and vector store with the demo's batch stages", "dir", demoDir)
		if err := Run(ctx, []string{"demo", "--batch-only", "--dir", demoDir, "--log-level", "warn"}, Options{Stdout: io.Discard, Stderr: a.opts.Stderr, Getenv: a.opts.Getenv}); err != nil {
			return fmt.Errorf("bench stream setup: %w", err)
		}
		lakeURL, vectorsURL = "file://"+filepath.Join(demoDir, "lake"), "file://"+filepath.Join(demoDir, "vectors")
	}
	modelLake, err := connect.Lake(ctx, lakeURL, connect.LakeOptions{})
	if err != nil {
		return err
	}
	defer modelLake.Close()
	b.engine, err = recommend.Open(ctx, modelLake, vectorsURL, "", recommend.Options{Logger: a.log})
	if err != nil {
		return err
	}
	defer b.engine.Close()
	if b.tr, err = pipeline.NewTransformer(b.engine, pipeline.TransformOptions{}); err != nil {
		return err
	}

	sim, err := shopper.New(shopper.Config{Seed: 1})
	if err != nil {
		return err
	}
	b.data = make([]shopper.Event, b.events)
	var total int
	for i := range b.data {
		b.data[i] = sim.Next()
		total += len(b.data[i].Data)
	}
	rep := &streamBenchReport{events: b.events, avgSize: float64(total) / float64(b.events), bufferInt: b.bufferInt, duration: b.duration,
		broker: "embedded JetStream", reference: "plain durable pull consumer, ack each message"}
	switch {
	case b.kafka:
		// One topic per phase, seeded: the backlog's, then one per rate.
		var topics []string
		for i := 1; i <= 1+len(b.rates); i++ {
			topics = append(topics, b.kafkaTopic(i))
		}
		if b.kfake, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(kfakePartitions, topics...)); err != nil {
			return fmt.Errorf("bench stream: kfake cluster: %w", err)
		}
		defer b.kfake.Close()
		b.brokers = b.kfake.ListenAddrs()
		rep.broker = fmt.Sprintf("Kafka on kfake (franz-go's in-process cluster, %d partitions)", kfakePartitions)
		rep.reference = "plain consumer group (franz-go), commit at end"
	case b.server != "":
		rep.broker = "NATS JetStream at " + b.server
	}

	// Memory: from here on (the setup's training is not counted).
	runtime.GC()
	rep.rssNote = resetPeakRSS()
	mem := startMemSampler()

	if err := b.backlogPhases(ctx, rep, mem); err != nil {
		mem.stop()
		return err
	}
	for _, r := range b.rates {
		res, err := b.latency(ctx, r)
		if err != nil {
			mem.stop()
			return fmt.Errorf("latency phase at %g/s: %w", r, err)
		}
		res.peakHeap = mem.mark()
		a.log.Info("bench stream: latency done", "rate", r, "compute_p99", res.computeP99.String(), "deliver_p99", res.deliverP99.String())
		rep.rates = append(rep.rates, res)
	}
	rep.peakHeap = mem.stop()
	rep.peakRSS = peakRSS()
	return printStreamBench(a.opts.Stdout, rep)
}

// kfakeBroker is the --stream value that measures Kafka on an in-process
// kfake cluster.
const kfakeBroker = "kfake"

// kfakePartitions is how many partitions each topic of the kfake cluster has.
const kfakePartitions = 4

// benchNATSServer checks --stream: "" (the embedded broker), kfake, or a
// nats:// URL of one server, returned without path or query.
func benchNATSServer(raw string) (string, error) {
	if raw == "" || raw == kfakeBroker {
		return raw, nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "nats":
		return "", errors.New("want nats://host:port or kfake (other brokers are not measured by this benchmark)")
	case u.Host == "" || strings.Contains(u.Host, ","):
		return "", errors.New("want one server, nats://host:port")
	}
	return "nats://" + u.Host, nil
}

// nextURL is a fresh stream, subject and consumer on the broker; it
// returns the stream URL and the stream's name and subject.
func (b *streamBench) nextURL() (u, name, subject string) {
	b.phase++
	if b.kafka {
		name = b.kafkaTopic(b.phase)
		return "kafka://" + strings.Join(b.brokers, ",") + "/" + name, name, name
	}
	name = fmt.Sprintf("RECOFLOW_BENCH_%s_%d", b.tag, b.phase)
	subject = fmt.Sprintf("recoflow.bench.%s.%d", b.tag, b.phase)
	base := "nats-embedded://" + b.natsDir
	if b.server != "" {
		base = b.server
		b.streams = append(b.streams, name)
	}
	return fmt.Sprintf("%s?stream=%s&subject=%s&consumer=pipeline", base, name, subject), name, subject
}

// kafkaTopic names the kfake topic of a phase.
func (b *streamBench) kafkaTopic(phase int) string {
	return fmt.Sprintf("recoflow-bench-%s-%d", b.tag, phase)
}

// plainURL is the broker's client URL for the reference consumer: the
// external server, or the one the embedded broker publishes in its
// directory once it runs.
func (b *streamBench) plainURL() (string, error) {
	if b.kafka {
		return strings.Join(b.brokers, ","), nil
	}
	if b.server != "" {
		return b.server, nil
	}
	data, err := os.ReadFile(filepath.Join(b.natsDir, "server.url"))
	if err != nil {
		return "", fmt.Errorf("embedded broker's client URL: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// deleteStreams deletes the streams the run created on an external server.
func (b *streamBench) deleteStreams() {
	if len(b.streams) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := natsgo.Connect(b.server, natsgo.Name("recoflow bench stream cleanup"))
	if err != nil {
		b.a.log.Warn("bench stream: cannot delete its streams", "server", b.server, "err", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	for _, name := range b.streams {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			b.a.log.Warn("bench stream: cannot delete its stream", "stream", name, "err", err)
		}
	}
}

// open opens a source (first, so that its consumer exists) and a producer
// on a fresh stream.
func (b *streamBench) open(ctx context.Context) (*ackTimingSource, stream.Producer, error) {
	u, _, _ := b.nextURL()
	src, err := connect.Stream(ctx, u, connect.StreamOptions{Group: "bench", MaxBatch: b.maxBatch, Logger: b.a.log})
	if err != nil {
		return nil, nil, err
	}
	p, err := connect.Producer(ctx, u, connect.StreamOptions{Logger: b.a.log})
	if err != nil {
		src.Close(ctx)
		return nil, nil, err
	}
	return &ackTimingSource{Source: src}, p, nil
}

// publishAll publishes every event as fast as the producer takes them,
// then waits for the broker to confirm them all.
func (b *streamBench) publishAll(ctx context.Context, p stream.Producer) error {
	for _, ev := range b.data {
		if err := p.Publish(ctx, ev.Key, ev.Data); err != nil {
			return err
		}
	}
	return p.Flush(ctx)
}

// backlogPhases publishes the backlog, then has the plain consumer, the
// pipeline and the plain consumer again read it.
func (b *streamBench) backlogPhases(ctx context.Context, rep *streamBenchReport, mem *memSampler) error {
	ctx, cancel := context.WithTimeout(ctx, 3*phaseTimeout(b.events))
	defer cancel()
	u, name, subject := b.nextURL()
	p, err := connect.Producer(ctx, u, connect.StreamOptions{Logger: b.a.log})
	if err != nil {
		return err
	}
	// The producer stays open to the end: an embedded broker runs while
	// this process has a client of it.
	defer p.Close(context.Background())
	began := time.Now()
	if err := b.publishAll(ctx, p); err != nil {
		return fmt.Errorf("backlog: publish: %w", err)
	}
	rep.publish = time.Since(began)
	plain, err := b.plainURL()
	if err != nil {
		return err
	}
	if rep.refs[0], err = b.reference(ctx, plain, name, subject, "reference1"); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	b.a.log.Info("bench stream: reference done", "events_per_s", fmt.Sprintf("%.0f", float64(b.events)/rep.refs[0].Seconds()))
	rep.heapRef = mem.mark()

	src, err := connect.Stream(ctx, u, connect.StreamOptions{Group: "pipeline", MaxBatch: b.maxBatch, Logger: b.a.log})
	if err != nil {
		return err
	}
	ts := &ackTimingSource{Source: src}
	if b.cpuProfile != "" {
		f, err := os.Create(b.cpuProfile)
		if err != nil {
			src.Close(ctx)
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			src.Close(ctx)
			return err
		}
		defer func() {
			pprof.StopCPUProfile() // no-op once stopped
			f.Close()
		}()
	}
	start := time.Now()
	run, err := b.startPipeline(ctx, ts, false)
	if err != nil {
		src.Close(ctx)
		return err
	}
	werr := ts.waitAcked(ctx, int64(b.events), run.done)
	computedAt := time.Unix(0, run.lastComp.Load())
	ackedAt := time.Unix(0, ts.lastAck.Load())
	if serr := run.stop(); werr == nil && serr != nil {
		werr = serr
	}
	if werr != nil {
		return fmt.Errorf("pipeline: %w", werr)
	}
	pprof.StopCPUProfile()
	rep.pipeComputed, rep.pipeAcked = computedAt.Sub(start), ackedAt.Sub(start)
	b.a.log.Info("bench stream: pipeline done", "events_per_s", fmt.Sprintf("%.0f", float64(b.events)/rep.pipeComputed.Seconds()))
	rep.heapPipeline = mem.mark()

	if rep.refs[1], err = b.reference(ctx, plain, name, subject, "reference2"); err != nil {
		return fmt.Errorf("reference, second run: %w", err)
	}
	rep.heapRef = max(rep.heapRef, mem.mark())
	return nil
}

// reference runs the plain consumer of the broker on the backlog.
func (b *streamBench) reference(ctx context.Context, plain, name, subject, group string) (time.Duration, error) {
	if b.kafka {
		return plainKafkaConsume(ctx, strings.Split(plain, ","), name, group, b.events)
	}
	return plainConsume(ctx, plain, name, subject, group, b.events)
}

// plainKafkaConsume is the Kafka reference: a franz-go consumer group of
// its own on the topic, from the start, that polls until it has n records
// and then commits their offsets (a plain consumer with franz-go's
// defaults, which also commit in the background while it reads); it
// returns the time from its start (joining the group included, as the
// pipeline's source joins its own) to the final commit's return.
func plainKafkaConsume(ctx context.Context, brokers []string, topic, group string, n int) (time.Duration, error) {
	start := time.Now()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("recoflow bench stream reference"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	count := 0
	for count < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("%d of %d records read: %w", count, n, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return 0, ferr
		}
		count += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return time.Since(start), nil
}

// plainConsume is the reference: a durable pull consumer of its own on
// the stream, with nats.go's jetstream Consume, that reads n messages
// and acknowledges each (a plain ack, as a consumer that does nothing
// else would); it returns the time from its start to the last ack sent
// and flushed to the server.
func plainConsume(ctx context.Context, serverURL, streamName, subject, durable string, n int) (time.Duration, error) {
	nc, err := natsgo.Connect(serverURL, natsgo.Name("recoflow bench stream reference"))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{
		Durable:       durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: subject,
		MaxAckPending: 4 * stream.DefaultMaxInFlight, // as recoflow's source
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	var (
		mu    sync.Mutex
		count int
		first error
	)
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		err := m.Ack()
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		if count++; count == n {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return 0, fmt.Errorf("%d of %d events read: %w", count, n, ctx.Err())
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return 0, err
	}
	wall := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return 0, fmt.Errorf("ack: %w", first)
	}
	return wall, nil
}

// pipelineRun runs the pipeline on src with the lake sink on a fresh
// output lake until stop is called, which waits for Run to return.
type pipelineRun struct {
	cancel context.CancelFunc
	done   chan error

	computed atomic.Int64
	lastComp atomic.Int64 // unix nanoseconds of the last OnComputed
	mu       sync.Mutex
	lat      []time.Duration
	keepLat  bool
}

func (b *streamBench) startPipeline(ctx context.Context, src stream.Source, keepLat bool) (*pipelineRun, error) {
	out, err := connect.Lake(ctx, filepath.Join(b.dir, fmt.Sprintf("out%d", b.phase)), connect.LakeOptions{})
	if err != nil {
		return nil, err
	}
	snk, err := connect.Sink(ctx, "", out, connect.SinkOptions{BufferInterval: b.bufferInt, Stream: "bench", Logger: b.a.log})
	if err != nil {
		out.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &pipelineRun{cancel: cancel, done: make(chan error, 1), keepLat: keepLat}
	go func() {
		err := pipeline.Run(rctx, src, b.tr, snk, pipeline.Options{
			Log: b.a.log, ShutdownGrace: 10 * time.Second,
			OnComputed: func(n int, l []time.Duration) {
				r.lastComp.Store(time.Now().UnixNano())
				r.computed.Add(int64(n))
				if r.keepLat {
					r.mu.Lock()
					r.lat = append(r.lat, l...)
					r.mu.Unlock()
				}
			},
		})
		out.Close()
		r.done <- err
	}()
	return r, nil
}

func (r *pipelineRun) stop() error {
	r.cancel()
	return <-r.done
}

// latency runs a paced producer at rate for b.duration while the pipeline
// runs, then waits until everything published is acknowledged.
func (b *streamBench) latency(ctx context.Context, rate float64) (rateResult, error) {
	res := rateResult{rate: rate}
	ctx, cancel := context.WithTimeout(ctx, b.duration+b.bufferInt+2*time.Minute)
	defer cancel()
	src, p, err := b.open(ctx)
	if err != nil {
		return res, err
	}
	defer p.Close(context.Background())
	src.keepLat = true
	run, err := b.startPipeline(ctx, src, true)
	if err != nil {
		src.Close(ctx)
		return res, err
	}
	sent, elapsed, perr := b.publishPaced(ctx, p, rate)
	res.sent = sent
	res.achieved = float64(sent) / elapsed.Seconds()
	werr := perr
	if werr == nil {
		werr = src.waitAcked(ctx, int64(sent), run.done)
	}
	if serr := run.stop(); werr == nil && serr != nil {
		werr = serr
	}
	if werr != nil {
		return res, werr
	}
	res.computed = int(run.computed.Load())
	res.acked = int(src.acked.Load())
	res.samples = len(run.lat)
	res.computeP50, res.computeP99 = percentiles(run.lat)
	res.deliverP50, res.deliverP99 = percentiles(src.lat)
	return res, nil
}

// publishPaced publishes at rate events per second for b.duration, in
// small bursts every 2 ms (catching up at most 100 ms behind).
func (b *streamBench) publishPaced(ctx context.Context, p stream.Producer, rate float64) (int, time.Duration, error) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	sent, skipped := 0, 0
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return sent, time.Since(start), ctx.Err()
		case now = <-t.C:
		}
		el := now.Sub(start)
		if el >= b.duration {
			el = b.duration
		}
		want := int(rate*el.Seconds()) - skipped
		if behind := want - sent; float64(behind) > rate/10 { // more than 100 ms behind: do not burst it all
			skipped += behind - int(rate/10)
			want = sent + int(rate/10)
		}
		for ; sent < want; sent++ {
			ev := b.data[sent%len(b.data)]
			if err := p.Publish(ctx, ev.Key, ev.Data); err != nil {
				return sent, time.Since(start), err
			}
		}
		if el >= b.duration {
			elapsed := time.Since(start)
			return sent, elapsed, p.Flush(ctx)
		}
	}
}

func phaseTimeout(events int) time.Duration {
	return 2*time.Minute + time.Duration(events)*time.Millisecond
}

// ackTimingSource records, per batch, when its acknowledgement returned:
// the count of acknowledged messages, the time of the last, and (keepLat)
// each message's time from its broker timestamp to that moment.
type ackTimingSource struct {
	stream.Source
	keepLat bool

	acked   atomic.Int64
	lastAck atomic.Int64 // unix nanoseconds
	mu      sync.Mutex
	lat     []time.Duration
}

func (s *ackTimingSource) ReadBatch(ctx context.Context) (stream.Batch, stream.AckFunc, error) {
	batch, ack, err := s.Source.ReadBatch(ctx)
	if err != nil || ack == nil {
		return batch, ack, err
	}
	var times []time.Time
	if s.keepLat {
		times = make([]time.Time, 0, len(batch))
		for _, m := range batch {
			if !m.Time.IsZero() {
				times = append(times, m.Time)
			}
		}
	}
	n := int64(len(batch))
	var once sync.Once
	return batch, func(ctx context.Context) error {
		if err := ack(ctx); err != nil {
			return err
		}
		once.Do(func() {
			now := time.Now()
			if len(times) > 0 {
				s.mu.Lock()
				for _, t := range times {
					s.lat = append(s.lat, now.Sub(t))
				}
				s.mu.Unlock()
			}
			s.lastAck.Store(now.UnixNano())
			s.acked.Add(n)
		})
		return nil
	}, nil
}

// waitAcked polls until n messages are acknowledged, the pipeline stops
// (done yields its error, put back for stop) or ctx ends.
func (s *ackTimingSource) waitAcked(ctx context.Context, n int64, done chan error) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for s.acked.Load() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d events acknowledged: %w", s.acked.Load(), n, ctx.Err())
		case err := <-done:
			done <- err
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("pipeline ended with %d of %d events acknowledged: %w", s.acked.Load(), n, err)
		case <-t.C:
		}
	}
	return nil
}

// memSampler samples the Go heap every 100 ms and keeps the peak, overall
// and since the last mark.
type memSampler struct {
	quit chan struct{}
	done chan uint64

	mu            sync.Mutex
	peak, current uint64
}

const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func startMemSampler() *memSampler {
	m := &memSampler{quit: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		sample := []metrics.Sample{{Name: heapObjectsMetric}}
		read := func() {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				v := sample[0].Value.Uint64()
				m.mu.Lock()
				m.peak, m.current = max(m.peak, v), max(m.current, v)
				m.mu.Unlock()
			}
		}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-m.quit:
				read()
				m.mu.Lock()
				m.done <- m.peak
				m.mu.Unlock()
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// mark returns the peak since the last mark and starts a new one.
func (m *memSampler) mark() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.current
	m.current = 0
	return p
}

func (m *memSampler) stop() uint64 {
	close(m.quit)
	return <-m.done
}

// resetPeakRSS resets the kernel's peak-RSS mark of this process (Linux
// /proc/self/clear_refs "5"), so that peakRSS covers the measurements
// only; it returns a note when it cannot.
func resetPeakRSS() string {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return "whole process, setup included"
	}
	if _, ok := vmHWM(); !ok {
		return "whole process, setup included"
	}
	return ""
}

// peakRSS is VmHWM when available, else getrusage's maximum RSS.
func peakRSS() uint64 {
	if v, ok := vmHWM(); ok {
		return v
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return uint64(ru.Maxrss) * 1024 // kilobytes on Linux
}

func vmHWM() (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func printStreamBench(w io.Writer, r *streamBenchReport) error {
	n := float64(r.events)
	ref1, ref2 := n/r.refs[0].Seconds(), n/r.refs[1].Seconds()
	ref := (ref1 + ref2) / 2
	comp := n / r.pipeComputed.Seconds()
	acked := n / r.pipeAcked.Seconds()
	fmt.Fprintf(w, "bench stream: %s; pipeline, producer and reference consumer in one process on %d CPUs; a backlog of %d events of %.0f B on average; lake sink, buffer interval %s\n",
		r.broker, runtime.NumCPU(), r.events, r.avgSize, r.bufferInt)
	fmt.Fprintf(w, "  backlog    published with recoflow's producer             %9.0f events/s  (not a reference)\n", n/r.publish.Seconds())
	fmt.Fprintf(w, "  reference  %-46s %9.0f events/s  (before the pipeline %.0f, after %.0f)\n", r.reference, ref, ref1, ref2)
	fmt.Fprintf(w, "  pipeline   same backlog, to recommendations computed      %9.0f events/s  ratio %.2f  (target ≥ 0.5)\n", comp, comp/ref)
	fmt.Fprintf(w, "  pipeline   same backlog, to durable in the lake and acked %9.0f events/s  ratio %.2f  (includes the last flush, ≤ %s)\n", acked, acked/ref, r.bufferInt)
	for _, x := range r.rates {
		target := ""
		if x.rate <= 1000 {
			target = "  (target p99 < 20 ms)"
		}
		fmt.Fprintf(w, "  latency    broker → computed    at %6.0f/s (achieved %6.0f/s, %d events)  p50 %10s  p99 %10s%s\n",
			x.rate, x.achieved, x.sent, ms(x.computeP50), ms(x.computeP99), target)
	}
	for _, x := range r.rates {
		fmt.Fprintf(w, "  delivery   broker → lake + ack  at %6.0f/s (interval %s)  p50 %10s  p99 %10s  (target p99 ≤ %s)\n",
			x.rate, r.bufferInt, ms(x.deliverP50), ms(x.deliverP99), r.bufferInt+time.Second)
	}
	note := ""
	if r.rssNote != "" {
		note = " (" + r.rssNote + ")"
	}
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "  memory     peak Go heap %s (sampled every 100 ms), peak RSS %s%s\n", mib(r.peakHeap), mib(r.peakRSS), note)
	var phases []string
	phases = append(phases, "reference "+mib(r.heapRef), "pipeline "+mib(r.heapPipeline))
	for _, x := range r.rates {
		phases = append(phases, fmt.Sprintf("%.0f/s %s", x.rate, mib(x.peakHeap)))
	}
	_, err := fmt.Fprintf(w, "  memory     peak Go heap by phase: %s\n", strings.Join(phases, ", "))
	return err
}
