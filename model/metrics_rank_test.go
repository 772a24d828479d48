package model

import (
	"math"
	"slices"
	"testing"
)

// TestRankMatchesAPlainRanking checks the ranking the validation and the
// hold-out figures come from against a plain one written from
// RankingDefinition: per user, every item not rated in an earlier split,
// sorted by cosine (ties by item index), the first rankK scored against
// the user's ratings of 4 or more in the target split. The catalogue is
// small enough that some users rated all but a few items (fewer than
// rankK left to rank) and others did not, so both of rank's paths are
// checked.
func TestRankMatchesAPlainRanking(t *testing.T) {
	d := datasetOf(t, generate(genConfig{users: 200, items: 16, perUser: 13, cities: 10, countries: 3, latent: 1, seed: 3}))
	d.sort()
	cfg := Config{Seed: 1, ValidationFraction: 0.3, HoldoutFraction: 0.3}.withDefaults()
	split := splitRatings(len(d.ratings), cfg)
	var train []int32
	for r, s := range split {
		if s == splitTrain {
			train = append(train, int32(r))
		}
	}
	tr := newTrainer(d, train, cfg)
	ue, ie := tr.embedAll(true)
	D := tr.cfg.Dim
	un, in := unitRows(ue, D), unitRows(ie, D)
	for _, target := range []uint8{splitValidation, splitHoldout} {
		got := tr.rank(ue, ie, split, target, false)
		var users, few int
		var prec, ndcg float64
		for u := range d.users {
			excluded := map[int32]bool{}
			relevant := map[int32]bool{}
			for r, rt := range d.ratings {
				if int(rt.user) != u {
					continue
				}
				switch {
				case split[r] < target:
					excluded[rt.item] = true
				case split[r] == target && rt.value >= 4:
					relevant[rt.item] = true
				}
			}
			if len(relevant) == 0 {
				continue
			}
			users++
			if len(d.items)-len(excluded) < rankK {
				few++
			}
			var items []int32
			for i := range d.items {
				if !excluded[int32(i)] {
					items = append(items, int32(i))
				}
			}
			score := func(i int32) float64 { return dot(un[u*D:(u+1)*D], in[int(i)*D:(int(i)+1)*D]) }
			slices.SortStableFunc(items, func(a, b int32) int {
				switch sa, sb := score(a), score(b); {
				case sa > sb:
					return -1
				case sa < sb:
					return 1
				}
				return 0
			})
			hits, dcg, ideal := 0, 0.0, 0.0
			for k, i := range items[:min(rankK, len(items))] {
				if relevant[i] {
					hits++
					dcg += 1 / math.Log2(float64(k+2))
				}
			}
			for k := range min(len(relevant), rankK) {
				ideal += 1 / math.Log2(float64(k+2))
			}
			prec += float64(hits) / rankK
			ndcg += dcg / ideal
		}
		if few == 0 || few == users {
			t.Fatalf("split %d: %d of %d users have fewer than %d items to rank: want some, not all", target, few, users, rankK)
		}
		if got.Users != users {
			t.Fatalf("split %d: rank measured %d users, want %d", target, got.Users, users)
		}
		wantP, wantN := prec/float64(users), ndcg/float64(users)
		if math.Abs(got.Model.Precision-wantP) > 1e-12 || math.Abs(got.Model.NDCG-wantN) > 1e-12 {
			t.Errorf("split %d: P@10 %v, NDCG@10 %v; the plain ranking gives %v, %v", target, got.Model.Precision, got.Model.NDCG, wantP, wantN)
		}
	}
}
