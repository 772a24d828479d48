package eval

import "context"

// Popularity is the baseline that ranks every item by its number of
// training interactions, the same list for every user (cold or not).
type Popularity struct{}

// Name returns "popularity".
func (Popularity) Name() string { return "popularity" }

// Fit counts the training interactions per item.
func (Popularity) Fit(ctx context.Context, train *Data) (Scorer, error) {
	c := make(popularityScorer, train.NumItems)
	for _, x := range train.Interactions {
		c[x.Item]++
	}
	return c, ctx.Err()
}

type popularityScorer []float64

func (p popularityScorer) Score(_ int32, dst []float64) { copy(dst, p) }
