package model

import (
	"context"
	"math"
	"testing"
)

// TestKernelsSameBits checks that the kernels (AVX2 where the CPU has it)
// give exactly the bits of their Go references, on lengths that exercise
// every remainder and on values of every magnitude and sign (zeros of
// both signs included).
func TestKernelsSameBits(t *testing.T) {
	t.Logf("AVX2 kernels: %v", useAVX2)
	r := newRNG(9, 3)
	vals := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			switch r.intn(10) {
			case 0:
				s[i] = 0
			case 1:
				s[i] = math.Copysign(0, -1)
			default:
				s[i] = (2*r.float64() - 1) * math.Pow(10, float64(r.intn(12))-6)
			}
		}
		return s
	}
	same := func(what string, n int, got, want float64) {
		t.Helper()
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%s, length %d: got %v (%#x), want %v (%#x)", what, n, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	for n := range 70 {
		for range 5 {
			x, w, y := vals(n+3), vals(n+1), vals(n)
			a := vals(1)[0]
			same("dot", n, dot(y, x), dotGo(y, x))
			y1, y2 := append([]float64(nil), y...), append([]float64(nil), y...)
			axpy(y1, a, x)
			axpyGo(y2, a, x)
			for k := range y1 {
				same("axpy", n, y1[k], y2[k])
			}
			s1, s2 := axpyDot(y1, a, x, w), axpyDotGo(y2, a, x, w)
			same("axpyDot", n, s1, s2)
			for k := range y1 {
				same("axpyDot's axpy", n, y1[k], y2[k])
			}
		}
	}
	// dotRows: every row as dot gives it, for row counts around the
	// kernel's four and widths with and without its multiple of four
	for _, d := range []int{1, 3, 4, 8, 12, 32, 33} {
		for rows := range 11 {
			u, m := vals(d), vals(rows*d)
			got := make([]float64, rows)
			dotRows(got, u, m, d)
			for i := range rows {
				same("dotRows", i, got[i], dotGo(u, m[i*d:(i+1)*d]))
			}
		}
	}
	for _, sz := range [][3]int{{1, 1, 1}, {4, 16, 16}, {5, 17, 33}, {7, 64, 32}, {64, 64, 32}, {3, 48, 7}, {0, 20, 32}} {
		rr, m, d := sz[0], sz[1], sz[2]
		a, b, g := vals(rr*d), vals(m*d), vals(rr*m)
		want := func(f func(out []float64), n int) []float64 { out := make([]float64, n); f(out); return out }
		// the references: the tiled products with the vector path off
		on := useAVX2
		useAVX2 = false
		ab := want(func(o []float64) { mulAB(o, g, b, rr, m, d) }, rr*d)
		atb := want(func(o []float64) { mulAtB(o, g, a, rr, m, d) }, m*d)
		abt := want(func(o []float64) { mulABt(o, a, b, rr, m, d) }, rr*m)
		useAVX2 = on
		bt := make([]float64, m*d)
		transpose(bt, b, m, d)
		for k, x := range want(func(o []float64) { mulAB(o, g, b, rr, m, d) }, rr*d) {
			same("g·b", k, x, ab[k])
		}
		for k, x := range want(func(o []float64) { mulAtB(o, g, a, rr, m, d) }, m*d) {
			same("gᵀ·a", k, x, atb[k])
		}
		for k, x := range want(func(o []float64) { mulABtT(o, a, bt, rr, m, d) }, rr*m) {
			same("a·bᵀ", k, x, abt[k])
		}
	}
}

// TestAdamSameBits checks adam (AVX2 where the CPU has it) against adamGo,
// with and without decay and shard sums, on every remainder of four.
func TestAdamSameBits(t *testing.T) {
	r := newRNG(4, 4)
	vals := func(n int, scale float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = (2*r.float64() - 1) * scale
		}
		return s
	}
	k := newAdamConsts(0.02, 2e-6, 1/(1-0.9*0.9), 1/(1-0.999*0.999))
	for n := range 23 {
		for flags := range 4 {
			p, m, v := vals(n, 1), vals(n, 0.1), vals(n, 0.01)
			for i := range v {
				v[i] = math.Abs(v[i])
			}
			g := [4][]float64{vals(n, 1), vals(n, 1), vals(n, 1), vals(n, 1)}
			cp := func(s []float64) []float64 { return append([]float64(nil), s...) }
			p2, m2, v2 := cp(p), cp(m), cp(v)
			h := [4][]float64{cp(g[0]), cp(g[1]), cp(g[2]), cp(g[3])}
			adam(p, m, v, g[0], g[1], g[2], g[3], &k, flags)
			adamGo(p2, m2, v2, h[0], h[1], h[2], h[3], &k, flags)
			for _, pair := range [][2][]float64{{p, p2}, {m, m2}, {v, v2}, {g[0], h[0]}, {g[3], h[3]}} {
				for i := range pair[0] {
					if math.Float64bits(pair[0][i]) != math.Float64bits(pair[1][i]) {
						t.Fatalf("length %d, flags %d, element %d: got %v, want %v", n, flags, i, pair[0][i], pair[1][i])
					}
				}
			}
		}
	}
}

