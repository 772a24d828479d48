package nats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const benchMsgSize = 1024

// BenchmarkEmbeddedBroker measures the embedded broker alone: nats.go's
// own async JetStream publishing and a durable pull consumer (its
// Messages iterator) acking every message explicitly, running together,
// 1 KiB messages. This is the reference the streaming target compares
// recoflow against.
func BenchmarkEmbeddedBroker(b *testing.B) {
	ctx := context.Background()
	cfg, err := Config{EmbeddedDir: b.TempDir()}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	c, err := dial(ctx, cfg, cfg.Source.Logger, jetstream.WithPublishAsyncMaxPending(maxPendingPublishes))
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	cons, err := c.js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1, FilterSubject: cfg.Subject,
	})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, benchMsgSize)
	b.SetBytes(benchMsgSize)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < b.N; {
			_, err := c.js.PublishAsync(cfg.Subject, data)
			switch {
			case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
				<-c.js.PublishAsyncComplete() // wait for the broker, then go on
			case err != nil:
				b.Error(err)
				return
			default:
				i++
			}
		}
		<-c.js.PublishAsyncComplete()
	})
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		m, err := it.Next(jetstream.NextMaxWait(30 * time.Second))
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			b.Fatal(err)
		}
	}
	it.Stop()
	if err := c.nc.Flush(); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkEmbeddedSource measures this package's Producer and Source on
// the embedded broker, under the same load as BenchmarkEmbeddedBroker:
// ReadBatch batches of up to 500 and a confirmed ack per batch.
func BenchmarkEmbeddedSource(b *testing.B) {
	ctx := context.Background()
	cfg := Config{EmbeddedDir: b.TempDir()}
	p, err := NewProducer(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	s, err := NewSource(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	data := make([]byte, benchMsgSize)
	b.SetBytes(benchMsgSize)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		for range b.N {
			if err := p.Publish(ctx, "session", data); err != nil {
				b.Error(err)
				return
			}
		}
		if err := p.Flush(ctx); err != nil {
			b.Error(err)
		}
	})
	for n := 0; n < b.N; {
		batch, ack, err := s.ReadBatch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n += len(batch)
		if err := ack(ctx); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// ackBatchSize is the batch BenchmarkAckBatch acks: the default MaxBatch.
const ackBatchSize = 500

// BenchmarkAckBatch measures acking one batch of 500 messages on the real
// server of RECOFLOW_TEST_NATS, from the first ack sent to the server's
// confirmation (conn.confirmAcks, what a Source's ack does). Publishing and
// fetching each batch are not timed.
func BenchmarkAckBatch(b *testing.B) {
	ctx := context.Background()
	cfg := realNATS(b)
	cfg.Source.MaxBatch = ackBatchSize
	p := open(b, NewProducer, cfg)
	defer p.Close(ctx)
	s := open(b, NewSource, cfg)
	defer s.Close(ctx)
	data := make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for range ackBatchSize {
			if err := p.Publish(ctx, "k", data); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		var msgs []jetstream.Msg
		for len(msgs) < ackBatchSize {
			more, err := take(s.cons.Fetch(ackBatchSize-len(msgs), jetstream.FetchMaxWait(30*time.Second)))
			if err != nil && len(more) == 0 {
				b.Fatalf("fetch after %d messages: %v", len(msgs), err)
			}
			msgs = append(msgs, more...)
		}
		b.StartTimer()
		if err := s.c.confirmAcks(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}
