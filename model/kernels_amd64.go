package model

// useAVX2 routes the kernels to their AVX2 versions (kernels_amd64.s),
// which give the same bits as the Go code: see kernels.go.
var useAVX2 = cpuHasAVX2()

func cpuHasAVX2() bool

//go:noescape
func axpyAVX2(y []float64, a float64, x []float64)

//go:noescape
func dotAVX2(a, b []float64) float64

//go:noescape
func dotRowsAVX2(out, u, rows []float64, d int)

//go:noescape
func axpyDotAVX2(y []float64, a float64, x, w []float64) float64

//go:noescape
func combAVX2(out, c []float64, cs, n int, rows []float64, w, cols int)

//go:noescape
func adamAVX2(p, m, v, g0, g1, g2, g3 []float64, k *adamConsts, flags int)

//go:noescape
func combIdxAVX2(out, init, c, rows []float64, idx []int32, w, cols int)

//go:noescape
func backHiddenAVX2(gh, h, ge, gw2, w2 []float64, idx []int32, d int)

// useVectorExp routes the softmax's exponentials through expShiftAVX2,
// which gives math.Exp's bits where math.Exp takes its FMA path (AVX and
// FMA), which is when this is set.
var useVectorExp = useAVX2 && cpuHasFMA()

func cpuHasFMA() bool

//go:noescape
func expShiftAVX2(row []float64, mx float64, done []uint8)

//go:noescape
func logitsAVX2(row, lq []float64, invTau float64) float64

//go:noescape
func divScaleAVX2(row []float64, z, a float64)
