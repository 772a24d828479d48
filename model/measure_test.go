package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
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
