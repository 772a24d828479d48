package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/shopper"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/stream"
	"github.com/spf13/cobra"
)

// defaultStream is the event stream commands use when --stream is not
// given: JetStream served in-process from recoflow-data/nats.
const defaultStream = connect.DefaultStream

func (a *app) produceCommand() *cobra.Command {
	var (
		streamURL        string
		rate             float64
		count            int64
		cfg              shopper.Config
		dryRun           bool
		specFile         string
		sourceURL        string
		flushInterval    time.Duration
		progressInterval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Publish simulated shopper activity (the lab's event records, or a dataset spec's) to an event stream",
		Long: `produce simulates shoppers browsing the shop and publishes their activity to
an event stream, one JSON record per event, in the format of the lab's stream:

  {"session_id":"2f6c1a9e-…","customer_number":141,"city":"Madrid",
   "country":"Spain","credit_limit":227600,"browse_history":[
     {"product_code":"S18_3232","quantity":"2","in_shopping_cart":true},
     {"product_code":"S10_1949","quantity":1,"in_shopping_cart":false}]}

Shoppers are the classicmodels customers (number, city, country and credit
limit as in the shop's database) and, for --new-shoppers of the sessions,
shoppers the database has never seen (numbers from 10000 up). Each session
browses 1 to 6 real products of the catalog, mostly of one product line, and
puts items into and out of its cart; each step is one event carrying the
whole browse history so far, with quantities sometimes as strings and
sometimes as numbers, as in the lab. --sessions sessions browse at once, so
their events interleave. The session id is the partition key: a partitioned
stream (Kafka, Kinesis) keeps a session's events in order.

With a dataset spec (--dataset FILE, or the config file's dataset key), the
shoppers and items are the shop's own, read from the spec's users and items
tables in --source (checked against the spec first), and each record has the
fields the spec's stream section maps (its defaults when it has none), as
recoflow stream --dataset reads them: the session, the user's id, the user
features it names, and the browsed items with their id, quantity and in-cart
fields. For the movie shop of docs/DATASET_SPEC.md:

  {"session":"5dd691f0-…","user":"3f2a-ana","country":"Portugal","age":34,
   "viewed":[{"movie":2,"copies":2},{"movie":1,"copies":"1"}]}

A new shopper gets an id the shop does not have (integer ids: above the
largest; string ids: "new-" and hex digits) and the features of one of its
users. A user whose mapped numeric feature is null or negative (which the
stream refuses) is left out; shoppers mostly browse one category of the
items' first categorical feature.

The events are the same for the same --seed. --rate paces them (events per
second, 0 for as fast as the stream takes them); --count stops after that
many (0: until interrupted, then a summary). Progress is reported on stderr,
a summary with the rate achieved on stdout. --dry-run writes the records to
stdout, one per line, instead of publishing them.

Streams, by URL (--stream):
` + connect.StreamURLHelp,
		Example: `  # 1,000 events at 100 per second into the embedded stream (the default)
  recoflow produce --count 1000 --rate 100

  # a steady 1,000 events/s to a NATS server until Ctrl-C
  recoflow produce --stream nats://127.0.0.1:4222 --rate 1000 --count 0

  # Kafka and Kinesis (moto, creating a 2-shard stream if missing)
  recoflow produce --stream kafka://127.0.0.1:9092/shopper-events --count 5000
  recoflow produce --stream 'kinesis://shopper-events?endpoint=http://127.0.0.1:5000&shards=2'

  # look at the records without a stream
  recoflow produce --dry-run --count 3 --seed 7

  # another shop's events, as its dataset spec's stream section maps them
  recoflow produce --dataset movie-shop.yaml --source sqlite://shop.db --count 5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case rate < 0:
				return usageError("--rate %g: want events per second, or 0 for no limit", rate)
			case count < 0:
				return usageError("--count %d: want a number of events, or 0 for no limit", count)
			case progressInterval <= 0:
				return usageError("--progress-interval %s: want a positive duration", progressInterval)
			case flushInterval <= 0:
				return usageError("--flush-interval %s: want a positive duration", flushInterval)
			}
			if cfg.NewShopperShare == 0 {
				cfg.NewShopperShare = -1 // none (the simulator's zero means its default)
			}
			ctx := cmd.Context()
			spec, from, err := a.resolveDataset(cmd, specFile)
			if err != nil {
				return err
			}
			if !from.builtIn {
				if cfg.Shop, err = a.readShop(ctx, spec, from, sourceURL); err != nil {
					return err
				}
			}
			sim, err := shopper.New(cfg)
			if err != nil {
				return usageError("%v", strings.TrimPrefix(err.Error(), "shopper: "))
			}
			var out sink
			shown := connect.Redact(streamURL)
			if dryRun {
				out = &writerSink{w: a.opts.Stdout}
				shown = "stdout"
			} else {
				p, err := connect.Producer(ctx, streamURL, connect.StreamOptions{Logger: a.log})
				if err != nil {
					return err
				}
				out = p
				shown = p.String()
			}
			a.log.Info("producing", "stream", shown, "rate", rate, "count", count, "seed", cfg.Seed)
			res, runErr := a.produce(ctx, sim, out, rate, count, flushInterval, progressInterval)
			closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := out.Close(closeCtx); err != nil && runErr == nil {
				runErr = err
			}
			if res.sent > 0 || runErr == nil {
				a.log.Info("produced", "stream", shown, "events", res.sent, "elapsed", res.elapsed.Round(time.Millisecond).String())
				if !dryRun {
					if err := printProduceSummary(a.opts.Stdout, shown, streamURL, from.file, res, rate, sim.Stats(), cfg.Seed); err != nil {
						return err
					}
				}
			}
			if errors.Is(runErr, context.Canceled) && count == 0 {
				return nil // --count 0 runs until interrupted
			}
			if errors.Is(runErr, context.Canceled) {
				return fmt.Errorf("interrupted after %d of %d events", res.sent, count)
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&streamURL, "stream", defaultStream, "event stream URL: nats-embedded://dir, nats://host:4222, kafka://broker:9092/topic or kinesis://stream")
	f.Float64Var(&rate, "rate", 100, "events per second (0: as fast as the stream takes them)")
	f.Int64Var(&count, "count", 1000, "events to publish (0: until interrupted)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed; the same seed gives the same events")
	f.IntVar(&cfg.Sessions, "sessions", shopper.DefaultSessions, "shopping sessions active at once")
	f.Float64Var(&cfg.NewShopperShare, "new-shoppers", shopper.DefaultNewShopperShare, "share of sessions by shoppers the shop's database has never seen (0..1)")
	f.BoolVar(&dryRun, "dry-run", false, "write the records to stdout instead of publishing them")
	f.StringVar(&specFile, "dataset", "", "dataset spec file (YAML): simulate that shop's users and items and write its stream section's records (default: the config file's dataset key, else the built-in classicmodels spec: the lab's records)")
	f.StringVar(&sourceURL, "source", defaultSource, "source database URL holding the spec's users and items tables (with --dataset; the lab's shoppers come built in)")
	f.DurationVar(&flushInterval, "flush-interval", time.Second, "how often to wait for the stream to confirm what was published")
	f.DurationVar(&progressInterval, "progress-interval", 2*time.Second, "how often to report progress when stderr is not a terminal")
	return cmd
}

// readShop reads the users and items of spec (not the built-in one) from
// the source database at sourceURL, for the simulator.
func (a *app) readShop(ctx context.Context, spec *dataset.Spec, from specFrom, sourceURL string) (*shopper.Shop, error) {
	if _, err := shopper.FormatOf(spec); err != nil { // the mapping first: no database needed to refuse it
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: %w", from, err)}
	}
	db, err := connect.Source(ctx, sourceURL, connect.SourceOptions{})
	if errors.Is(err, source.ErrNotExist) {
		return nil, fmt.Errorf("%w: produce --dataset reads the shop's users and items from --source; seed or point it at the shop's database", err)
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	shop, st, err := shopper.ReadShop(ctx, db, spec)
	if err != nil {
		return nil, fmt.Errorf("%s, source %s: %w", from, connect.Redact(sourceURL), err)
	}
	f := shop.Format
	a.log.Info("shop read", "spec", spec.Name, "spec_from", from.String(), "source", db.String(), "users", st.Users, "items", st.Items,
		"users_left_out", st.SkippedUsers, "items_left_out", st.SkippedItems, "grouped_by", st.GroupFeature)
	a.log.Info("event fields", "session", f.Session, "user_id", f.UserID, "user_features", len(f.UserFeatures),
		"browsed_items", f.BrowsedItems, "item_id", f.ItemID, "quantity", f.Quantity, "in_cart", f.InCart)
	return shop, nil
}

// sink is where produced events go: a stream producer, or stdout.
type sink interface {
	Publish(ctx context.Context, key string, data []byte) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// writerSink writes records as newline-delimited JSON (--dry-run).
type writerSink struct {
	w   io.Writer
	err error
}

func (s *writerSink) Publish(_ context.Context, _ string, data []byte) error {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, "%s\n", data)
	}
	return s.err
}
func (s *writerSink) Flush(context.Context) error { return s.err }
func (s *writerSink) Close(context.Context) error { return s.err }

var _ sink = stream.Producer(nil)

type produceResult struct {
	sent    int64 // acknowledged by the stream (written, for --dry-run)
	elapsed time.Duration
}

// ackProgress is implemented by producers that can tell how much the broker
// has acknowledged so far (NATS); for the others, what a Flush confirmed
// counts.
type ackProgress interface {
	Progress() (acked int64, pending int)
}

// produce publishes count events (0: until ctx ends) at rate events per
// second (0: unpaced), confirming them every flushInterval. A progress line
// (acknowledged, rate, pending) comes every progressInterval from a
// goroutine of its own, so that it shows a producer that is stuck too. The
// result counts only acknowledged events.
func (a *app) produce(ctx context.Context, sim *shopper.Simulator, out sink, rate float64, count int64,
	flushInterval, progressInterval time.Duration) (produceResult, error) {
	start := time.Now()
	pace := newPacer(start, rate)
	var published, confirmed atomic.Int64
	progress := func() (acked, pending int64) {
		if pr, ok := out.(ackProgress); ok {
			n, p := pr.Progress()
			return n, int64(p)
		}
		c := confirmed.Load()
		return c, published.Load() - c
	}
	if a.opts.IsTerminal {
		progressInterval = min(progressInterval, 200*time.Millisecond)
	}
	stopProgress := a.produceProgress(start, count, max(progressInterval, 10*time.Millisecond), progress)
	result := func(err error) (produceResult, error) {
		stopProgress()
		acked, _ := progress()
		return produceResult{sent: acked, elapsed: time.Since(start)}, err
	}
	lastFlush := start
	for n := int64(0); count == 0 || n < count; n++ {
		if err := pace.wait(ctx, n); err != nil {
			return result(err)
		}
		ev := sim.Next()
		if err := out.Publish(ctx, ev.Key, ev.Data); err != nil {
			return result(err)
		}
		published.Add(1)
		if now := time.Now(); now.Sub(lastFlush) >= flushInterval {
			lastFlush = now
			if err := out.Flush(ctx); err != nil {
				return result(err)
			}
			confirmed.Store(n + 1)
		}
	}
	err := out.Flush(ctx)
	if err == nil {
		confirmed.Store(published.Load())
	}
	return result(err)
}

// produceProgress reports the producer's progress every interval until the
// returned function is called, which reports it a last time.
func (a *app) produceProgress(start time.Time, total int64, interval time.Duration, progress func() (acked, pending int64)) (stop func()) {
	var (
		lastAcked int64
		lastTime  = start
		drawn     bool
	)
	report := func(now time.Time) {
		acked, pending := progress()
		rate := float64(acked-lastAcked) / max(now.Sub(lastTime).Seconds(), 1e-9)
		lastAcked, lastTime = acked, now
		if a.opts.IsTerminal {
			line := fmt.Sprintf("produce: %s events acknowledged", groupDigits(acked))
			if total > 0 {
				line = fmt.Sprintf("produce: %s/%s events acknowledged (%.0f%%)", groupDigits(acked), groupDigits(total),
					100*float64(acked)/float64(total))
			}
			fmt.Fprintf(a.opts.Stderr, "\r\033[K%s, %s/s, %s pending", line, groupDigits(int64(rate+0.5)), groupDigits(pending))
			drawn = true
			return
		}
		args := []any{"stage", "produce", "acked", acked, "rate", fmt.Sprintf("%.0f/s", rate), "pending", pending,
			"elapsed", now.Sub(start).Round(time.Millisecond).String()}
		if total > 0 {
			args = append(args, "total", total)
		}
		a.log.Info("progress", args...)
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				report(now)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
			report(time.Now())
			if drawn {
				fmt.Fprintln(a.opts.Stderr)
			}
		})
	}
}

// pacer spaces events evenly at a rate. When the producer falls behind
// (the stream was slow) it catches up by at most maxBurst before it
// forgives the rest of the lag, so a stall is not followed by a flood.
//
// Event n is due at start + (n-base)*interval. Forgiving lag moves the
// schedule later: start and base are set so that the current event is
// maxBurst late, never earlier (an earlier version moved it the other way,
// which doubled the lag with every event until the time overflowed and the
// next event was due centuries ahead: produce sat silent, seen once in 22
// runs after a stall of more than a second).
type pacer struct {
	start    time.Time
	base     int64         // the event due at start
	interval time.Duration // 0: no pacing
	skipped  int64         // events forgiven after stalls
	now      func() time.Time
}

const maxBurst = time.Second

func newPacer(start time.Time, rate float64) *pacer {
	p := &pacer{start: start, now: time.Now}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// delay is how long event n (0-based, called in order) is still to wait;
// zero or less means it is due.
func (p *pacer) delay(n int64) time.Duration {
	if p.interval == 0 {
		return 0
	}
	now := p.now()
	d := p.start.Add(time.Duration(n-p.base) * p.interval).Sub(now)
	if -d > maxBurst { // far behind: forgive all but maxBurst of the lag
		p.skipped += int64((-d - maxBurst) / p.interval)
		p.start, p.base = now.Add(-maxBurst), n
		d = -maxBurst
	}
	return d
}

// wait blocks until event n (0-based) is due, or ctx ends.
func (p *pacer) wait(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := p.delay(n)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func printProduceSummary(w io.Writer, shown, rawURL, specFile string, res produceResult, target float64, st shopper.Stats, seed uint64) error {
	var b strings.Builder
	achieved := float64(res.sent) / max(res.elapsed.Seconds(), 1e-9)
	fmt.Fprintf(&b, "produced %s events in %s\n", groupDigits(res.sent), res.elapsed.Round(time.Millisecond))
	if target > 0 {
		fmt.Fprintf(&b, "  rate          %s events/s (target %s/s)\n", groupDigits(int64(achieved+0.5)), groupDigits(int64(target+0.5)))
	} else {
		fmt.Fprintf(&b, "  rate          %s events/s (unpaced)\n", groupDigits(int64(achieved+0.5)))
	}
	fmt.Fprintf(&b, "  sessions      %s (%s by shoppers the shop has never seen)\n", groupDigits(st.Sessions), groupDigits(st.NewShoppers))
	fmt.Fprintf(&b, "  seed          %d\n", seed)
	fmt.Fprintf(&b, "  stream        %s\n", shown)
	next := "recoflow stream"
	if rawURL != defaultStream {
		next += " --stream " + connect.Redact(rawURL)
	}
	if specFile != "" {
		next += " --dataset " + specFile
	}
	fmt.Fprintf(&b, "next: %s\n", next)
	_, err := io.WriteString(w, b.String())
	return err
}
