//go:build !amd64

package model

// useAVX2 is false off amd64: the Go kernels run (a variable, as on
// amd64, so that tests can switch the vector path off).
var useAVX2 = false

func axpyAVX2(y []float64, a float64, x []float64)               { panic("no AVX2") }
func dotAVX2(a, b []float64) float64                             { panic("no AVX2") }
func axpyDotAVX2(y []float64, a float64, x, w []float64) float64 { panic("no AVX2") }
func dotRowsAVX2(out, u, rows []float64, d int)                  { panic("no AVX2") }
func combAVX2(out, c []float64, cs, n int, rows []float64, w, cols int) {
	panic("no AVX2")
}

func adamAVX2(p, m, v, g0, g1, g2, g3 []float64, k *adamConsts, flags int) { panic("no AVX2") }

func combIdxAVX2(out, init, c, rows []float64, idx []int32, w, cols int) { panic("no AVX2") }

func backHiddenAVX2(gh, h, ge, gw2, w2 []float64, idx []int32, d int) { panic("no AVX2") }

var useVectorExp = false

func expShiftAVX2(row []float64, mx float64, done []uint8) { panic("no AVX2") }

func logitsAVX2(row, lq []float64, invTau float64) float64 { panic("no AVX2") }
func divScaleAVX2(row []float64, z, a float64)             { panic("no AVX2") }
