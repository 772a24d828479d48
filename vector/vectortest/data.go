package vectortest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
)

// Clustered returns n deterministic dim-dimensional vectors shaped like
// trained embeddings rather than uniform noise: they fall into clusters
// (think product lines) of uneven sizes, and inside a cluster they spread
// mostly along a few directions of the cluster's own (a low intrinsic
// dimension, as a tower fed with a handful of features produces), plus a
// little isotropic noise. Ids are prefix followed by the index. The same
// seed gives the same vectors.
func Clustered(seed uint64, n, dim int, prefix string) []embedding.Entry {
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	clusters := max(1, int(math.Sqrt(float64(n))/3))
	const rank = 10
	type cluster struct {
		center []float32
		basis  [][]float32 // rank directions
		spread float64
	}
	cs := make([]cluster, clusters)
	weights := make([]float64, clusters)
	total := 0.0
	for c := range cs {
		cs[c].center = gaussian(rng, dim, 1)
		for range rank {
			cs[c].basis = append(cs[c].basis, gaussian(rng, dim, 1/math.Sqrt(float64(dim))))
		}
		cs[c].spread = 0.3 + 0.5*rng.Float64()
		weights[c] = 1 / math.Pow(float64(c+1), 0.7) // uneven sizes
		total += weights[c]
	}
	out := make([]embedding.Entry, n)
	for i := range out {
		// Pick a cluster by weight.
		r := rng.Float64() * total
		c := 0
		for c < clusters-1 && r > weights[c] {
			r -= weights[c]
			c++
		}
		cl := cs[c]
		v := slices.Clone(cl.center)
		for _, b := range cl.basis {
			z := rng.NormFloat64() * cl.spread
			for j := range v {
				v[j] += float32(z) * b[j]
			}
		}
		for j := range v {
			v[j] += float32(rng.NormFloat64() * 0.08)
		}
		out[i] = embedding.Entry{ID: fmt.Sprintf("%s%d", prefix, i), Vector: v}
	}
	return out
}

// Queries returns n query vectors drawn like Clustered's vectors but not
// equal to any of them (another seed, same clusters): what a model asked
// about a new user or item produces.
func Queries(seed uint64, items []embedding.Entry, n int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0xfeed))
	out := make([][]float32, n)
	for i := range out {
		a := items[rng.IntN(len(items))].Vector
		b := items[rng.IntN(len(items))].Vector
		// Mostly near one item, a little towards another: between
		// neighbours, not on top of one.
		w := float32(0.3 * rng.Float64())
		v := make([]float32, len(a))
		for j := range v {
			v[j] = (1-w)*a[j] + w*b[j] + float32(rng.NormFloat64()*0.05)
		}
		out[i] = v
	}
	return out
}

func gaussian(rng *rand.Rand, dim int, sigma float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sigma)
	}
	return v
}

// CosineDistance is 1 − cos(a, b), computed in float64.
func CosineDistance(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	return 1 - ab/math.Sqrt(aa*bb)
}

// Exact returns the true k nearest items to q by cosine distance, nearest
// first (ties by id), skipping exclude: the ground truth for recall.
func Exact(items []embedding.Entry, q []float32, k int, exclude ...string) []vector.Hit {
	if k <= 0 {
		return nil
	}
	var qq float64
	for _, x := range q {
		qq += float64(x) * float64(x)
	}
	qn := math.Sqrt(qq)
	less := func(a, b vector.Hit) bool {
		return a.Distance < b.Distance || (a.Distance == b.Distance && a.ID < b.ID)
	}
	// best is kept sorted; k is small, so insertion beats a heap.
	best := make([]vector.Hit, 0, k+1)
	for _, e := range items {
		var ab, bb float64
		for i, y := range e.Vector {
			ab += float64(q[i]) * float64(y)
			bb += float64(y) * float64(y)
		}
		h := vector.Hit{ID: e.ID, Distance: 1 - ab/(qn*math.Sqrt(bb))}
		if len(best) == k && !less(h, best[k-1]) {
			continue
		}
		if len(exclude) > 0 && slices.Contains(exclude, e.ID) {
			continue
		}
		i := len(best)
		best = append(best, h)
		for i > 0 && less(h, best[i-1]) {
			best[i] = best[i-1]
			i--
		}
		best[i] = h
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}

// Recall is the fraction of want's ids found in got.
func Recall(got, want []vector.Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	found := 0
	for _, w := range want {
		if slices.ContainsFunc(got, func(h vector.Hit) bool { return h.ID == w.ID }) {
			found++
		}
	}
	return float64(found) / float64(len(want))
}

// Gaussian returns n deterministic dim-dimensional vectors, not
// normalised, from clusters isotropic Gaussian clusters: each cluster's
// centre has standard normal components, each vector is a centre chosen
// uniformly plus normal noise of standard deviation sigma per component.
// held more vectors are drawn the same way and returned apart, as queries
// that are in no store. Ids are prefix followed by the index. The same
// seed gives the same vectors. This is the data set of `recoflow bench
// vectors`.
func Gaussian(seed uint64, n, held, dim, clusters int, sigma float64, prefix string) ([]embedding.Entry, [][]float32) {
	rng := rand.New(rand.NewPCG(seed, 0x9a55))
	clusters = max(1, clusters)
	centres := make([][]float32, clusters)
	for c := range centres {
		centres[c] = gaussian(rng, dim, 1)
	}
	draw := func() []float32 {
		v := slices.Clone(centres[rng.IntN(clusters)])
		for j := range v {
			v[j] += float32(rng.NormFloat64() * sigma)
		}
		return v
	}
	items := make([]embedding.Entry, n)
	for i := range items {
		items[i] = embedding.Entry{ID: fmt.Sprintf("%s%d", prefix, i), Vector: draw()}
	}
	queries := make([][]float32, held)
	for i := range queries {
		queries[i] = draw()
	}
	return items, queries
}
