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
	nbr, sim, err := CoRatingNeighbours(ctx, train.NumItems, k, itemUsers.row, userItems.row)
	if err != nil {
		return nil, err
	}
	return &knnScorer{k: k, userItems: userItems, nbr: nbr, sim: sim, fallback: popularity(train)}, nil
}

// CoRatingNeighbours returns each of n items' k most similar items by the
// cosine of their co-ratings, every rating a 1: the number of users who
// rated both over the square root of the product of their numbers of
// users. itemUsers(i) lists the users of item i and userItems(u) the items
// of user u, each pair once. The result is k entries per item, in order of
// decreasing similarity (ties by item index): nbr the item (-1 where fewer
// than k items share a user with it) and sim the cosine (0 there). It
// checks ctx every 256 items and returns its error. Time grows with the sum
// over users of their number of items squared; memory with n × k. ItemKNN
// and the model's history blend (package model) share it.
func CoRatingNeighbours(ctx context.Context, n, k int, itemUsers, userItems func(int) []int32) (nbr []int32, sim []float64, err error) {
	count := make([]float64, n)
	for i := range n {
		count[i] = float64(len(itemUsers(i)))
	}
	nbr, sim = make([]int32, n*k), make([]float64, n*k)
	co := make([]float64, n)
	var touched []int32
	type cand struct {
		j int32
		s float64
	}
	var cands []cand
	for i := range n {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		touched = touched[:0]
		for _, u := range itemUsers(i) {
			for _, j := range userItems(int(u)) {
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
			cands = append(cands, cand{j, co[j] / math.Sqrt(count[i]*count[j])})
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
				nbr[i*k+r], sim[i*k+r] = cands[r].j, cands[r].s
			} else {
				nbr[i*k+r], sim[i*k+r] = -1, 0
			}
		}
	}
	return nbr, sim, nil
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
