package local

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/recoflow/recoflow/vector"
)

// table is one loaded embeddings table: ids, raw vectors as loaded (so that
// ItemVector gives back exactly what was stored) and the inverse norm of
// each vector, used to turn dot products into cosines.
type table struct {
	dim   int
	ids   string    // all ids, concatenated
	off   []uint32  // n+1 offsets into ids: id i is ids[off[i]:off[i+1]]
	order []uint32  // row numbers sorted by id, for lookups
	vecs  []float32 // n*dim components
	inv   []float32 // n inverse norms
}

func (t *table) len() int { return len(t.off) - 1 }

func (t *table) id(i uint32) string { return t.ids[t.off[i]:t.off[i+1]] }

func (t *table) vec(i uint32) []float32 {
	s := int(i) * t.dim
	return t.vecs[s : s+t.dim : s+t.dim]
}

// lookup returns the row of id.
func (t *table) lookup(id string) (uint32, bool) {
	j, ok := slices.BinarySearchFunc(t.order, id, func(row uint32, id string) int {
		return strings.Compare(t.id(row), id)
	})
	if !ok {
		return 0, false
	}
	return t.order[j], true
}

// tableBuilder collects a table's rows during a load.
type tableBuilder struct {
	arena *arena
	dim   int
	ids   strings.Builder
	off   []uint32
	vecs  []float32
}

// maxHintRows caps the rows a size hint preallocates (a wrong hint must not
// allocate more than a few GiB up front).
const maxHintRows = 1 << 24

// newTableBuilder starts a table of vectors of dimension dim, with room
// for hint rows (a size hint; 0: grow as rows come) allocated from a (nil:
// the heap). Rows beyond the hint grow on the heap.
func newTableBuilder(dim int, hint int, a *arena) *tableBuilder {
	hint = min(max(hint, 0), maxHintRows)
	off := arenaSlice[uint32](a, hint+1)[:1]
	return &tableBuilder{arena: a, dim: dim, off: off, vecs: arenaSlice[float32](a, hint*dim)[:0]}
}

func (b *tableBuilder) add(id string, v []float32) error {
	if b.ids.Len()+len(id) > math.MaxUint32 {
		return fmt.Errorf("%w: ids exceed 4 GiB", vector.ErrInvalid)
	}
	if len(b.off) > math.MaxUint32-1 {
		return fmt.Errorf("%w: more than %d rows", vector.ErrInvalid, uint32(math.MaxUint32-1))
	}
	b.ids.WriteString(id)
	b.off = append(b.off, uint32(b.ids.Len()))
	b.vecs = append(b.vecs, v...)
	return nil
}

// finish sorts the ids, rejects duplicates and computes the inverse norms.
// kind names the table in errors ("item", "user").
func (b *tableBuilder) finish(kind string) (*table, error) {
	t := &table{dim: b.dim, ids: b.ids.String(), off: b.off, vecs: b.vecs}
	n := t.len()
	t.order = arenaSlice[uint32](b.arena, n)
	for i := range t.order {
		t.order[i] = uint32(i)
	}
	slices.SortFunc(t.order, func(a, b uint32) int {
		return cmp.Or(strings.Compare(t.id(a), t.id(b)), cmp.Compare(a, b))
	})
	for j := 1; j < n; j++ {
		if t.id(t.order[j-1]) == t.id(t.order[j]) {
			return nil, &vector.DuplicateIDError{Kind: kind, ID: t.id(t.order[j])}
		}
	}
	t.inv = inverseNorms(t.vecs, t.dim, b.arena)
	return t, nil
}

// inverseNorms returns the inverse norm of each vector, allocated from a.
func inverseNorms(vecs []float32, dim int, a *arena) []float32 {
	n := len(vecs) / dim
	inv := arenaSlice[float32](a, n)
	for i := range n {
		v := vecs[i*dim : (i+1)*dim]
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		inv[i] = float32(1 / math.Sqrt(s))
	}
	return inv
}

// dotGo returns the dot product of a and b, which have the same length,
// in portable Go (dot uses a vector kernel where the CPU has one).
func dotGo(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		x, y := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += x[0]*y[0] + x[4]*y[4]
		s1 += x[1]*y[1] + x[5]*y[5]
		s2 += x[2]*y[2] + x[6]*y[6]
		s3 += x[3]*y[3] + x[7]*y[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// normalized returns v scaled to unit length, in dst's storage.
func normalized(dst, v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	inv := 1 / math.Sqrt(s)
	dst = dst[:0]
	for _, x := range v {
		dst = append(dst, float32(float64(x)*inv))
	}
	return dst
}

// clampDistance keeps rounding from pushing a cosine distance out of [0, 2].
func clampDistance(d float32) float32 {
	if d < 0 {
		return 0
	}
	if d > 2 {
		return 2
	}
	return d
}

// dotsGo is dots in portable Go.
func dotsGo(q, vecs []float32, ids []uint32, out []float32) []float32 {
	dim := len(q)
	for k, id := range ids {
		s := int(id) * dim
		out[k] = dotGo(q, vecs[s:s+dim:s+dim])
	}
	return out
}
