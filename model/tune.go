package model

import (
	"context"
	"fmt"
	"math"
	"time"
)

// TuneOptions bound a hyper-parameter search.
type TuneOptions struct {
	// Trials is the number of settings to try (at least 1).
	Trials int
	// Time bounds the search: no trial starts after it has passed (0: no
	// bound). The trial running at that moment finishes.
	Time time.Duration
	// Progress, if set, is called after each trial.
	Progress func(Trial)
}

// Trial is one setting tried by Tune and its outcome.
type Trial struct {
	Trial          int     `json:"trial"`
	Config         Config  `json:"config"`
	ValidationNDCG float64 `json:"validation_ndcg_at_10"`
	Epochs         int     `json:"epochs"`
	Seconds        float64 `json:"seconds"`
	// Best is true when this trial beat every earlier one.
	Best bool `json:"best,omitempty"`
}

// Tune searches for the setting with the best validation NDCG@10: the
// first trial is base itself, the others draw, with base.Seed, the learning
// rate (base's times 2^U(−1.5, 1.5)), the id learning rate (0.1–1, log
// scale), the id dropout (0.2–0.7), the temperature (0.05–0.3, log scale),
// the popularity correction (0–1), the weight decay (10⁻⁵–10⁻², log
// scale) and the weight of low ratings (0–1). Each trial is the validation run of Train on the same split (the
// hold-out is never looked at). It returns the best Config, to pass to
// Train, and every trial; the search is deterministic, except that Time
// may cut it short.
func Tune(ctx context.Context, d *Dataset, base Config, opt TuneOptions) (Config, []Trial, error) {
	if opt.Trials < 1 {
		return base, nil, fmt.Errorf("tune: %d trials: want at least 1", opt.Trials)
	}
	cfg := base.withDefaults()
	if err := cfg.validate(); err != nil {
		return base, nil, fmt.Errorf("tune: %w", err)
	}
	if err := d.check(minRatings); err != nil {
		return base, nil, err
	}
	d.sort()
	split := splitRatings(len(d.ratings), cfg)
	if cfg.LowRatingWeight == 0 { // the first trial, base, chooses as Train would
		c, err := chooseLowRatingWeight(ctx, d, split, cfg)
		if err != nil {
			return base, nil, fmt.Errorf("tune: %w", err)
		}
		cfg.LowRatingWeight = c.Weight
	}
	var train int
	for _, s := range split {
		if s == splitTrain {
			train++
		}
	}
	baseLR := cfg.resolve(train).LearningRate
	r := newRNG(cfg.Seed, streamTune)
	logU := func(lo, hi float64) float64 { return lo * math.Exp(r.float64()*math.Log(hi/lo)) }
	start := time.Now()
	best, bestNDCG := base, math.Inf(-1)
	var trials []Trial
	for n := 1; n <= opt.Trials; n++ {
		c := cfg
		if n > 1 {
			c.LearningRate = baseLR * math.Exp2(3*r.float64()-1.5)
			c.IDLearningRate = logU(0.1, 1)
			c.IDDropout = 0.2 + 0.5*r.float64()
			c.Temperature = logU(0.05, 0.3)
			c.LogQ = r.float64()
			if c.LogQ == 0 {
				c.LogQ = -1 // none, not the default
			}
			c.WeightDecay = logU(1e-5, 1e-2)
			c.LowRatingWeight = r.float64()
			if c.LowRatingWeight == 0 {
				c.LowRatingWeight = -1
			}
		}
		if opt.Time > 0 && n > 1 && time.Since(start) >= opt.Time {
			break
		}
		t0 := time.Now()
		quiet := c.withDefaults() // a negative LogQ means 0
		quiet.Progress = nil
		sel, err := selectEpochs(ctx, d, split, quiet)
		if err != nil {
			return base, trials, fmt.Errorf("tune: trial %d: %w", n, err)
		}
		tr := Trial{Trial: n, Config: c, Epochs: sel.best, Seconds: time.Since(t0).Seconds(),
			ValidationNDCG: sel.epochs[sel.best-1].ValidationNDCG}
		if tr.ValidationNDCG > bestNDCG {
			bestNDCG, tr.Best = tr.ValidationNDCG, true
			best = c
			best.Progress = base.Progress
		}
		trials = append(trials, tr)
		if opt.Progress != nil {
			opt.Progress(tr)
		}
	}
	return best, trials, nil
}
