package model

import "math"

// tower is a two-layer perceptron, input → hidden (ReLU) → embedding
// (linear), whose parameters are views into one flat slice:
//
//	w1  in×hidden   w1[i*hidden+k] is the weight from input i to hidden unit k
//	b1  hidden
//	w2  hidden×out  w2[k*out+o] is the weight from hidden unit k to output o
//	b2  out
//
// Both matrices are stored input-major, because both layers' inputs are
// sparse: a user or item has a handful of non-zero inputs (one per one-hot
// block, plus its numbers), and about half of the hidden units are switched
// off by the ReLU. The forward pass adds the rows of the active inputs, and
// the backward pass touches only those rows.
//
// The same type views a gradient slice of the same layout.
type tower struct {
	in, hidden, out int
	p               []float64
	w1, b1, w2, b2  []float64
}

func towerSize(in, hidden, out int) int { return in*hidden + hidden + hidden*out + out }

// newTower lays a tower over p, which must hold towerSize(in, hidden, out)
// values.
func newTower(in, hidden, out int, p []float64) *tower {
	t := &tower{in: in, hidden: hidden, out: out, p: p[:towerSize(in, hidden, out)]}
	o := 0
	next := func(n int) []float64 { s := t.p[o : o+n : o+n]; o += n; return s }
	t.w1 = next(in * hidden)
	t.b1 = next(hidden)
	t.w2 = next(hidden * out)
	t.b2 = next(out)
	return t
}

// initialize draws the weights uniformly: He initialization for the ReLU
// layer, with the number of input features (not the one-hot width) as fan-in
// because at most that many inputs are non-zero; Glorot for the linear
// layer. Biases start at 0.
func (t *tower) initialize(r *rng, features int) {
	a1 := math.Sqrt(6 / float64(features))
	for i := range t.w1 {
		t.w1[i] = a1 * (2*r.float64() - 1)
	}
	a2 := math.Sqrt(6 / float64(t.hidden+t.out))
	for i := range t.w2 {
		t.w2[i] = a2 * (2*r.float64() - 1)
	}
	clear(t.b1)
	clear(t.b2)
}

// forward computes the hidden activations h (len hidden) and the embedding
// e (len out) of x. Every product is rounded explicitly (float64(a*b)) so
// that no platform fuses it into a multiply-add: the same weights give the
// same bits on every machine.
func (t *tower) forward(x *input, h, e []float64) {
	H, D := t.hidden, t.out
	h = h[:H]
	e = e[:D]
	copy(h, t.b1)
	for j := 0; j < x.n; j++ {
		v := x.val[j]
		row := t.w1[int(x.idx[j])*H:][:H]
		if v == 1 && !useAVX2 {
			for k := range h {
				h[k] += row[k]
			}
			continue
		}
		axpy(h, v, row) // 1·w = w exactly: the same sums
	}
	if vectorGemm(D) && H <= maxHidden {
		// the same sums, 16 outputs at a time over the active units
		var buf [maxHidden]int32
		for k, v := range h {
			h[k] = max(v, 0) // the ReLU: +0 for v ≤ 0 (−0 included), NaN stays
		}
		combIdx(e, t.b2, h, t.w2, activeUnits(buf[:H], h), D)
		return
	}
	copy(e, t.b2)
	for k, v := range h {
		if v <= 0 {
			h[k] = 0
			continue
		}
		axpy(e, v, t.w2[k*D:][:D])
	}
}

// maxHidden is the widest hidden layer the vector paths of forward and
// backward take (a buffer of that many unit numbers on the stack).
const maxHidden = 128

// activeUnits returns, in buf, the units k of h that the ReLU leaves on
// (!(h[k] ≤ 0)), in order; written without a branch per unit, as about
// half the units are off at random.
func activeUnits(buf []int32, h []float64) []int32 {
	buf = buf[:len(h)]
	n := 0
	for k, v := range h {
		buf[n] = int32(k)
		on := 0
		if !(v <= 0) {
			on = 1
		}
		n += on
	}
	return buf[:n]
}

// combIdx sets out[k], for k < w, to init[k] + Σ_{j in idx} c[j]·rows[j·w+k],
// summed in idx's order: with AVX2, 16 columns at a time.
func combIdx(out, init, c, rows []float64, idx []int32, w int) {
	out = out[:w]
	init = init[:w]
	for _, j := range idx {
		_ = c[j]
		_ = rows[int(j)*w+w-1]
	}
	cols := 0
	if useAVX2 {
		if cols = w &^ 15; cols > 0 {
			combIdxAVX2(out, init, c, rows, idx, w, cols)
		}
	}
	for k := cols; k < w; k++ {
		s := init[k]
		for _, j := range idx {
			s += float64(c[j] * rows[int(j)*w+k])
		}
		out[k] = s
	}
}

// backward adds to g (a gradient tower) the gradient of the loss with
// respect to t's parameters for one input x, given the activations h from
// forward and ge, the gradient with respect to the embedding. gh is scratch
// of length hidden.
func (t *tower) backward(x *input, h, ge []float64, g *tower, gh []float64) {
	H, D := t.hidden, t.out
	h = h[:H]
	gh = gh[:H]
	ge = ge[:D]
	if useAVX2 && D%4 == 0 && H <= maxHidden {
		// the same sums as below, the active units in one call
		var buf [maxHidden]int32
		clear(gh)
		backHiddenAVX2(gh, h, ge, g.w2[:H*D], t.w2[:H*D], activeUnits(buf[:H], h), D)
	} else {
		for k, v := range h {
			if v <= 0 { // the ReLU was off: nothing flows through unit k
				gh[k] = 0
				continue
			}
			gh[k] = axpyDot(g.w2[k*D:][:D], v, ge, t.w2[k*D:][:D])
		}
	}
	axpy(g.b2, 1, ge)
	axpy(g.b1, 1, gh)
	for j := 0; j < x.n; j++ {
		axpy(g.w1[int(x.idx[j])*H:][:H], x.val[j], gh)
	}
}

