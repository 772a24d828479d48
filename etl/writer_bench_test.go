package etl

import (
	"context"
	"io"
	"testing"

	"github.com/recoflow/recoflow/training"
)

// BenchmarkPartitionWriter encodes 1,000 partitions of 25 ratings each (the
// sample's shape: many small files), the cost per file that a writer per
// file adds to.
func BenchmarkPartitionWriter(b *testing.B) {
	state, postal := "CA", "94217"
	batch := make([]training.Record, 0, 25_000)
	for c := int32(0); c < 1000; c++ {
		for p := 0; p < 25; p++ {
			batch = append(batch, training.Record{CustomerNumber: c, Row: training.Row{
				City: "San Francisco", State: &state, PostalCode: &postal, Country: "USA", CreditLimit: 2100000,
				ProductCode: "S10_1678", ProductLine: "Motorcycles", ProductScale: "1:10", QuantityInStock: 7933,
				BuyPrice: 4881, MSRP: 9570, ProductRating: int32(1 + p%5),
			}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		in := make(chan []training.Record, 1)
		in <- batch
		close(in)
		out := make(chan stagedFile, 16)
		done := make(chan struct{})
		go func() {
			for f := range out {
				io.Copy(io.Discard, f.data)
			}
			close(done)
		}()
		pw := newPartitionWriter("s", "run", 64<<20)
		if err := pw.run(context.Background(), in, out); err != nil {
			b.Fatal(err)
		}
		close(out)
		<-done
		if pw.files != 1000 {
			b.Fatalf("%d files", pw.files)
		}
	}
}
