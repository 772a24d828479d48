package baseline

import (
	"math/rand/v2"

	"github.com/recoflow/recoflow/eval"
)

// csr is a sparse 0/1 matrix in compressed rows: the columns of row r are
// idx[ptr[r]:ptr[r+1]], sorted and distinct.
type csr struct {
	ptr []int
	idx []int32
}

func (m *csr) row(r int) []int32 { return m.idx[m.ptr[r]:m.ptr[r+1]] }

// interactions returns the user→item and item→user matrices of the
// interactions of d that keep says to use (nil: all), each (user, item) pair
// once.
func interactions(d *eval.Data, keep func(eval.Interaction) bool) (userItems, itemUsers *csr) {
	seen := make(map[[2]int32]bool, len(d.Interactions))
	var pairs [][2]int32
	for _, x := range d.Interactions {
		p := [2]int32{x.User, x.Item}
		if (keep == nil || keep(x)) && !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	return build(pairs, d.NumUsers, 0, 1), build(pairs, d.NumItems, 1, 0)
}

// build groups pairs by p[row] with the p[col] values sorted.
func build(pairs [][2]int32, n, row, col int) *csr {
	m := &csr{ptr: make([]int, n+1), idx: make([]int32, len(pairs))}
	for _, p := range pairs {
		m.ptr[p[row]+1]++
	}
	for r := range n {
		m.ptr[r+1] += m.ptr[r]
	}
	next := append([]int(nil), m.ptr[:n]...)
	// Insert in order of the column value so rows come out sorted.
	for _, p := range sortedBy(pairs, col) {
		r := p[row]
		m.idx[next[r]] = p[col]
		next[r]++
	}
	return m
}

// sortedBy returns pairs ordered by p[col] (a counting sort, stable).
func sortedBy(pairs [][2]int32, col int) [][2]int32 {
	maxv := int32(-1)
	for _, p := range pairs {
		maxv = max(maxv, p[col])
	}
	count := make([]int, maxv+2)
	for _, p := range pairs {
		count[p[col]+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	out := make([][2]int32, len(pairs))
	for _, p := range pairs {
		out[count[p[col]]] = p
		count[p[col]]++
	}
	return out
}

// popularity is the number of training interactions per item, the scores
// for a user without history.
func popularity(d *eval.Data) []float64 {
	p := make([]float64, d.NumItems)
	for _, x := range d.Interactions {
		p[x.Item]++
	}
	return p
}

// positive reports whether an interaction counts as a positive for methods
// that learn from positives only: a rating of at least min, or any
// interaction of implicit data.
func positive(implicit bool, minRating float32) func(eval.Interaction) bool {
	if implicit {
		return nil
	}
	return func(x eval.Interaction) bool { return x.Rating >= minRating }
}

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// mfScorer scores by the dot product of user and item factors (rows of
// width f), and by popularity for a user without training interactions.
type mfScorer struct {
	f        int
	user     []float64
	item     []float64
	known    []bool
	fallback []float64
}

func (s *mfScorer) Score(u int32, dst []float64) {
	if int(u) >= len(s.known) || !s.known[u] {
		copy(dst, s.fallback)
		return
	}
	x := s.user[int(u)*s.f : int(u+1)*s.f]
	for i := range dst {
		dst[i] = dot(x, s.item[i*s.f:(i+1)*s.f])
	}
}
