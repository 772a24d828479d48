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

// TestTransformCachedSameBytes: a batch transformed again (its shoppers'
// and products' answers now cached, in chunks on every core) gives the
// same records, byte for byte, as the first time and as one worker.
func TestTransformCachedSameBytes(t *testing.T) {
	_, eng := prepareShared(t)
	sim, err := shopper.New(shopper.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]stream.Message, 1000)
	for i := range msgs {
		msgs[i] = stream.Message{ID: fmt.Sprint(i), Data: sim.Next().Data}
	}
	msgs[10].Data = []byte(`{"session_id":"x"`) // a dead letter among them
	ctx := context.Background()
	one, err := pipeline.NewTransformer(eng, pipeline.TransformOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	many, err := pipeline.NewTransformer(eng, pipeline.TransformOptions{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	want, wantErrs, err := one.Transform(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 999 || len(wantErrs) != 1 || wantErrs[0].ID != "10" {
		t.Fatalf("%d records and %d errors", len(want), len(wantErrs))
	}
	for round := range 2 {
		got, errs, err := many.Transform(ctx, msgs)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(errs) != 1 {
			t.Fatalf("round %d: %d records and %d errors", round, len(got), len(errs))
		}
		for i := range got {
			if got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) {
				t.Fatalf("round %d, record %d:\n got %s %s\nwant %s %s", round, i, got[i].ID, got[i].Data, want[i].ID, want[i].Data)
			}
		}
	}
}
