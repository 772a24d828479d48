package baseline

import (
	"context"
	"fmt"

	"github.com/recoflow/recoflow/eval"
)

// ChoosePositives gives a method that learns from every interaction
// (item-kNN, ALS, EASE) the choice the model makes for itself: whether
// ratings below 4 are signs of taste. Where ratings are stars left on
// purchases any rated product predicts the next one; where the value
// carries taste a 1-star rating is a poor positive, and the same method
// fitted on the ratings of 4 and 5 alone ranks far better (EASE on
// generated data: NDCG@10 0.664 against 0.525 at 20 % held out). Leaving a
// baseline on its worse input would flatter whatever it is compared with.
//
// Fit splits the training data again (ChoiceFraction of each user's
// interactions, seeded), fits Method on the rest with every interaction
// and with the ratings of 4 and 5 alone, ranks the held-out part with
// both (eval.Evaluate), and fits Method on all of train with the ratings
// of 4 and 5 alone when they ranked better by ChoiceMargin, else with
// every interaction. Implicit data, data with no rating below 4 or none
// of 4 and 5, and data too small to split are fitted as they are. The
// scorer's Input says which input was chosen (eval.Result.Input).
type ChoosePositives struct {
	Method eval.Method
	Seed   uint64
}

// The inner split and the margin of ChoosePositives (the margin is the
// model's too, for the weight of its low ratings: package model,
// lowweight.go).
const (
	ChoiceFraction = 0.1
	ChoiceMargin   = 0.05
)

// Name returns Method's name.
func (c ChoosePositives) Name() string { return c.Method.Name() }

// Fit fits Method on the input the data chooses (see ChoosePositives).
func (c ChoosePositives) Fit(ctx context.Context, train *eval.Data) (eval.Scorer, error) {
	high := highRatings(train)
	if train.Implicit() || len(high.Interactions) == 0 || len(high.Interactions) == len(train.Interactions) {
		return c.Method.Fit(ctx, train)
	}
	inner, val, err := eval.RandomSplit(train, ChoiceFraction, c.Seed+choiceSeedOffset)
	if err != nil || len(val.Interactions) == 0 {
		return c.Method.Fit(ctx, train) // too small to split: as it is
	}
	cmp, err := CompareInputs(ctx, c.Method, inner, val)
	if err != nil {
		return nil, err
	}
	if !cmp.HighBetter {
		return c.Method.Fit(ctx, train)
	}
	s, err := c.Method.Fit(ctx, high)
	if err != nil {
		return nil, err
	}
	return chosenScorer{s, fmt.Sprintf("fitted on the ratings of 4 and 5 alone (inner validation NDCG@10 %.3f against %.3f with every rating)", cmp.High, cmp.All)}, nil
}

// InputComparison is CompareInputs' outcome.
type InputComparison struct {
	All, High  float64 // NDCG@10 fitted on every interaction, on the ratings of 4 and 5 alone
	Users      int     // validation users ranked
	HighBetter bool    // High > All by ChoiceMargin
}

// CompareInputs fits m on train twice, with every interaction and with
// the ratings of 4 and 5 alone, and ranks val with both (the same
// candidates: every item a user rated in train is left out).
// ChoosePositives decides with it, and so does the model for the weight of
// its low ratings.
func CompareInputs(ctx context.Context, m eval.Method, train, val *eval.Data) (InputComparison, error) {
	var c InputComparison
	ndcg := func(d *eval.Data) (float64, error) {
		s, err := m.Fit(ctx, d)
		if err != nil {
			return 0, err
		}
		r := eval.Evaluate(ctx, train, val, s, eval.Options{})
		c.Users = r.Users
		return r.NDCGAtK, ctx.Err()
	}
	var err error
	if c.All, err = ndcg(train); err != nil {
		return c, err
	}
	if c.High, err = ndcg(highRatings(train)); err != nil {
		return c, err
	}
	c.HighBetter = c.High > c.All*(1+ChoiceMargin)
	return c, nil
}

// choiceSeedOffset keeps the inner split from repeating the split of
// eval.Run, which uses the same seed.
const choiceSeedOffset = 0x5eed

// highRatings returns the interactions of d rated 4 or more.
func highRatings(d *eval.Data) *eval.Data {
	out := &eval.Data{NumUsers: d.NumUsers, NumItems: d.NumItems}
	for _, x := range d.Interactions {
		if x.Rating >= eval.DefaultRelevantMin {
			out.Interactions = append(out.Interactions, x)
		}
	}
	return out
}

// chosenScorer is a scorer fitted on the ratings of 4 and 5 alone.
type chosenScorer struct {
	eval.Scorer
	note string
}

// Input says what the scorer was fitted on (eval.Result.Input).
func (chosenScorer) Input() string { return HighRatingsInput }

// InputNote says why (eval.Report.Notes).
func (s chosenScorer) InputNote() string { return s.note }

// HighRatingsInput is eval.Result.Input for a method ChoosePositives
// fitted on the ratings of 4 and 5 alone.
const HighRatingsInput = "ratings ≥ 4"
