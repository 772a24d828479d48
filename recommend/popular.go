package recommend

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// Popular is one product's standing among the shop's ratings.
type Popular struct {
	// ProductCode identifies the product.
	ProductCode string `json:"product_code"`
	// Ratings is its number of ratings; Positive, how many of them are 4
	// or 5.
	Ratings  int `json:"ratings"`
	Positive int `json:"positive"`
	// MeanRating is the mean of its ratings, 1 to 5.
	MeanRating float64 `json:"mean_rating"`
	// Score is its popularity relative to the most popular product, in
	// [0, 1]: Positive divided by the largest Positive (or, when no product
	// has a positive rating, Ratings by the largest Ratings). It is the
	// Score of fallback answers.
	Score float64 `json:"score"`
}

// PositiveRating is the lowest rating that counts as liking a product
// (the threshold of the model's ranking metrics too).
const PositiveRating = 4

// CountPopular ranks products by their ratings, yielded as (productCode,
// rating) pairs: by number of positive ratings (PositiveRating or more),
// then number of ratings, then mean rating, all descending, then by product
// code, so the order is total and repeatable. Ratings outside 1..5 count
// like any other.
func CountPopular(ratings iter.Seq2[string, int]) []Popular {
	type acc struct {
		n, pos int
		sum    float64
	}
	byCode := map[string]*acc{}
	for code, r := range ratings {
		a := byCode[code]
		if a == nil {
			a = &acc{}
			byCode[code] = a
		}
		a.n++
		a.sum += float64(r)
		if r >= PositiveRating {
			a.pos++
		}
	}
	out := make([]Popular, 0, len(byCode))
	maxPos, maxN := 0, 0
	for code, a := range byCode {
		out = append(out, Popular{ProductCode: code, Ratings: a.n, Positive: a.pos, MeanRating: a.sum / float64(a.n)})
		maxPos, maxN = max(maxPos, a.pos), max(maxN, a.n)
	}
	slices.SortFunc(out, func(a, b Popular) int {
		return cmp.Or(
			cmp.Compare(b.Positive, a.Positive),
			cmp.Compare(b.Ratings, a.Ratings),
			cmp.Compare(b.MeanRating, a.MeanRating),
			cmp.Compare(a.ProductCode, b.ProductCode),
		)
	})
	for i := range out {
		if maxPos > 0 {
			out[i].Score = float64(out[i].Positive) / float64(maxPos)
		} else if maxN > 0 {
			out[i].Score = float64(out[i].Ratings) / float64(maxN)
		}
	}
	return out
}

// LoadPopular reads the lake's committed training dataset (training.Read)
// and ranks its products with CountPopular. It blocks until the dataset is
// read or ctx is done, holding one counter per product in memory. A lake
// without a committed dataset gives an error wrapping
// training.ErrNoDataset. Repeating it is safe.
func LoadPopular(ctx context.Context, b lake.BucketReader) ([]Popular, error) {
	var readErr error
	var pop []Popular
	pop = CountPopular(func(yield func(string, int) bool) {
		stopped := false
		_, readErr = training.Read(ctx, b, func(rec *training.Record) error {
			if stopped {
				return errStop
			}
			if !yield(rec.ProductCode, int(rec.ProductRating)) {
				stopped = true
				return errStop
			}
			return ctx.Err()
		})
	})
	if readErr != nil {
		return nil, fmt.Errorf("popular products from %s: %w", b, readErr)
	}
	return pop, nil
}

var errStop = fmt.Errorf("stop")
