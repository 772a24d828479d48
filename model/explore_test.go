package model

import (
	"context"
	"math"
	"os"
	"strconv"
	"testing"
)

func envF(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

// TestExplore is a scratch harness (skipped unless EXPLORE=1).
func TestExplore(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	cfg := Config{Seed: 1, IDDropout: envF("DROP", 0), Temperature: envF("TAU", 0), LogQ: envF("LOGQ", 0),
		LearningRate: envF("LR", 0), WeightDecay: envF("WD", 0), MinRating: envF("MINR", 0), ContentOnly: os.Getenv("CONTENT") != "",
		Negatives: int(envF("NEG", 0)), Epochs: int(envF("EPOCHS", 0)), Patience: int(envF("PAT", 0)), BatchSize: int(envF("BS", 0))}
	cfg.IDLearningRate = envF("IDLR", 0)
	var d *Dataset
	if os.Getenv("DATA") == "classic" {
		d = classicDataset(t)
	} else {
		d = datasetOf(t, generate(genConfig{users: int(envF("USERS", 2000)), items: int(envF("ITEMS", 300)), perUser: 20, latent: envF("LATENT", 1.5), seed: 7}))
	}
	for s := uint64(1); s <= uint64(envF("SEEDS", 1)); s++ {
		cfg.Seed = s
		res, err := Train(context.Background(), d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Metrics
		h := m.Holdout
		t.Logf("seed %d: epochs %d best %d; hold-out P@10 %.4f NDCG@10 %.4f | pop %.4f %.4f | RMSE %.4f (user mean %.4f) | %.1fs",
			s, len(m.Epochs), m.BestEpoch, h.Ranking.Model.Precision, h.Ranking.Model.NDCG, h.Ranking.Popularity.Precision, h.Ranking.Popularity.NDCG, h.RMSE.Model, h.RMSE.UserMean, m.TrainingSeconds)
		if os.Getenv("V") != "" {
			for _, e := range m.Epochs {
				t.Logf("  epoch %d loss %.4f val ndcg %.4f", e.Epoch, e.TrainLoss, e.ValidationNDCG)
			}
		}
	}
}

func TestExploreGroups(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	d := tasteGroups(t)
	res, err := Train(context.Background(), d, Config{Seed: 1, Epochs: 30, Patience: -1, LearningRate: envF("LR", 0.02), IDDropout: envF("DROP", 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Metrics.Epochs {
		t.Logf("  epoch %d loss %.4f val ndcg %.4f", e.Epoch, e.TrainLoss, e.ValidationNDCG)
	}
	t.Logf("best %d refit %+v", res.Metrics.BestEpoch, res.Metrics.Refit)
}

func TestExploreNorms(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	d := tasteGroups(t)
	d.sort()
	all := make([]int32, d.Len())
	for i := range all {
		all[i] = int32(i)
	}
	tr := newTrainer(d, all, Config{Seed: 1, LearningRate: 0.02}.withDefaults())
	for ep := 1; ep <= 30; ep++ {
		l, _ := tr.epoch(context.Background(), ep)
		h := make([]float64, 64)
		e := make([]float64, 32)
		tr.user.forward(&tr.ux[0], h, e)
		t.Logf("epoch %d loss %.4f tower norm %.3f id0 norm %.3f item id norm %.3f batch %d pos %d", ep, l, math.Sqrt(dot(e, e)), math.Sqrt(dot(tr.idU[:32], tr.idU[:32])), math.Sqrt(dot(tr.idI[:32], tr.idI[:32])), tr.cfg.BatchSize, len(tr.pos))
	}
}
