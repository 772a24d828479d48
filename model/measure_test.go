package model

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/eval/baseline"
)

// matScorer ranks by the cosine of rows of embeddings.
type matScorer struct {
	ue, ie []float64
	D      int
}

func (s matScorer) Score(u int32, dst []float64) {
	D := s.D
	v := s.ue[int(u)*D : (int(u)+1)*D]
	nv := math.Sqrt(dot(v, v) + cosineEps)
	for i := range dst {
		w := s.ie[i*D : (i+1)*D]
		dst[i] = dot(v, w) / nv / math.Sqrt(dot(w, w)+cosineEps)
	}
}

// TestMeasureHistory is a measurement, not a test: with
// RECOFLOW_MEASURE=sample (the classicmodels sample, test fractions 10 % and
// 20 %, seeds 1–3), gen100k (the 100k benchmark's generated data, 10 %, seed
// 1) or sparse (4,000 customers × 25 of 1,000 products, 10 %, seed 1) it
// logs, under package eval's protocol, the NDCG@10 of item-kNN, of the
// default hybrid, and of the same fit with no history and with each fixed
// history source and weight. RECOFLOW_MEASURE_SEEDS=1,2,… sets the seeds;
// RECOFLOW_MEASURE_CONFIG='{"temperature":0.25}' changes the Config.
//
//	RECOFLOW_MEASURE=sample go test ./model -run TestMeasureHistory -v
func TestMeasureHistory(t *testing.T) {
	which := os.Getenv("RECOFLOW_MEASURE")
	if which == "" {
		t.Skip("a measurement: set RECOFLOW_MEASURE")
	}
	var d *Dataset
	fracs := []float64{0.1, 0.2}
	seeds := []uint64{1, 2, 3}
	switch which {
	case "sample":
		d = classicDataset(t)
	case "gen100k":
		d = datasetOf(t, generate(benchGenerated100k))
		fracs, seeds = []float64{0.1}, []uint64{1}
	case "sparse":
		d = datasetOf(t, generate(genConfig{users: 4000, items: 1000, perUser: 25, cities: 100, countries: 20, latent: 1, seed: 1}))
		fracs, seeds = []float64{0.1}, []uint64{1}
	default:
		t.Fatalf("RECOFLOW_MEASURE=%s: want sample, gen100k or sparse", which)
	}
	if s := os.Getenv("RECOFLOW_MEASURE_SEEDS"); s != "" {
		seeds = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, uint64(n))
		}
	}
	data, _, _ := d.EvalData()
	sums := map[string]map[float64]float64{}
	var names []string
	add := func(name string, frac, v float64) {
		if sums[name] == nil {
			sums[name] = map[float64]float64{}
			names = append(names, name)
		}
		sums[name][frac] += v / float64(len(seeds))
	}
	defer func() { refitHook = nil }()
	for _, frac := range fracs {
		for _, seed := range seeds {
			train, test, err := eval.RandomSplit(data, frac, seed)
			if err != nil {
				t.Fatal(err)
			}
			ev := func(s eval.Scorer) float64 {
				return eval.Evaluate(context.Background(), train, test, s, eval.Options{}).NDCGAtK
			}
			knn, err := baseline.ItemKNN{}.Fit(context.Background(), train)
			if err != nil {
				t.Fatal(err)
			}
			add("item-knn", frac, ev(knn))
			cfg := DefaultConfig()
			if v := os.Getenv("RECOFLOW_MEASURE_CONFIG"); v != "" {
				if err := json.Unmarshal([]byte(v), &cfg); err != nil {
					t.Fatal(err)
				}
			}
			cfg.Seed = seed
			refitHook = func(_, refit *trainer) {
				ue, ie := refit.embedAll(true)
				D := refit.cfg.Dim
				add("no history", frac, ev(matScorer{ue, ie, D}))
				for _, src := range []string{HistoryItems, HistoryNeighbours} {
					h := refit.history(refit.itemRows(ie, src))
					for _, w := range []float64{0.5, 1, 2} {
						add(fmt.Sprintf("%s %.1f", src, w), frac, ev(matScorer{blendUsers(ue, h, w, D), ie, D}))
					}
				}
			}
			s, err := Method(d, cfg).Fit(context.Background(), train)
			refitHook = nil
			if err != nil {
				t.Fatal(err)
			}
			add("hybrid (default)", frac, ev(s))
		}
	}
	for _, n := range names {
		var parts []string
		for _, f := range fracs {
			parts = append(parts, fmt.Sprintf("%.0f %%: %.4f", 100*f, sums[n][f]))
		}
		t.Logf("%-18s %s", n, strings.Join(parts, "  "))
	}
}