// axpyDot adds a·x to y and returns w·x: the two uses of one hidden unit's
// row in the backward pass, in one sweep. Four lanes, fixed order.
func axpyDot(y []float64, a float64, x, w []float64) float64 {
	x = x[:len(y)]
	w = w[:len(y)]
	if useAVX2 {
		return axpyDotAVX2(y, a, x, w)
	}
	return axpyDotGo(y, a, x, w)
}

// axpyDotGo is axpyDot in Go: the reference of axpyDotAVX2.
func axpyDotGo(y []float64, a float64, x, w []float64) float64 {
	x = x[:len(y)]
	w = w[:len(y)]
	var s0, s1, s2, s3 float64
	for len(y) >= 4 && len(x) >= 4 && len(w) >= 4 {
		y4, x4, w4 := y[:4:4], x[:4:4], w[:4:4]
		y4[0] += float64(a * x4[0])
		y4[1] += float64(a * x4[1])
		y4[2] += float64(a * x4[2])
		y4[3] += float64(a * x4[3])
		s0 += float64(w4[0] * x4[0])
		s1 += float64(w4[1] * x4[1])
		s2 += float64(w4[2] * x4[2])
		s3 += float64(w4[3] * x4[3])
		y, x, w = y[4:], x[4:], w[4:]
	}
	for i := range y {
		y[i] += float64(a * x[i])
		s0 += float64(w[i] * x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// dotRows sets out[i] to dot(u[:d], rows[i·d:(i+1)·d]) for every i <
// len(out): the same bits as calling dot per row, four rows at a time
// where the kernel can.
func dotRows(out, u, rows []float64, d int) {
	u = u[:d]
	rows = rows[:len(out)*d]
	if useAVX2 && d > 0 && d%4 == 0 {
		dotRowsAVX2(out, u, rows, d)
		return
	}
	for i := range out {
		out[i] = dot(u, rows[i*d:(i+1)*d])
	}
}

// dot returns Σ a[i]·b[i], summed in four lanes for speed; the order is
// fixed, so the result is deterministic.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	if useAVX2 {
		return dotAVX2(a, b)
	}
	return dotGo(a, b)
}

// dotGo is dot in Go: the reference of dotAVX2.
func dotGo(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	for len(a) >= 4 && len(b) >= 4 {
		a4, b4 := a[:4:4], b[:4:4]
		s0 += float64(a4[0] * b4[0])
		s1 += float64(a4[1] * b4[1])
		s2 += float64(a4[2] * b4[2])
		s3 += float64(a4[3] * b4[3])
		a, b = a[4:], b[4:]
	}
	for i := range a {
		s0 += float64(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds a·x to y.
func axpy(y []float64, a float64, x []float64) {
	x = x[:len(y)]
	if useAVX2 {
		axpyAVX2(y, a, x)
		return
	}
	axpyGo(y, a, x)
}

// axpyGo is axpy in Go: the reference of axpyAVX2.
func axpyGo(y []float64, a float64, x []float64) {
	x = x[:len(y)]
	for len(y) >= 4 && len(x) >= 4 {
		y4, x4 := y[:4:4], x[:4:4]
		y4[0] += float64(a * x4[0])
		y4[1] += float64(a * x4[1])
		y4[2] += float64(a * x4[2])
		y4[3] += float64(a * x4[3])
		y, x = y[4:], x[4:]
	}
	for i := range y {
		y[i] += float64(a * x[i])
	}
}

// cosineEps keeps norms away from zero: ‖u‖ is sqrt(u·u + cosineEps).
const cosineEps = 1e-12

// unitRows returns e (rows of D values) with each row divided by its norm
// sqrt(row·row + cosineEps).
func unitRows(e []float64, D int) []float64 {
	out := make([]float64, len(e))
	for k := range len(e) / D {
		unitRow(out[k*D:(k+1)*D], e[k*D:(k+1)*D])
	}
	return out
}

// unitRow sets out to v divided by its norm, as unitRows does each row.
func unitRow(out, v []float64) {
	out = out[:len(v)]
	norm := math.Sqrt(dot(v, v) + cosineEps)
	for j, x := range v {
		out[j] = x / norm
	}
}

// cosine returns the cosine similarity of u and v, with u·u and v·v (each
// plus cosineEps) for cosineGrad.
func cosine(u, v []float64) (c, uu, vv float64) {
	uu = dot(u, u) + cosineEps
	vv = dot(v, v) + cosineEps
	c = dot(u, v) / (math.Sqrt(uu) * math.Sqrt(vv))
	return c, uu, vv
}

// cosineGrad sets gu and gv to scale times the gradient of cosine(u, v)
// with respect to u and v:
//
//	∂c/∂u = v/(‖u‖‖v‖) − c·u/‖u‖²   (and symmetrically for v)
func cosineGrad(u, v []float64, c, uu, vv, scale float64, gu, gv []float64) {
	a := scale / (math.Sqrt(uu) * math.Sqrt(vv))
	bu := scale * c / uu
	bv := scale * c / vv
	v = v[:len(u)]
	gu = gu[:len(u)]
	gv = gv[:len(u)]
	for k := range u {
		gu[k] = float64(a*v[k]) - float64(bu*u[k])
		gv[k] = float64(a*u[k]) - float64(bv*v[k])
	}
}
