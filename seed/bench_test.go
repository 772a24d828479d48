package seed

import (
	"testing"
)

// BenchmarkRatingRows measures producing the ratings of a generated dataset
// (100,000 ratings, default sizes) with the default Shape and without one:
// the Shape costs a weighted choice over every product per customer.
func BenchmarkRatingRows(b *testing.B) {
	for _, tc := range []struct {
		name  string
		shape *Shape
	}{{"default-shape", nil}, {"no-shape", &Shape{}}} {
		b.Run(tc.name, func(b *testing.B) {
			o, err := GenOptions{Ratings: 100_000, Seed: 1, Shape: tc.shape}.WithDefaults()
			if err != nil {
				b.Fatal(err)
			}
			g, err := newGenerator(o)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				n := 0
				for _, err := range g.ratingRows {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != o.Ratings {
					b.Fatalf("%d ratings", n)
				}
			}
			b.ReportMetric(float64(o.Ratings)*float64(b.N)/b.Elapsed().Seconds(), "ratings/s")
		})
	}
}
