package model

// Small dense matrix products for the sampled softmax, row-major. Each
// output is one sum, accumulated over the shared dimension in ascending
// order, so the result does not depend on the tiling (the tiles only keep
// several sums in registers at once, reading each input value once per
// tile instead of once per output). Every product is rounded explicitly
// (float64(a*b)) so that no platform fuses it into a multiply-add.

// mulABt sets out (r×m) to a·bᵀ, where a is r×d and b is m×d:
// out[i][j] = Σ_k a[i][k]·b[j][k].
func mulABt(out, a, b []float64, r, m, d int) {
	out = out[:r*m]
	a = a[:r*d]
	b = b[:m*d]
	i := 0
	for ; i+4 <= r; i += 4 {
		a0, a1, a2, a3 := a[i*d:][:d], a[(i+1)*d:][:d], a[(i+2)*d:][:d], a[(i+3)*d:][:d]
		j := 0
		for ; j+2 <= m; j += 2 {
			b0, b1 := b[j*d:][:d], b[(j+1)*d:][:d]
			var s00, s01, s10, s11, s20, s21, s30, s31 float64
			for k := range d {
				x0, x1 := b0[k], b1[k]
				y := a0[k]
				s00 += float64(y * x0)
				s01 += float64(y * x1)
				y = a1[k]
				s10 += float64(y * x0)
				s11 += float64(y * x1)
				y = a2[k]
				s20 += float64(y * x0)
				s21 += float64(y * x1)
				y = a3[k]
				s30 += float64(y * x0)
				s31 += float64(y * x1)
			}
			out[i*m+j], out[i*m+j+1] = s00, s01
			out[(i+1)*m+j], out[(i+1)*m+j+1] = s10, s11
			out[(i+2)*m+j], out[(i+2)*m+j+1] = s20, s21
			out[(i+3)*m+j], out[(i+3)*m+j+1] = s30, s31
		}
		for ; j < m; j++ {
			out[i*m+j] = dotSeq(a0, b[j*d:][:d])
			out[(i+1)*m+j] = dotSeq(a1, b[j*d:][:d])
			out[(i+2)*m+j] = dotSeq(a2, b[j*d:][:d])
			out[(i+3)*m+j] = dotSeq(a3, b[j*d:][:d])
		}
	}
	for ; i < r; i++ {
		for j := range m {
			out[i*m+j] = dotSeq(a[i*d:][:d], b[j*d:][:d])
		}
	}
}

// dotSeq is Σ a[k]·b[k] in ascending order, one accumulator: the order of
// mulABt's tiles.
func dotSeq(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for k, x := range a {
		s += float64(x * b[k])
	}
	return s
}

// mulAB sets out (r×d) to g·b, where g is r×m and b is m×d:
// out[i][k] = Σ_j g[i][j]·b[j][k].
func mulAB(out, g, b []float64, r, m, d int) {
	out = out[:r*d]
	g = g[:r*m]
	b = b[:m*d]
	if vectorGemm(d) {
		for i := range r {
			comb(out[i*d:(i+1)*d], g[i*m:(i+1)*m], 1, m, b, d)
		}
		return
	}
	i := 0
	for ; i+4 <= r; i += 4 {
		g0, g1, g2, g3 := g[i*m:][:m], g[(i+1)*m:][:m], g[(i+2)*m:][:m], g[(i+3)*m:][:m]
		k := 0
		for ; k+2 <= d; k += 2 {
			var s00, s01, s10, s11, s20, s21, s30, s31 float64
			for j := range m {
				bj := b[j*d+k:][:2]
				x0, x1 := bj[0], bj[1]
				y := g0[j]
				s00 += float64(y * x0)
				s01 += float64(y * x1)
				y = g1[j]
				s10 += float64(y * x0)
				s11 += float64(y * x1)
				y = g2[j]
				s20 += float64(y * x0)
				s21 += float64(y * x1)
				y = g3[j]
				s30 += float64(y * x0)
				s31 += float64(y * x1)
			}
			out[i*d+k], out[i*d+k+1] = s00, s01
			out[(i+1)*d+k], out[(i+1)*d+k+1] = s10, s11
			out[(i+2)*d+k], out[(i+2)*d+k+1] = s20, s21
			out[(i+3)*d+k], out[(i+3)*d+k+1] = s30, s31
		}
		for ; k < d; k++ {
			for q, gq := range [4][]float64{g0, g1, g2, g3} {
				s := 0.0
				for j := range m {
					s += float64(gq[j] * b[j*d+k])
				}
				out[(i+q)*d+k] = s
			}
		}
	}
	for ; i < r; i++ {
		for k := range d {
			s := 0.0
			for j := range m {
				s += float64(g[i*m+j] * b[j*d+k])
			}
			out[i*d+k] = s
		}
	}
}