// TestMeasureReport (RECOFLOW_MEASURE_REPORT=sample|gen100k) logs the mean
// over seeds 1–3 (gen100k: seed 1) of eval.Run's table, every method and
// cold start, as `recoflow evaluate` runs it, at the test fraction
// RECOFLOW_MEASURE_FRACTION (default 0.2), with each fit's CPU seconds.
// RECOFLOW_MEASURE_QUICK=1 runs BPR and the hybrid only, without cold
// start; RECOFLOW_MEASURE_CONFIG changes the hybrid's Config (JSON);
// RECOFLOW_MEASURE_SEEDS=4,5,… sets the seeds.
func TestMeasureReport(t *testing.T) {
	which := os.Getenv("RECOFLOW_MEASURE_REPORT")
	if which == "" {
		t.Skip("a measurement: set RECOFLOW_MEASURE_REPORT")
	}
	var d *Dataset
	seeds := []uint64{1, 2, 3}
	switch which {
	case "sample":
		d = classicDataset(t)
	case "gen100k":
		d = datasetOf(t, generate(benchGenerated100k))
		seeds = []uint64{1}
	default:
		t.Fatalf("RECOFLOW_MEASURE_REPORT=%s: want sample or gen100k", which)
	}
	if s := os.Getenv("RECOFLOW_MEASURE_SEEDS"); s != "" {
		seeds = nil
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, uint64(n))
		}
	}
	frac := 0.2
	if v := os.Getenv("RECOFLOW_MEASURE_FRACTION"); v != "" {
		frac, _ = strconv.ParseFloat(v, 64)
	}
	data, _, _ := d.EvalData()
	type acc struct{ p, n, cpu, cp, cn float64 }
	sums := map[string]*acc{}
	var names []string
	quick := os.Getenv("RECOFLOW_MEASURE_QUICK") != "" // BPR and the hybrid, no cold start
	cold := 0.0
	if quick {
		cold = -1
	}
	for _, seed := range seeds {
		cfg := DefaultConfig()
		if v := os.Getenv("RECOFLOW_MEASURE_CONFIG"); v != "" {
			if err := json.Unmarshal([]byte(v), &cfg); err != nil {
				t.Fatal(err)
			}
		}
		cfg.Seed = seed
		hybrid := Method(d, cfg)
		cfg.ContentOnly = true
		choose := func(m eval.Method) eval.Method { return baseline.ChoosePositives{Method: m, Seed: seed} }
		methods := []eval.Method{eval.Popularity{}, choose(baseline.ItemKNN{}), choose(baseline.ALS{Seed: seed}), baseline.BPR{Seed: seed}, choose(baseline.EASE{}), Method(d, cfg), hybrid}
		if quick {
			methods = []eval.Method{baseline.BPR{Seed: seed}, hybrid}
		}
		timed := make([]eval.Method, len(methods))
		cpu := map[string]float64{}
		for k, m := range methods {
			timed[k] = cpuTimed{m, cpu}
		}
		rep, err := eval.Run(context.Background(), data, timed, eval.Options{Seed: seed, TestFraction: frac, ColdStartFraction: cold})
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range rep.Methods {
			a := sums[r.Method]
			if a == nil {
				a = &acc{}
				sums[r.Method] = a
				names = append(names, r.Method)
			}
			n := float64(len(seeds))
			a.p += r.PrecisionAtK / n
			a.n += r.NDCGAtK / n
			if !quick {
				a.cp += rep.ColdStart[k].PrecisionAtK / n
				a.cn += rep.ColdStart[k].NDCGAtK / n
			}
		}
		for m, c := range cpu {
			sums[m].cpu += c / float64(len(seeds))
		}
	}
	t.Logf("%s, test %.0f %%, mean of %d seeds: method | P@10 | NDCG@10 | cold-start P@10 | cold-start NDCG@10 | CPU-s per fit (both splits)", which, 100*frac, len(seeds))
	for _, n := range names {
		a := sums[n]
		t.Logf("| %s | %.3f | %.3f | %.3f | %.3f | %.2f |", n, a.p, a.n, a.cp, a.cn, a.cpu)
	}
}

// cpuTimed adds each Fit's CPU seconds to cpu under the method's name.
type cpuTimed struct {
	eval.Method
	cpu map[string]float64
}

func (m cpuTimed) Fit(ctx context.Context, d *eval.Data) (eval.Scorer, error) {
	c := cpuSeconds()
	s, err := m.Method.Fit(ctx, d)
	m.cpu[m.Name()] += cpuSeconds() - c
	return s, err
}

