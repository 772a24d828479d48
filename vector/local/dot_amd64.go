package local

import "golang.org/x/sys/cpu"

// haveAVX2 reports whether dot may use the AVX2 and FMA kernel.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotAVX2 is the dot product of a and b with AVX2 and FMA (dot_amd64.s).
// len(a) must be a multiple of 8 and len(b) at least len(a).
//
//go:noescape
func dotAVX2(a, b []float32) float32

// dot returns the dot product of a and b, which have the same length.
func dot(a, b []float32) float32 {
	n := len(a)
	if !haveAVX2 || n < 8 {
		return dotGo(a, b)
	}
	b = b[:n]
	n8 := n &^ 7
	s := dotAVX2(a[:n8], b[:n8])
	if n8 < n {
		s += dotGo(a[n8:], b[n8:])
	}
	return s
}

// dotsAVX2: out[k] = dot(q, row ids[k] of vecs) for every k (dot_amd64.s).
// len(q) must be a multiple of 8, every row inside vecs, len(out) ≥
// len(ids).
//
//go:noescape
func dotsAVX2(q, vecs []float32, ids []uint32, out []float32)

// dots sets out[k] to the dot product of q with row ids[k] of vecs (rows
// of len(q) components) for every k, and returns out[:len(ids)]. Computing
// a batch in one call lets the CPU fetch the rows in parallel.
func dots(q, vecs []float32, ids []uint32, out []float32) []float32 {
	dim := len(q)
	out = out[:len(ids)]
	if !haveAVX2 || dim%8 != 0 || dim == 0 {
		return dotsGo(q, vecs, ids, out)
	}
	rows := uint64(len(vecs) / dim)
	for _, id := range ids {
		if uint64(id) >= rows {
			panic("local: dots: row out of range")
		}
	}
	dotsAVX2(q, vecs, ids, out)
	return out
}

// dotsQ32AVX2 is dotsQ's kernel (dot_amd64.s).
//
//go:noescape
func dotsQ32AVX2(q []int8, rows []byte, ids []uint32, out []float32)

// quantSupported reports whether searches of dimension dim may use
// quantized rows: where the CPU has the kernel for them.
func quantSupported(dim int) bool { return haveAVX2 && dim == quantDim }

// dotsQ sets out[k] to the approximate dot product of the quantized query
// q with quantized row ids[k] (see quantTable), for every k.
func dotsQ(q []int8, qt *quantTable, ids []uint32, out []float32) []float32 {
	out = out[:len(ids)]
	rows := uint64(len(qt.rows) / quantRowSize)
	for _, id := range ids {
		if uint64(id) >= rows {
			panic("local: dotsQ: row out of range")
		}
	}
	if len(q) != quantDim {
		panic("local: dotsQ: query of the wrong dimension")
	}
	dotsQ32AVX2(q, qt.rows, ids, out)
	return out
}

// prefetch2 starts fetching the 128 bytes from p into the caches
// (dot_amd64.s); it has no other effect.
//
//go:noescape
func prefetch2(p *uint32)
