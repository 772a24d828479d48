package local

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func putFloat32(b []byte, f float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(f)) }

// TestDot checks dot (the vector kernel where the CPU has one) against the
// portable loop and a float64 sum, for every length up to 100.
func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 100; n++ {
		for range 20 {
			a, b := make([]float32, n), make([]float32, n+3) // b may be longer
			var want float64
			var scale float64
			for i := range a {
				a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				want += float64(a[i]) * float64(b[i])
				scale += math.Abs(float64(a[i]) * float64(b[i]))
			}
			tol := 1e-5 * (scale + 1)
			if got := dot(a, b[:n]); math.Abs(float64(got)-want) > tol {
				t.Fatalf("n=%d: dot %v, want %v", n, got, want)
			}
			if got := dotGo(a, b[:n]); math.Abs(float64(got)-want) > tol {
				t.Fatalf("n=%d: dotGo %v, want %v", n, got, want)
			}
		}
	}
}

func BenchmarkDot32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := make([]float32, 32), make([]float32, 32)
	for i := range x {
		x[i], y[i] = rng.Float32(), rng.Float32()
	}
	var s float32
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			s += dot(x, y)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			s += dotGo(x, y)
		}
	})
	_ = s
}

// TestDots checks the batched kernel against dotGo row by row, for the
// lab's 32 dimensions (the kernel's fast path) and others.
func TestDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dim := range []int{1, 7, 8, 16, 24, 32, 40, 64, 100} {
		rows := 50
		vecs := make([]float32, rows*dim)
		for i := range vecs {
			vecs[i] = float32(rng.NormFloat64())
		}
		q := vecs[7*dim : 8*dim]
		ids := []uint32{3, 0, 49, 7, 7, 20}
		out := dots(q, vecs, ids, make([]float32, 10))
		if len(out) != len(ids) {
			t.Fatalf("dim %d: %d results for %d ids", dim, len(out), len(ids))
		}
		for k, id := range ids {
			want := dotGo(q, vecs[int(id)*dim:int(id+1)*dim])
			if math.Abs(float64(out[k]-want)) > 1e-4*(1+math.Abs(float64(want))) {
				t.Errorf("dim %d, row %d: %v, want %v", dim, id, out[k], want)
			}
		}
		if out := dots(q, vecs, nil, nil); len(out) != 0 {
			t.Errorf("dim %d: %d results for no ids", dim, len(out))
		}
	}
}

// TestQuantized: the quantized rows give the dot products of the unit
// vectors to within a few thousandths, and the kernel agrees with the
// portable loop exactly.
func TestQuantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 200
	b := newTableBuilder(quantDim, 0, nil)
	for i := range n {
		v := make([]float32, quantDim)
		for j := range v {
			v[j] = float32(rng.NormFloat64()*0.3 + float64(j%3))
		}
		if err := b.add(string(rune('a'+i%26))+string(rune('A'+i/26)), v); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := b.finish("item")
	if err != nil {
		t.Fatal(err)
	}
	qt := &quantTable{rows: make([]byte, n*quantRowSize)}
	// Build the rows whatever the CPU, then compare the kernel when there
	// is one.
	var unit [quantDim]float32
	for i := range n {
		v := tb.vec(uint32(i))
		for j := range unit {
			unit[j] = v[j] * tb.inv[i]
		}
		row := qt.rows[i*quantRowSize : (i+1)*quantRowSize]
		f := quantizeInto(row[:quantDim], unit[:])
		putFloat32(row[quantDim:], f)
	}
	q := normalized(nil, tb.vec(17))
	var q8 [quantDim]int8
	qf := quantizeQuery(q8[:], q)
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(n - 1 - i)
	}
	want := dotsQGo(q8[:], qt, ids, make([]float32, n))
	for k, id := range ids {
		exact := dotGo(q, tb.vec(id)) * tb.inv[id]
		if got := want[k] * qf; math.Abs(float64(got-exact)) > 0.01 {
			t.Errorf("row %d: quantized dot %v, exact %v", id, got, exact)
		}
	}
	if quantSupported(quantDim) {
		got := dotsQ(q8[:], qt, ids, make([]float32, n))
		for k := range ids {
			if got[k] != want[k] {
				t.Fatalf("row %d: kernel %v, portable %v", ids[k], got[k], want[k])
			}
		}
		if qz := quantize(tb); qz == nil || !slices.Equal(qz.rows, qt.rows) {
			t.Errorf("quantize differs from the rows built here")
		}
	}
}
