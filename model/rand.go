package model

import "math/bits"

// rng is SplitMix64 (Steele, Lea and Flood, 2014): a tiny generator whose
// sequence is fixed by this file, not by the Go release, so that a seed
// gives the same split, initial weights and batch order everywhere.
type rng struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15

// newRNG returns the generator for one purpose (stream) of one seed.
func newRNG(seed, stream uint64) *rng {
	r := &rng{s: seed}
	r.s = r.next() ^ (stream * golden)
	return r
}

func (r *rng) next() uint64 {
	r.s += golden
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float64 returns a uniform number in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) * 0x1p-53 }

// intn returns a number in [0, n) (Lemire's multiply-shift; the bias is at
// most n/2⁶⁴).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// shuffle permutes p in place (Fisher–Yates).
func (r *rng) shuffle(p []int32) {
	for i := len(p) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}