// TestMeasureEASELambda (RECOFLOW_MEASURE_EASE=sample|gen100k) logs, for a
// grid of EASE's λ scale (EASE.LambdaScale), the mean NDCG@10 over seeds 1–3 on a validation split
// of each training split (the training part split again as eval.Run
// splits, seed+100), at test fractions 10 % and 20 %: the numbers the
// default λ is chosen by, none of them from a test split. It also logs the
// test split's figure for reference.
func TestMeasureEASELambda(t *testing.T) {
	which := os.Getenv("RECOFLOW_MEASURE_EASE")
	if which == "" {
		t.Skip("a measurement: set RECOFLOW_MEASURE_EASE")
	}
	var d *Dataset
	switch which {
	case "sample":
		d = classicDataset(t)
	case "gen100k":
		d = datasetOf(t, generate(benchGenerated100k))
	default:
		t.Fatalf("RECOFLOW_MEASURE_EASE=%s: want sample or gen100k", which)
	}
	data, _, _ := d.EvalData()
	// λ as a multiple of the mean number of interactions per item
	// (EASE.LambdaScale).
	lambdas := []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 4}
	for _, frac := range []float64{0.1, 0.2} {
		val, test := make([]float64, len(lambdas)), make([]float64, len(lambdas))
		for _, seed := range []uint64{1, 2, 3} {
			train, tst, err := eval.RandomSplit(data, frac, seed)
			if err != nil {
				t.Fatal(err)
			}
			tr2, va, err := eval.RandomSplit(train, frac, seed+100)
			if err != nil {
				t.Fatal(err)
			}
			for k, l := range lambdas {
				s, err := baseline.EASE{LambdaScale: l}.Fit(context.Background(), tr2)
				if err != nil {
					t.Fatal(err)
				}
				val[k] += eval.Evaluate(context.Background(), tr2, va, s, eval.Options{}).NDCGAtK / 3
				s, err = baseline.EASE{LambdaScale: l}.Fit(context.Background(), train)
				if err != nil {
					t.Fatal(err)
				}
				test[k] += eval.Evaluate(context.Background(), train, tst, s, eval.Options{}).NDCGAtK / 3
			}
		}
		for k, l := range lambdas {
			t.Logf("%s %.0f %%: λ scale %4g  validation NDCG@10 %.4f  test %.4f", which, 100*frac, l, val[k], test[k])
		}
	}
}

// TestMeasureHistoryCandidates (RECOFLOW_MEASURE_CANDIDATES=sample|gen100k)
// logs the validation NDCG@10 of every history candidate the default
// hybrid's fit tries (HistoryStats.Candidates: measured on the validation
// split of the model's own validation run, never on a test split), the
// mean over seeds 1–3 (gen100k: 1) and test fractions 10 % and 20 %, best
// first.
func TestMeasureHistoryCandidates(t *testing.T) {
	which := os.Getenv("RECOFLOW_MEASURE_CANDIDATES")
	if which == "" {
		t.Skip("a measurement: set RECOFLOW_MEASURE_CANDIDATES")
	}
	var d *Dataset
	seeds := []uint64{1, 2, 3}
	switch which {
	case "sample":
		d = classicDataset(t)
	case "gen100k":
		d = datasetOf(t, generate(benchGenerated100k))
		seeds = []uint64{1}
	default:
		t.Fatalf("RECOFLOW_MEASURE_CANDIDATES=%s: want sample or gen100k", which)
	}
	data, _, _ := d.EvalData()
	fracs := []float64{0.1, 0.2}
	sum := map[HistoryCandidate]float64{}
	defer func() { fitHook = nil }()
	for _, frac := range fracs {
		for _, seed := range seeds {
			train, _, err := eval.RandomSplit(data, frac, seed)
			if err != nil {
				t.Fatal(err)
			}
			fitHook = func(m *Metrics) {
				for _, c := range m.History.Candidates {
					v := c.ValidationNDCG
					c.ValidationNDCG = 0
					sum[c] += v / float64(len(seeds)*len(fracs))
				}
				t.Logf("%.0f %% seed %d: chose %s w %g β %g", 100*frac, seed, m.History.Source, m.History.Weight, m.History.ItemWeight)
			}
			cfg := DefaultConfig()
			cfg.Seed = seed
			if _, err := Method(d, cfg).Fit(context.Background(), train); err != nil {
				t.Fatal(err)
			}
			fitHook = nil
		}
	}
	type row struct {
		c HistoryCandidate
		v float64
	}
	var rows []row
	for c, v := range sum {
		rows = append(rows, row{c, v})
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.v, a.v) })
	for _, r := range rows {
		t.Logf("%-10s w %-4g β %-3g validation NDCG@10 %.4f", r.c.Source, r.c.Weight, r.c.ItemWeight, r.v)
	}
}
