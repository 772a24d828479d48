package baseline

import (
	"context"
	"math"
	"slices"

	"github.com/recoflow/recoflow/eval"
)

// DefaultNeighbours is ItemKNN's default number of neighbours per item, that
// of the implicit library's ItemItemRecommender (K=20).
const DefaultNeighbours = 20

// ItemKNN is item-based collaborative filtering: the cosine similarity of
// two items over the users who interacted with them (every training
// interaction a 1, the way the implicit library's CosineRecommender reads an
// unweighted matrix), each item keeping its Neighbours most similar items,
// and a user's score for an item the sum of its similarities to the items
// the user interacted with.
type ItemKNN struct {
	// Neighbours per item (default DefaultNeighbours).
	Neighbours int
}

// Name returns "item-knn".
func (ItemKNN) Name() string { return "item-knn" }

// Fit computes the pruned item-item similarities. Time grows with the sum
// over users of their number of items squared; memory with items ×
// Neighbours.
func (m ItemKNN) Fit(ctx context.Context, train *eval.Data) (eval.Scorer, error) {
	k := m.Neighbours
	if k <= 0 {
		k = DefaultNeighbours
	}
	userItems, itemUsers := interactions(train, nil)
	n := train.NumItems
	norm := make([]float64, n)
	for i := range n {
		norm[i] = math.Sqrt(float64(len(itemUsers.row(i))))
	}
	s := &knnScorer{k: k, userItems: userItems, nbr: make([]int32, n*k), sim: make([]float64, n*k), fallback: popularity(train)}
	co := make([]float64, n)
	var touched []int32
	type cand struct {
		j int32
		s float64
	}
	var cands []cand
	for i := range n {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		touched = touched[:0]
		for _, u := range itemUsers.row(i) {
			for _, j := range userItems.row(int(u)) {
				if int(j) == i {
					continue
				}
				if co[j] == 0 {
					touched = append(touched, j)
				}
				co[j]++
			}
		}
		cands = cands[:0]
		for _, j := range touched {
			cands = append(cands, cand{j, co[j] / (norm[i] * norm[j])})
			co[j] = 0
		}
		slices.SortFunc(cands, func(a, b cand) int {
			switch {
			case a.s > b.s:
				return -1
			case a.s < b.s:
				return 1
			}
			return int(a.j - b.j)
		})
		for r := range k {
			if r < len(cands) {
				s.nbr[i*k+r], s.sim[i*k+r] = cands[r].j, cands[r].s
			} else {
				s.nbr[i*k+r], s.sim[i*k+r] = -1, 0
			}
		}
	}
	return s, nil
}

type knnScorer struct {
	k         int
	userItems *csr
	nbr       []int32 // items × k neighbours, -1 for none
	sim       []float64
	fallback  []float64
}

func (s *knnScorer) Score(u int32, dst []float64) {
	items := s.userItems.row(int(u))
	if len(items) == 0 {
		copy(dst, s.fallback)
		return
	}
	for _, j := range items {
		for r := range s.k {
			if nb := s.nbr[int(j)*s.k+r]; nb >= 0 {
				dst[nb] += s.sim[int(j)*s.k+r]
			}
		}
	}
}
