package model

import (
	"math"
	"testing"
)

// TestMatrixProducts checks the tiled products against the definition, on
// sizes that exercise every tile remainder.
func TestMatrixProducts(t *testing.T) {
	r0 := newRNG(5, 1)
	fillR := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = 2*r0.float64() - 1
		}
		return s
	}
	for _, sz := range [][3]int{{1, 1, 1}, {4, 2, 2}, {5, 3, 3}, {7, 9, 32}, {64, 129, 32}, {3, 5, 7}} {
		r, m, d := sz[0], sz[1], sz[2]
		a, b, g := fillR(r*d), fillR(m*d), fillR(r*m)
		near := func(name string, got, want float64) {
			t.Helper()
			if math.Abs(got-want) > 1e-12 {
				t.Fatalf("%s %v: got %v, want %v", name, sz, got, want)
			}
		}
		out := make([]float64, r*m)
		mulABt(out, a, b, r, m, d)
		for i := range r {
			for j := range m {
				w := 0.0
				for k := range d {
					w += a[i*d+k] * b[j*d+k]
				}
				near("a·bᵀ", out[i*m+j], w)
			}
		}
		out = make([]float64, r*d)
		mulAB(out, g, b, r, m, d)
		for i := range r {
			for k := range d {
				w := 0.0
				for j := range m {
					w += g[i*m+j] * b[j*d+k]
				}
				near("g·b", out[i*d+k], w)
			}
		}
		out = make([]float64, m*d)
		mulAtB(out, g, a, r, m, d)
		for j := range m {
			for k := range d {
				w := 0.0
				for i := range r {
					w += g[i*m+j] * a[i*d+k]
				}
				near("gᵀ·a", out[j*d+k], w)
			}
		}
	}
}
