package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/shopper"
	"github.com/recoflow/recoflow/stream"
)

// BenchmarkTransform transforms batches of the simulator's lab-format
// events with the demo's model and embedded vector store (the pipeline's
// per-batch step without broker or sink). Profile it with
// go test -run '^$' -bench Transform -cpuprofile cpu.out ./pipeline.
func BenchmarkTransform(b *testing.B) {
	_, eng := prepareShared(b)
	sim, err := shopper.New(shopper.Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{64, 512} {
		msgs := make([]stream.Message, 8*size)
		var bytes int
		for i := range msgs {
			ev := sim.Next()
			msgs[i] = stream.Message{ID: fmt.Sprint(i), Data: ev.Data}
			bytes += len(ev.Data)
		}
		tr, err := pipeline.NewTransformer(eng, pipeline.TransformOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			b.SetBytes(int64(bytes / len(msgs) * size))
			ctx := context.Background()
			n := 0
			for b.Loop() {
				off := (n % 8) * size
				n++
				if _, _, err := tr.Transform(ctx, msgs[off:off+size]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
