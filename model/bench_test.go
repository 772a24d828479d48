package model

import (
	"context"
	"runtime"
	"syscall"
	"testing"
)

// cpuSeconds returns the user and system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// BenchmarkTrain1M trains the default model on 1,000,000 generated ratings
// (40,000 customers × 25 products from a catalog of 1,000) and reports the
// wall time of one full training run (early stopping included) and the
// training throughput in ratings per second per core. Run it with
//
//	go test ./model -run '^$' -bench Train1M -benchtime 1x
func BenchmarkTrain1M(b *testing.B) {
	benchTrain(b, genConfig{users: 40000, items: 1000, perUser: 25, cities: 300, countries: 30, seed: 11}, Config{Seed: 1})
}

// BenchmarkEpoch1M measures throughput alone: 3 epochs on the same data,
// without early stopping.
func BenchmarkEpoch1M(b *testing.B) {
	benchTrain(b, genConfig{users: 40000, items: 1000, perUser: 25, cities: 300, countries: 30, seed: 11}, Config{Seed: 1, Epochs: 3, Patience: -1})
}

func benchTrain(b *testing.B, g genConfig, cfg Config) {
	rs := generate(g)
	cores := runtime.GOMAXPROCS(0)
	b.ResetTimer()
	for b.Loop() {
		d := datasetOf(b, rs)
		cpu0 := cpuSeconds()
		res, err := Train(context.Background(), d, cfg)
		if err != nil {
			b.Fatal(err)
		}
		cpu := cpuSeconds() - cpu0
		m := res.Metrics
		b.ReportMetric(float64(m.Split.Train*len(m.Epochs))/cpu, "ratings/cpu-s")
		b.ReportMetric(m.TrainingSeconds, "s/train")
		b.ReportMetric(float64(len(m.Epochs)), "epochs")
		b.ReportMetric(m.RatingsPerSecond/float64(cores), "ratings/s/core")
		b.ReportMetric(m.Holdout.RMSE.Model, "rmse")
		b.ReportMetric(m.Holdout.RMSE.GlobalMean, "rmse-global")
		b.Logf("ratings %d users %d items %d, %d epochs (best %d) in %.1fs; hold-out RMSE %.4f (global mean %.4f, item mean %.4f), P@10 %.4f (popularity %.4f)",
			m.Ratings, m.Users, m.Items, len(m.Epochs), m.BestEpoch, m.TrainingSeconds,
			m.Holdout.RMSE.Model, m.Holdout.RMSE.GlobalMean, m.Holdout.RMSE.ItemMean,
			m.Holdout.Ranking.Model.Precision, m.Holdout.Ranking.Popularity.Precision)
	}
}
