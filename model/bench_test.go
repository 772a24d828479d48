package model

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/eval/baseline"
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

// bench1M is the benchmark dataset: 1,000,000 generated ratings, 40,000
// customers rating 25 products each from a catalog of 1,000, 300 cities in
// 30 countries, with latent tastes the features do not explain.
var bench1M = genConfig{users: 40000, items: 1000, perUser: 25, cities: 300, countries: 30, latent: 1, seed: 11}

// bench100k is the same shape with 4,000 customers: 100,000 ratings.
var bench100k = genConfig{users: 4000, items: 1000, perUser: 25, cities: 300, countries: 30, latent: 1, seed: 11}

// BenchmarkTrain100k trains the default hybrid and content-only models on
// 100,000 generated ratings (validation run, hold-out figures and refit).
//
//	go test ./model -run '^$' -bench Train100k -benchtime 1x
func BenchmarkTrain100k(b *testing.B) {
	rs := generate(bench100k)
	for _, co := range []bool{false, true} {
		b.Run(fmt.Sprintf("content-only=%v", co), func(b *testing.B) {
			benchTrain(b, rs, Config{Seed: 1, ContentOnly: co})
		})
	}
}

// BenchmarkTrain1M trains the default model (validation run with early
// stopping, hold-out figures, refit on all) on 1 M generated ratings and
// reports the wall time of the whole Train call.
// Run it with
//
//	go test ./model -run '^$' -bench Train1M -benchtime 1x
func BenchmarkTrain1M(b *testing.B) {
	benchTrain(b, generate(bench1M), Config{Seed: 1})
}

// BenchmarkEpoch1M measures throughput alone: 3 epochs on the same data,
// without early stopping, on 1 and on 2 workers.
func BenchmarkEpoch1M(b *testing.B) {
	rs := generate(bench1M)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchTrain(b, rs, Config{Seed: 1, Epochs: 3, Patience: -1, Workers: w})
		})
	}
}

// benchTrain reports, besides the time per Train call:
//
//	s/train         wall seconds of one Train call
//	ratings/s       training ratings processed (all epochs) per wall second
//	ratings/s/core  the same per CPU second of the process: the throughput
//	                of one core, unaffected by other load on the machine
func benchTrain(b *testing.B, rs []Rating, cfg Config) {
	for b.Loop() {
		b.StopTimer()
		d := datasetOf(b, rs)
		b.StartTimer()
		cpu0 := cpuSeconds()
		res, err := Train(context.Background(), d, cfg)
		if err != nil {
			b.Fatal(err)
		}
		cpu := cpuSeconds() - cpu0
		m := res.Metrics
		processed := float64(m.Split.Train*len(m.Epochs) + m.Refit.Ratings*m.Refit.Epochs)
		b.ReportMetric(m.TrainingSeconds, "s/train")
		b.ReportMetric(float64(len(m.Epochs)), "epochs")
		b.ReportMetric(m.RatingsPerSecond, "ratings/s")
		b.ReportMetric(processed/cpu, "ratings/s/core")
		b.Logf("%d ratings, %d users, %d items, %d workers: %d epochs (best %d) + refit in %.1fs wall, %.1fs CPU; hold-out RMSE %.4f (global mean %.4f, item mean %.4f), P@10 %.4f (popularity %.4f), NDCG@10 %.4f (popularity %.4f)",
			m.Ratings, m.Users, m.Items, m.Config.Workers, len(m.Epochs), m.BestEpoch, m.TrainingSeconds, cpu,
			m.Holdout.RMSE.Model, m.Holdout.RMSE.GlobalMean, m.Holdout.RMSE.ItemMean,
			m.Holdout.Ranking.Model.Precision, m.Holdout.Ranking.Popularity.Precision,
			m.Holdout.Ranking.Model.NDCG, m.Holdout.Ranking.Popularity.NDCG)
		curve := make([]string, len(m.Epochs))
		for k, e := range m.Epochs {
			curve[k] = fmt.Sprintf("%.4f", e.ValidationNDCG)
		}
		b.Logf("validation NDCG@10 per epoch: %s; refit %d epochs", strings.Join(curve, " "), m.Refit.Epochs)
	}
}

// benchGenerated100k mirrors the shape of `recoflow seed --dataset
// generated --ratings 100000`: 1,000 customers rating 100 of 200 products,
// with latent tastes.
var benchGenerated100k = genConfig{users: 1000, items: 200, perUser: 100, cities: 100, countries: 20, latent: 1, seed: 1}

// BenchmarkFit100kHybridVsBPR fits the default hybrid (its validation run
// and refit, as `recoflow evaluate` fits it) and the BPR-MF baseline
// (Gorse v0.5's defaults, re-implemented in eval/baseline: Gorse itself is
// not available to this module) on the same 80 % training split of 100,000
// generated ratings, one after the other, and scores both on the held-out
// 20 % with package eval's protocol. It reports each fit's CPU and wall
// seconds, their ratios (hybrid/BPR) and both NDCG@10s.
//
//	go test ./model -run '^$' -bench Fit100kHybridVsBPR -benchtime 1x
func BenchmarkFit100kHybridVsBPR(b *testing.B) {
	d := datasetOf(b, generate(benchGenerated100k))
	data, _, _ := d.EvalData()
	train, test, err := eval.RandomSplit(data, eval.DefaultTestFraction, 1)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seed = 1
	methods := []eval.Method{Method(d, cfg), baseline.BPR{Seed: 1}}
	fitHook = func(m *Metrics) {
		curve := make([]string, len(m.Epochs))
		for k, e := range m.Epochs {
			curve[k] = fmt.Sprintf("%.4f", e.ValidationNDCG)
		}
		b.Logf("hybrid: batch %d, %d epochs (best %d) + refit %d epochs in %.2fs wall; validation NDCG@10 per epoch: %s; history %s %.2f, item neighbours %.2f (%d candidates)",
			m.Config.BatchSize, len(m.Epochs), m.BestEpoch, m.Refit.Epochs, m.TrainingSeconds, strings.Join(curve, " "),
			m.History.Source, m.History.Weight, m.History.ItemWeight, len(m.History.Candidates))
	}
	defer func() { fitHook = nil }()
	for b.Loop() {
		var cpu, wall, ndcg [2]float64
		for k, m := range methods {
			cpu0, wall0 := cpuSeconds(), time.Now()
			s, err := m.Fit(context.Background(), train)
			if err != nil {
				b.Fatal(err)
			}
			cpu[k], wall[k] = cpuSeconds()-cpu0, time.Since(wall0).Seconds()
			ndcg[k] = eval.Evaluate(context.Background(), train, test, s, eval.Options{}).NDCGAtK
		}
		b.ReportMetric(cpu[0], "hybrid-cpu-s")
		b.ReportMetric(cpu[1], "bpr-cpu-s")
		b.ReportMetric(wall[0], "hybrid-wall-s")
		b.ReportMetric(wall[1], "bpr-wall-s")
		b.ReportMetric(cpu[0]/cpu[1], "cpu-ratio")
		b.ReportMetric(wall[0]/wall[1], "wall-ratio")
		b.ReportMetric(ndcg[0], "hybrid-ndcg@10")
		b.ReportMetric(ndcg[1], "bpr-ndcg@10")
	}
}
