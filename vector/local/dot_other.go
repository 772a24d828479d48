//go:build !amd64

package local

// dot returns the dot product of a and b, which have the same length.
func dot(a, b []float32) float32 { return dotGo(a, b) }

// dots sets out[k] to the dot product of q with row ids[k] of vecs.
func dots(q, vecs []float32, ids []uint32, out []float32) []float32 {
	return dotsGo(q, vecs, ids, out[:len(ids)])
}

// quantSupported reports whether searches of dimension dim may use
// quantized rows: only with the amd64 kernel.
func quantSupported(dim int) bool { return false }

// dotsQ is dotsQGo.
func dotsQ(q []int8, qt *quantTable, ids []uint32, out []float32) []float32 {
	return dotsQGo(q, qt, ids, out[:len(ids)])
}

// prefetch2 does nothing here.
func prefetch2(p *uint32) {}
