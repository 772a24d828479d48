package baseline

import (
	"context"

	"github.com/recoflow/recoflow/eval"
)

// Defaults of ALS: those of the implicit library's AlternatingLeastSquares
// (factors=100, regularization=0.01, alpha=1.0, iterations=15, conjugate
// gradient with 3 steps, factors initialised uniformly in [0, 0.01)).
const (
	DefaultALSFactors    = 100
	DefaultALSReg        = 0.01
	DefaultALSAlpha      = 1.0
	DefaultALSIterations = 15
	DefaultALSCGSteps    = 3
)

// ALS is implicit-feedback matrix factorisation by alternating least squares
// (Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback
// Datasets", 2008), solved with a few conjugate-gradient steps per user and
// item (Takács, Pilászy and Tikk 2011) as the implicit library does. Every
// training interaction is a positive with confidence Alpha; every other
// (user, item) pair a zero with confidence 1. Zero fields take the defaults.
type ALS struct {
	Factors    int
	Reg        float64
	Alpha      float64
	Iterations int
	CGSteps    int
	Seed       uint64
}

// Name returns "als".
func (ALS) Name() string { return "als" }

func (m ALS) withDefaults() ALS {
	if m.Factors <= 0 {
		m.Factors = DefaultALSFactors
	}
	if m.Reg <= 0 {
		m.Reg = DefaultALSReg
	}
	if m.Alpha <= 0 {
		m.Alpha = DefaultALSAlpha
	}
	if m.Iterations <= 0 {
		m.Iterations = DefaultALSIterations
	}
	if m.CGSteps <= 0 {
		m.CGSteps = DefaultALSCGSteps
	}
	return m
}

// Fit runs the alternating solves.
func (m ALS) Fit(ctx context.Context, train *eval.Data) (eval.Scorer, error) {
	m = m.withDefaults()
	f := m.Factors
	userItems, itemUsers := interactions(train, nil)
	r := newRand(m.Seed, 11)
	x := make([]float64, train.NumUsers*f)
	y := make([]float64, train.NumItems*f)
	for i := range x {
		x[i] = r.Float64() * 0.01
	}
	for i := range y {
		y[i] = r.Float64() * 0.01
	}
	for range m.Iterations {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.solve(userItems, x, y)
		m.solve(itemUsers, y, x)
	}
	known := make([]bool, train.NumUsers)
	for u := range train.NumUsers {
		known[u] = len(userItems.row(u)) > 0
	}
	return &mfScorer{f: f, user: x, item: y, known: known, fallback: popularity(train)}, nil
}

// solve updates every row of x (rows of the matrix cui) against the fixed
// factors y: a few conjugate-gradient steps, from the current x, on
// (YᵀY + λI + Σᵢ (c−1) yᵢyᵢᵀ) x = Σᵢ c yᵢ over the row's positives i.
func (m ALS) solve(cui *csr, x, y []float64) {
	f := m.Factors
	n := len(y) / f
	yty := make([]float64, f*f)
	for i := range n {
		yi := y[i*f : (i+1)*f]
		for a := range f {
			va := yi[a]
			if va == 0 {
				continue
			}
			row := yty[a*f : (a+1)*f]
			for b := range f {
				row[b] += va * yi[b]
			}
		}
	}
	for a := range f {
		yty[a*f+a] += m.Reg
	}
	c := m.Alpha
	rv, p, ap := make([]float64, f), make([]float64, f), make([]float64, f)
	mul := func(dst, v []float64, items []int32) {
		for a := range f {
			dst[a] = dot(yty[a*f:(a+1)*f], v)
		}
		if c != 1 {
			for _, i := range items {
				yi := y[int(i)*f : int(i+1)*f]
				w := (c - 1) * dot(yi, v)
				for a := range f {
					dst[a] += w * yi[a]
				}
			}
		}
	}
	rows := len(cui.ptr) - 1
	for u := range rows {
		items := cui.row(u)
		xu := x[u*f : (u+1)*f]
		if len(items) == 0 {
			clear(xu)
			continue
		}
		// r = b − A x
		mul(ap, xu, items)
		for a := range f {
			rv[a] = -ap[a]
		}
		for _, i := range items {
			yi := y[int(i)*f : int(i+1)*f]
			for a := range f {
				rv[a] += c * yi[a]
			}
		}
		copy(p, rv)
		rsold := dot(rv, rv)
		for range m.CGSteps {
			if rsold < 1e-20 {
				break
			}
			mul(ap, p, items)
			alpha := rsold / dot(p, ap)
			for a := range f {
				xu[a] += alpha * p[a]
				rv[a] -= alpha * ap[a]
			}
			rsnew := dot(rv, rv)
			for a := range f {
				p[a] = rv[a] + rsnew/rsold*p[a]
			}
			rsold = rsnew
		}
	}
}
