package eval

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %.12f, want %.12f", what, got, want)
	}
}

func TestMetricsOfAKnownList(t *testing.T) {
	// Relevant items at ranks 2 and 4 of a 4-long list, 2 relevant items.
	hits := []bool{false, true, false, true}
	near(t, "P@4", PrecisionAtK(hits, 4), 0.5)
	near(t, "R@4", RecallAtK(hits, 2, 4), 1)
	// DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3).
	near(t, "NDCG@4", NDCGAtK(hits, 2, 4), 0.6509209298071326)
	// AP = (1/2 + 2/4) / 2.
	near(t, "AP@4", APAtK(hits, 2, 4), 0.5)
	near(t, "HR@4", HitRateAtK(hits, 4), 1)

	// The cut-off ignores ranks beyond k.
	near(t, "P@1", PrecisionAtK(hits, 1), 0)
	near(t, "HR@1", HitRateAtK(hits, 1), 0)
	near(t, "NDCG@2", NDCGAtK(hits, 2, 2), (1/math.Log2(3))/(1+1/math.Log2(3)))

	// More relevant items than k: the ideal list is k hits.
	all := []bool{true, true}
	near(t, "NDCG@2 of a full list", NDCGAtK(all, 5, 2), 1)
	near(t, "AP@2 of a full list", APAtK(all, 5, 2), 1)
	near(t, "R@2 of a full list", RecallAtK(all, 5, 2), 0.4)

	// A list shorter than k: empty slots are misses.
	near(t, "P@4 short", PrecisionAtK([]bool{true}, 4), 0.25)
}
