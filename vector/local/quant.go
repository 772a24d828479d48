package local

import (
	"encoding/binary"
	"math"
)

// Searches of the graph compare the query with a few thousand rows each,
// scattered in memory. They walk the graph on 8-bit copies of the unit
// vectors — 36 bytes a row, a cache line, instead of the 128 bytes of the
// float32 row and its inverse norm elsewhere — and re-rank the candidates
// they return with exact float32 distances. The copies are derived when a
// version is loaded or opened, never stored.

// quantDim is the dimension quantized rows are made for (the lab's).
const quantDim = 32

// quantRowSize is the size of one quantized row: quantDim int8 components
// of the unit vector times 127/max|component|, then that scale's inverse
// as a little-endian float32.
const quantRowSize = quantDim + 4

// quantTable holds a table's quantized rows.
type quantTable struct {
	rows []byte
}

// quantize returns the quantized rows of t, or nil when its dimension has
// no kernel on this machine.
func quantize(t *table) *quantTable {
	if !quantSupported(t.dim) {
		return nil
	}
	n := t.len()
	qt := &quantTable{rows: make([]byte, n*quantRowSize)}
	var unit [quantDim]float32
	for i := range n {
		v := t.vec(uint32(i))
		inv := t.inv[i]
		for j := range unit {
			unit[j] = v[j] * inv
		}
		row := qt.rows[i*quantRowSize : (i+1)*quantRowSize]
		factor := quantizeInto(row[:quantDim], unit[:])
		binary.LittleEndian.PutUint32(row[quantDim:], math.Float32bits(factor))
	}
	return qt
}

// quantizeInto writes v scaled to int8 into dst (as bytes) and returns the
// factor that turns a dot product of such integers back into v's scale:
// max|v|/127.
func quantizeInto(dst []byte, v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	s := 127 / m
	for j, x := range v {
		dst[j] = byte(int8(math.Round(float64(x * s))))
	}
	return m / 127
}

// quantizeQuery writes the unit query q scaled to int8 into dst and
// returns its factor (see quantizeInto).
func quantizeQuery(dst []int8, q []float32) float32 {
	var m float32
	for _, x := range q {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	s := 127 / m
	for j, x := range q {
		dst[j] = int8(math.Round(float64(x * s)))
	}
	return m / 127
}

// dotsQGo is the portable dotsQ.
func dotsQGo(q []int8, qt *quantTable, ids []uint32, out []float32) []float32 {
	for k, id := range ids {
		row := qt.rows[int(id)*quantRowSize : (int(id)+1)*quantRowSize]
		var s int32
		for j, x := range q {
			s += int32(x) * int32(int8(row[j]))
		}
		out[k] = float32(s) * math.Float32frombits(binary.LittleEndian.Uint32(row[quantDim:]))
	}
	return out
}