// TestTowerSameBits runs a tower's forward and backward passes with the
// vector kernels and with the Go code, for embedding widths on and off
// their multiples of 16 and 4, and wants the same bits.
func TestTowerSameBits(t *testing.T) {
	for _, hd := range [][2]int{{64, 32}, {64, 16}, {48, 20}, {8, 3}, {33, 48}, {64, 64}} {
		H, D, in := hd[0], hd[1], 12
		run := func(vector bool) (h, e, g []float64) {
			on := useAVX2
			useAVX2 = useAVX2 && vector
			defer func() { useAVX2 = on }()
			rr := newRNG(7, uint64(H*100+D))
			tw := newTower(in, H, D, make([]float64, towerSize(in, H, D)))
			tw.initialize(rr, 3)
			for i := range tw.b1 {
				tw.b1[i] = 0.1 * (2*rr.float64() - 1)
			}
			x := &input{}
			x.add(1, 1)
			x.add(5, 1)
			x.add(11, 0.37)
			x.n = 3
			h, e = make([]float64, H), make([]float64, D)
			tw.forward(x, h, e)
			ge := make([]float64, D)
			for i := range ge {
				ge[i] = 2*rr.float64() - 1
			}
			gt := newTower(in, H, D, make([]float64, towerSize(in, H, D)))
			tw.backward(x, h, ge, gt, make([]float64, H))
			return h, e, gt.p
		}
		h1, e1, g1 := run(true)
		h2, e2, g2 := run(false)
		for _, pair := range [][2][]float64{{h1, h2}, {e1, e2}, {g1, g2}} {
			for i := range pair[0] {
				if math.Float64bits(pair[0][i]) != math.Float64bits(pair[1][i]) {
					t.Fatalf("hidden %d, dim %d, value %d: vector %v, Go %v", H, D, i, pair[0][i], pair[1][i])
				}
			}
		}
	}
}

// TestExpSameBits checks the softmax's vector exponential against
// math.Exp, bit for bit, on the range it takes and at its edges (values
// outside it must be left for math.Exp).
func TestExpSameBits(t *testing.T) {
	if !useVectorExp {
		t.Skip("no vector exponential on this CPU")
	}
	r := newRNG(8, 8)
	row := make([]float64, 4096)
	for i := range row {
		switch i % 97 {
		case 0:
			row[i] = math.Inf(-1)
		case 1:
			row[i] = math.NaN()
		case 2:
			row[i] = -700.5
		case 3:
			row[i] = 1e-300
		default:
			if i%2 == 0 {
				row[i] = -40 * r.float64() * r.float64()
			} else {
				row[i] = -699 * r.float64()
			}
		}
	}
	for _, mx := range []float64{0, 1.5, -3.25} {
		got := append([]float64(nil), row...)
		done := make([]uint8, len(got)/4)
		expShiftAVX2(got, mx, done)
		vec := 0
		for q, ok := range done {
			for c := 4 * q; c < 4*q+4; c++ {
				want := math.Exp(row[c] - mx)
				if ok == 0 {
					if math.Float64bits(got[c]) != math.Float64bits(row[c]) {
						t.Fatalf("quad %d left for math.Exp was changed", q)
					}
					continue
				}
				if math.Float64bits(got[c]) != math.Float64bits(want) {
					t.Fatalf("exp(%v − %v): got %v (%#x), want %v (%#x)", row[c], mx, got[c], math.Float64bits(got[c]), want, math.Float64bits(want))
				}
			}
			vec += int(ok)
		}
		if vec < len(done)*3/4 {
			t.Errorf("mx %v: only %d of %d quads took the vector path", mx, vec, len(done))
		}
	}
}

// TestTrainSameBitsWithoutVectors trains the same model with the vector
// kernels and with the Go code alone (on data with latent tastes, masked
// negatives, every dimension path) and wants the same towers, id vectors
// and metrics, bit for bit.
func TestTrainSameBitsWithoutVectors(t *testing.T) {
	if !useAVX2 {
		t.Skip("no vector kernels on this CPU")
	}
	rs := generate(genConfig{users: 300, items: 90, perUser: 20, cities: 20, countries: 5, latent: 1, seed: 3})
	train := func(vector bool) *Result {
		on, onExp := useAVX2, useVectorExp
		useAVX2, useVectorExp = vector, vector && onExp
		defer func() { useAVX2, useVectorExp = on, onExp }()
		res, err := Train(context.Background(), datasetOf(t, rs), Config{Seed: 2, Epochs: 6, Negatives: 50})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := train(true), train(false)
	for _, pair := range [][2][]float64{{a.Model.user.p, b.Model.user.p}, {a.Model.item.p, b.Model.item.p}, {a.Model.userVec, b.Model.userVec}, {a.Model.itemVec, b.Model.itemVec}} {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("lengths %d and %d", len(pair[0]), len(pair[1]))
		}
		for i := range pair[0] {
			if math.Float64bits(pair[0][i]) != math.Float64bits(pair[1][i]) {
				t.Fatalf("value %d: vector %v, Go %v", i, pair[0][i], pair[1][i])
			}
		}
	}
	if a.Metrics.Epochs[len(a.Metrics.Epochs)-1].TrainLoss != b.Metrics.Epochs[len(b.Metrics.Epochs)-1].TrainLoss {
		t.Errorf("training losses differ")
	}
}
