package model

import (
	"context"
	"testing"
)

func TestZZHist(t *testing.T) {
	d := datasetOf(t, generate(benchGenerated100k))
	res, err := Train(context.Background(), d, Config{Seed: 1, HoldoutFraction: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Metrics.History
	t.Logf("low %+v cfg %v history %s %v item %v", res.Metrics.LowRating, res.Metrics.Config.LowRatingWeight, h.Source, h.Weight, h.ItemWeight)
}
