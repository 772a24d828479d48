package model

import "math"

// Adam's constants.
const beta1, beta2, adamEps = 0.9, 0.999, 1e-8

// adamConsts are the numbers of one AdamW step, laid out for adamAVX2.
type adamConsts struct {
	b1, omb1, b2, omb2 float64 // β1, 1−β1, β2, 1−β2
	wd, lr             float64 // decay (per step, times the learning rate), learning rate
	c1, c2             float64 // bias corrections 1/(1−β1ᵗ), 1/(1−β2ᵗ)
	eps                float64
}

func newAdamConsts(lr, wd, c1, c2 float64) adamConsts {
	return adamConsts{b1: beta1, omb1: 1 - beta1, b2: beta2, omb2: 1 - beta2, wd: wd, lr: lr, c1: c1, c2: c2, eps: adamEps}
}

// adamGo's flags.
const (
	adamDecay  = 1 // decay the parameters (AdamW's weight decay)
	adamShards = 2 // the gradient is ((g0+g1)+g2)+g3, each cleared after
)

// adam takes an AdamW step of the parameters p with moments m and v and
// gradient g0 (or, with adamShards, the sum of g0 to g3, which it
// clears). With AVX2 the whole quads go through adamAVX2, the same bits.
func adam(p, m, v, g0, g1, g2, g3 []float64, k *adamConsts, flags int) {
	n := len(p)
	m, v, g0 = m[:n], v[:n], g0[:n]
	if flags&adamShards != 0 {
		g1, g2, g3 = g1[:n], g2[:n], g3[:n]
	}
	done := 0
	if useAVX2 && n >= 4 {
		adamAVX2(p, m, v, g0, g1, g2, g3, k, flags)
		done = n &^ 3
	}
	if flags&adamShards != 0 {
		g1, g2, g3 = g1[done:], g2[done:], g3[done:]
	}
	adamGo(p[done:], m[done:], v[done:], g0[done:], g1, g2, g3, k, flags)
}

// adamGo is adam in Go: the reference of adamAVX2. Every product is
// rounded explicitly, so that no platform fuses it into a multiply-add.
func adamGo(p, m, v, g0, g1, g2, g3 []float64, k *adamConsts, flags int) {
	n := len(p)
	m, v, g0 = m[:n], v[:n], g0[:n]
	four := flags&adamShards != 0
	if four {
		g1, g2, g3 = g1[:n], g2[:n], g3[:n]
	}
	for j := range p {
		g := g0[j]
		if four {
			g = ((g + g1[j]) + g2[j]) + g3[j] // the shards, in order
			g0[j], g1[j], g2[j], g3[j] = 0, 0, 0, 0
		}
		mm := float64(k.b1*m[j]) + float64(k.omb1*g)
		vv := float64(k.b2*v[j]) + float64(k.omb2*float64(g*g))
		m[j], v[j] = mm, vv
		x := p[j]
		if flags&adamDecay != 0 {
			x -= float64(k.wd * x)
		}
		p[j] = x - float64(k.lr*float64(mm*k.c1))/(math.Sqrt(float64(vv*k.c2))+k.eps)
	}
}

// decayRun is a stretch of parameters that are all weights (decayed) or
// all biases.
type decayRun struct {
	lo, hi int
	decay  bool
}

// decayRuns returns the runs of equal flags of mask.
func decayRuns(mask []bool) []decayRun {
	var runs []decayRun
	for i, d := range mask {
		if i == 0 || d != mask[i-1] {
			runs = append(runs, decayRun{lo: i, hi: i + 1, decay: d})
		} else {
			runs[len(runs)-1].hi = i + 1
		}
	}
	return runs
}
