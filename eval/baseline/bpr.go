package baseline

import (
	"context"
	"math"

	"github.com/recoflow/recoflow/eval"
)

// Defaults of BPR: those of Gorse v0.5's BPR (nFactors 10, nEpochs 100,
// lr 0.05, reg 0.01, factors initialised N(0, 0.001²)).
const (
	DefaultBPRFactors = 10
	DefaultBPREpochs  = 100
	DefaultBPRLR      = 0.05
	DefaultBPRReg     = 0.01
	DefaultBPRInitStd = 0.001
)

// BPR is matrix factorisation trained for Bayesian personalised ranking
// (Rendle, Freudenthaler, Gantner and Schmidt-Thieme, 2009) by stochastic
// gradient ascent: each step draws a user at random, one of the user's
// positives and an item that is not a positive (uniformly), and raises
// σ(xᵤ·(yᵢ − yⱼ)). Positives are training ratings of at least MinRating
// (every interaction when the data is implicit). An epoch is as many steps
// as there are positives. Zero fields take the defaults.
type BPR struct {
	Factors   int
	Epochs    int
	LR        float64
	Reg       float64
	InitStd   float64
	MinRating float32 // default eval.DefaultRelevantMin
	Seed      uint64
}

// Name returns "bpr".
func (BPR) Name() string { return "bpr" }

func (m BPR) withDefaults() BPR {
	if m.Factors <= 0 {
		m.Factors = DefaultBPRFactors
	}
	if m.Epochs <= 0 {
		m.Epochs = DefaultBPREpochs
	}
	if m.LR <= 0 {
		m.LR = DefaultBPRLR
	}
	if m.Reg <= 0 {
		m.Reg = DefaultBPRReg
	}
	if m.InitStd <= 0 {
		m.InitStd = DefaultBPRInitStd
	}
	if m.MinRating <= 0 {
		m.MinRating = eval.DefaultRelevantMin
	}
	return m
}

// Fit runs the stochastic gradient steps.
func (m BPR) Fit(ctx context.Context, train *eval.Data) (eval.Scorer, error) {
	m = m.withDefaults()
	f := m.Factors
	pos, _ := interactions(train, positive(train.Implicit(), m.MinRating))
	r := newRand(m.Seed, 12)
	x := make([]float64, train.NumUsers*f)
	y := make([]float64, train.NumItems*f)
	for i := range x {
		x[i] = r.NormFloat64() * m.InitStd
	}
	for i := range y {
		y[i] = r.NormFloat64() * m.InitStd
	}
	var users []int32 // users with a positive
	for u := range train.NumUsers {
		if n := len(pos.row(u)); n > 0 && n < train.NumItems {
			users = append(users, int32(u))
		}
	}
	steps := len(pos.idx)
	grad := make([]float64, f)
	for range m.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for step := range steps {
			if len(users) == 0 {
				break
			}
			if step%65536 == 65535 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			u := users[r.IntN(len(users))]
			items := pos.row(int(u))
			i := items[r.IntN(len(items))]
			var j int32
			for {
				j = int32(r.IntN(train.NumItems))
				if !contains(items, j) {
					break
				}
			}
			xu := x[int(u)*f : int(u+1)*f]
			yi := y[int(i)*f : int(i+1)*f]
			yj := y[int(j)*f : int(j+1)*f]
			diff := dot(xu, yi) - dot(xu, yj)
			g := 1 / (1 + math.Exp(diff)) // σ(−diff)
			copy(grad, xu)
			for a := range f {
				xu[a] += m.LR * (g*(yi[a]-yj[a]) - m.Reg*xu[a])
				yi[a] += m.LR * (g*grad[a] - m.Reg*yi[a])
				yj[a] += m.LR * (-g*grad[a] - m.Reg*yj[a])
			}
		}
	}
	known := make([]bool, train.NumUsers)
	for _, u := range users {
		known[u] = true
	}
	return &mfScorer{f: f, user: x, item: y, known: known, fallback: popularity(train)}, nil
}

// contains reports whether the sorted items hold j.
func contains(items []int32, j int32) bool {
	lo, hi := 0, len(items)
	for lo < hi {
		mid := (lo + hi) / 2
		if items[mid] < j {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(items) && items[lo] == j
}
