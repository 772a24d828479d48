package model

import (
	"context"
	"fmt"

	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/eval/baseline"
)

// Whether ratings below 4 say what a customer likes depends on the shop.
// Where ratings are stars left on purchases (the classicmodels sample),
// any rated product predicts the products rated 4 or 5 later, and
// trusting low ratings half (0.5) ranks best; where the value carries
// taste (generated data with latent tastes), a 1-star rating is a poor
// positive and 0.25 ranks best (recoflow evaluate, 20 % held out, seeds
// 1–3: NDCG@10 0.585 → 0.627 on generated data, and 0.590 at 0.5 against
// 0.556 at 0.25 on the sample). So unless Config.LowRatingWeight says
// otherwise, Train asks the data: item-kNN (cheap, no training) fitted
// on the training split's ratings, once with every rating and once with
// the ratings of 4 and 5 alone, ranks the validation split's relevant
// ratings (baseline.CompareInputs); when the second is better by
// baseline.ChoiceMargin, low ratings weigh lowRatingWeightLow, else
// lowRatingWeightDefault.
const (
	lowRatingWeightDefault = 0.5
	lowRatingWeightLow     = 0.25
)

// LowRatingChoice records how Train chose the weight of ratings below 4
// (Config.LowRatingWeight 0): the item-kNN validation NDCG@10 with every
// rating and with those of 4 and 5 alone, and the weight that followed.
type LowRatingChoice struct {
	Weight float64 `json:"weight"`
	// NDCGAll and NDCGHigh are item-kNN's validation NDCG@10 fitted on
	// every training rating and on those of 4 and 5 alone; both 0 when
	// there was nothing to compare (Reason says why).
	NDCGAll  float64 `json:"ndcg_all"`
	NDCGHigh float64 `json:"ndcg_high"`
	Users    int     `json:"users"` // validation users measured
	Reason   string  `json:"reason,omitempty"`
}

// chooseLowRatingWeight returns the weight of ratings below 4 for a cfg
// that leaves it to the data (see the constants above), measured on
// split's training and validation ratings.
func chooseLowRatingWeight(ctx context.Context, d *Dataset, split []uint8, cfg Config) (*LowRatingChoice, error) {
	c := &LowRatingChoice{Weight: lowRatingWeightDefault}
	if cfg.MinRating >= 4 {
		c.Reason = "min_rating leaves no rating below 4 as a positive"
		return c, nil
	}
	valUsers := validationUsers(d, split, cfg.Seed, maxValidationUsers)
	train := &eval.Data{NumUsers: len(d.users), NumItems: len(d.items)}
	val := &eval.Data{NumUsers: len(d.users), NumItems: len(d.items)}
	low, high := 0, 0
	for r, s := range split {
		rt := d.ratings[r]
		x := eval.Interaction{User: rt.user, Item: rt.item, Rating: float32(rt.value)}
		switch {
		case s == splitTrain && rt.value >= cfg.MinRating:
			train.Interactions = append(train.Interactions, x)
			if rt.value >= 4 {
				high++
			} else {
				low++
			}
		case s == splitValidation && (valUsers == nil || valUsers[rt.user]):
			val.Interactions = append(val.Interactions, x)
		}
	}
	if low == 0 || high == 0 {
		c.Reason = "the training split has no ratings below 4, or none of 4 and 5"
		return c, nil
	}
	cmp, err := baseline.CompareInputs(ctx, baseline.ItemKNN{}, train, val)
	if err != nil {
		return nil, fmt.Errorf("train: low rating weight: %w", err)
	}
	c.NDCGAll, c.NDCGHigh, c.Users = cmp.All, cmp.High, cmp.Users
	if cmp.HighBetter {
		c.Weight = lowRatingWeightLow
	}
	return c, nil
}