// mulAtB sets out (m×d) to gᵀ·a, where g is r×m and a is r×d:
// out[j][k] = Σ_i g[i][j]·a[i][k].
func mulAtB(out, g, a []float64, r, m, d int) {
	out = out[:m*d]
	g = g[:r*m]
	a = a[:r*d]
	if vectorGemm(d) && r > 0 {
		for j := range m {
			comb(out[j*d:(j+1)*d], g[j:], m, r, a, d)
		}
		return
	}
	j := 0
	for ; j+4 <= m; j += 4 {
		k := 0
		for ; k+2 <= d; k += 2 {
			var s00, s01, s10, s11, s20, s21, s30, s31 float64
			for i := range r {
				gi := g[i*m+j:][:4]
				ai := a[i*d+k:][:2]
				x0, x1 := ai[0], ai[1]
				y := gi[0]
				s00 += float64(y * x0)
				s01 += float64(y * x1)
				y = gi[1]
				s10 += float64(y * x0)
				s11 += float64(y * x1)
				y = gi[2]
				s20 += float64(y * x0)
				s21 += float64(y * x1)
				y = gi[3]
				s30 += float64(y * x0)
				s31 += float64(y * x1)
			}
			out[j*d+k], out[j*d+k+1] = s00, s01
			out[(j+1)*d+k], out[(j+1)*d+k+1] = s10, s11
			out[(j+2)*d+k], out[(j+2)*d+k+1] = s20, s21
			out[(j+3)*d+k], out[(j+3)*d+k+1] = s30, s31
		}
		for ; k < d; k++ {
			for q := range 4 {
				s := 0.0
				for i := range r {
					s += float64(g[i*m+j+q] * a[i*d+k])
				}
				out[(j+q)*d+k] = s
			}
		}
	}
	for ; j < m; j++ {
		for k := range d {
			s := 0.0
			for i := range r {
				s += float64(g[i*m+j] * a[i*d+k])
			}
			out[j*d+k] = s
		}
	}
}

// comb sets out[k], for k < w, to Σ_{j<n} c[j·cs]·rows[j·w+k], summed over
// j in ascending order from 0: a row of a matrix product, the same bits as
// the tiled products above compute for it. With AVX2 it computes 16
// columns at a time.
func comb(out, c []float64, cs, n int, rows []float64, w int) {
	out = out[:w]
	if n > 0 {
		_ = c[(n-1)*cs]
		_ = rows[n*w-1]
	}
	cols := 0
	if useAVX2 {
		if cols = w &^ 15; cols > 0 {
			combAVX2(out, c, cs, n, rows, w, cols)
		}
	}
	for k := cols; k < w; k++ {
		s := 0.0
		for j := range n {
			s += float64(c[j*cs] * rows[j*w+k])
		}
		out[k] = s
	}
}

// vectorGemm reports whether the products should go row by row through
// comb: with AVX2, when the rows are wide enough for its 16 columns.
func vectorGemm(w int) bool { return useAVX2 && w >= 16 }

// transpose sets dst (cols×rows) to the transpose of src (rows×cols).
func transpose(dst, src []float64, rows, cols int) {
	dst = dst[:rows*cols]
	src = src[:rows*cols]
	for i := range rows {
		for j, x := range src[i*cols : (i+1)*cols] {
			dst[j*rows+i] = x
		}
	}
}

// mulABtT is mulABt given bt, the transpose of b (d×m): row by row through
// comb, the same bits.
func mulABtT(out, a, bt []float64, r, m, d int) {
	for i := range r {
		comb(out[i*m:(i+1)*m], a[i*d:(i+1)*d], 1, d, bt, m)
	}
}
