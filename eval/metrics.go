package eval

import "math"

// The ranking metrics of one user's top-k list. hits[i] says whether the
// item at rank i+1 is relevant; nRel is the number of the user's relevant
// items (> 0); k is the cut-off (the list may be shorter when fewer items
// are candidates).

// PrecisionAtK is the share of the k slots that hold a relevant item
// (an empty slot counts as a miss).
func PrecisionAtK(hits []bool, k int) float64 {
	return float64(countHits(hits, k)) / float64(k)
}

// RecallAtK is the share of the user's nRel relevant items found in the top k.
func RecallAtK(hits []bool, nRel, k int) float64 {
	return float64(countHits(hits, k)) / float64(nRel)
}

// NDCGAtK is the normalised discounted cumulative gain with binary relevance:
// DCG = Σ 1/log₂(rank+1) over relevant ranks ≤ k, divided by the DCG of an
// ideal list, which has min(nRel, k) relevant items at the top.
func NDCGAtK(hits []bool, nRel, k int) float64 {
	var dcg, idcg float64
	for i := 0; i < min(len(hits), k); i++ {
		if hits[i] {
			dcg += 1 / math.Log2(float64(i+2))
		}
	}
	for i := 0; i < min(nRel, k); i++ {
		idcg += 1 / math.Log2(float64(i+2))
	}
	return dcg / idcg
}

// APAtK is the average precision at k: the mean, over the relevant ranks
// r ≤ k, of the precision at r, divided by min(nRel, k) (so a list that
// puts min(nRel, k) relevant items first scores 1). MAP@k is its mean over
// users.
func APAtK(hits []bool, nRel, k int) float64 {
	var sum float64
	n := 0
	for i := 0; i < min(len(hits), k); i++ {
		if hits[i] {
			n++
			sum += float64(n) / float64(i+1)
		}
	}
	return sum / float64(min(nRel, k))
}

// HitRateAtK is 1 when at least one relevant item is in the top k, else 0.
func HitRateAtK(hits []bool, k int) float64 {
	if countHits(hits, k) > 0 {
		return 1
	}
	return 0
}

func countHits(hits []bool, k int) int {
	n := 0
	for i := 0; i < min(len(hits), k); i++ {
		if hits[i] {
			n++
		}
	}
	return n
}
