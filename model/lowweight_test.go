package model

import (
	"context"
	"testing"
)

// TestLowRatingWeightFollowsTheData: on generated ratings whose value
// carries the customer's taste, the ratings of 4 and 5 alone predict the
// validation's relevant ratings better, and low ratings weigh 0.25; on the
// same interactions with the values shuffled among them (stars that say
// nothing of taste, while which products a customer rated still does),
// every rating predicts better and low ratings keep 0.5. With a weight
// given, or min_rating 4, nothing is chosen.
func TestLowRatingWeightFollowsTheData(t *testing.T) {
	rs := generate(genConfig{users: 600, items: 120, perUser: 20, cities: 30, countries: 6, latent: 1, seed: 3})
	shuffled := make([]Rating, len(rs))
	copy(shuffled, rs)
	perm := make([]int32, len(rs))
	for i := range perm {
		perm[i] = int32(i)
	}
	newRNG(7, 0).shuffle(perm)
	for i, j := range perm {
		shuffled[i].Value = rs[j].Value
	}
	for _, tc := range []struct {
		name string
		rs   []Rating
		want float64
	}{{"taste in the values", rs, lowRatingWeightLow}, {"values shuffled", shuffled, lowRatingWeightDefault}} {
		d := datasetOf(t, tc.rs)
		d.sort()
		cfg := Config{Seed: 1}.withDefaults()
		c, err := chooseLowRatingWeight(context.Background(), d, splitRatings(d.Len(), cfg), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", tc.name, c)
		if c.Weight != tc.want || c.Users == 0 || c.NDCGAll <= 0 || c.NDCGHigh <= 0 {
			t.Errorf("%s: chose %+v, want weight %v from two measured NDCGs", tc.name, c, tc.want)
		}
	}

	// Train records the choice and trains with it; a given weight is kept.
	d := datasetOf(t, rs)
	res, err := Train(context.Background(), d, Config{Seed: 1, Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Metrics.LowRating; c == nil || c.Weight != lowRatingWeightLow || res.Metrics.Config.LowRatingWeight != lowRatingWeightLow {
		t.Errorf("Train with the default: choice %+v, config's weight %v; want %v recorded and used", c, res.Metrics.Config.LowRatingWeight, lowRatingWeightLow)
	}
	for _, cfg := range []Config{{Seed: 1, Epochs: 2, LowRatingWeight: 0.75}, {Seed: 1, Epochs: 2, MinRating: 4}} {
		res, err := Train(context.Background(), d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c := res.Metrics.LowRating; cfg.LowRatingWeight != 0 && (c != nil || res.Metrics.Config.LowRatingWeight != 0.75) {
			t.Errorf("weight 0.75 given: choice %+v, config's weight %v", c, res.Metrics.Config.LowRatingWeight)
		} else if cfg.MinRating == 4 && (c == nil || c.Weight != lowRatingWeightDefault || c.Reason == "" || c.Users != 0) {
			t.Errorf("min_rating 4: choice %+v, want no measurement and a reason", c)
		}
	}
}
