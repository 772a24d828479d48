package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// fixed scores every user with the same vector.
type fixed []float64

func (f fixed) Score(_ int32, dst []float64) { copy(dst, f) }

// constRating predicts the same rating for everything.
type constRating struct {
	fixed
	r float64
}

func (c constRating) PredictRating(_, _ int32) float64 { return c.r }

// tiny: user 0 trained on item 0 and holds out items 1 (5★), 2 (4★) and
// 3 (2★); user 1 holds out only a 2★ rating, so has nothing relevant.
func tiny() (train, test *Data) {
	train = &Data{NumUsers: 2, NumItems: 6, Interactions: []Interaction{
		{User: 0, Item: 0, Rating: 5}, {User: 1, Item: 4, Rating: 3},
	}}
	test = &Data{NumUsers: 2, NumItems: 6, Interactions: []Interaction{
		{User: 0, Item: 1, Rating: 5}, {User: 0, Item: 2, Rating: 4}, {User: 0, Item: 3, Rating: 2},
		{User: 1, Item: 5, Rating: 2},
	}}
	return train, test
}

func TestEvaluatePerfectScorerGetsOne(t *testing.T) {
	train, test := tiny()
	// The training item scores highest but must not be ranked.
	r := Evaluate(context.Background(), train, test, fixed{99, 5, 4, 3, 2, 1}, Options{K: 2})
	if r.Users != 1 {
		t.Fatalf("users = %d, want 1 (user 1 has no relevant item)", r.Users)
	}
	for name, v := range map[string]float64{"P": r.PrecisionAtK, "R": r.RecallAtK, "NDCG": r.NDCGAtK, "MAP": r.MAPAtK, "HR": r.HitRateAtK} {
		near(t, name+"@2", v, 1)
	}
	near(t, "coverage", r.Coverage, 2.0/6)
	if r.RMSE != nil {
		t.Errorf("rmse = %v for a scorer that predicts no ratings", *r.RMSE)
	}
}

func TestEvaluateReversedScorer(t *testing.T) {
	train, test := tiny()
	s := fixed{99, 1, 2, 3, 4, 5}
	// Top 3 is items 5, 4, 3: no relevant item.
	r := Evaluate(context.Background(), train, test, s, Options{K: 3})
	for name, v := range map[string]float64{"P": r.PrecisionAtK, "R": r.RecallAtK, "NDCG": r.NDCGAtK, "MAP": r.MAPAtK, "HR": r.HitRateAtK} {
		near(t, name+"@3", v, 0)
	}
	// Top 5 is 5, 4, 3, 2, 1: the relevant items at ranks 4 and 5.
	r = Evaluate(context.Background(), train, test, s, Options{K: 5})
	near(t, "P@5", r.PrecisionAtK, 0.4)
	near(t, "R@5", r.RecallAtK, 1)
	near(t, "NDCG@5", r.NDCGAtK, 0.5012658353418871) // (1/log2 5 + 1/log2 6) / (1 + 1/log2 3)
	near(t, "MAP@5", r.MAPAtK, (1.0/4+2.0/5)/2)
	near(t, "HR@5", r.HitRateAtK, 1)
	near(t, "coverage", r.Coverage, 5.0/6)
}

func TestEvaluateImplicitMakesEveryHeldOutItemRelevant(t *testing.T) {
	train, test := tiny()
	for _, d := range []*Data{train, test} {
		for i := range d.Interactions {
			d.Interactions[i].Rating = 0
		}
	}
	r := Evaluate(context.Background(), train, test, fixed{99, 5, 4, 3, 2, 1}, Options{K: 3})
	if r.Users != 2 {
		t.Fatalf("users = %d, want 2", r.Users)
	}
	// User 0: items 1, 2, 3 all relevant, top 3 = 1, 2, 3: all 1.
	// User 1: item 5 relevant, top 3 = 1, 2, 3 (item 4 is trained): all 0.
	near(t, "P@3", r.PrecisionAtK, 0.5)
	near(t, "NDCG@3", r.NDCGAtK, 0.5)
}

func TestEvaluateRMSE(t *testing.T) {
	train, test := tiny()
	r := Evaluate(context.Background(), train, test, constRating{fixed{0, 0, 0, 0, 0, 0}, 3}, Options{})
	if r.RMSE == nil {
		t.Fatal("no rmse for a rating predictor")
	}
	// Errors 2, 1, -1, -1 over the four test ratings.
	near(t, "rmse", *r.RMSE, math.Sqrt(7.0/4))
}

func TestEvaluateTiesByItemIndex(t *testing.T) {
	train, test := tiny()
	r := Evaluate(context.Background(), train, test, fixed{0, 0, 0, 0, 0, 0}, Options{K: 1})
	near(t, "P@1 of an all-tie list (item 1 first)", r.PrecisionAtK, 1)
}

func TestPopularityRanksByTrainingCount(t *testing.T) {
	train := &Data{NumUsers: 3, NumItems: 3, Interactions: []Interaction{
		{User: 0, Item: 2}, {User: 1, Item: 2}, {User: 2, Item: 1},
	}}
	s, err := Popularity{}.Fit(context.Background(), train)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 3)
	s.Score(0, got)
	if got[2] != 2 || got[1] != 1 || got[0] != 0 {
		t.Errorf("popularity scores = %v, want [0 1 2]", got)
	}
}

// twoGroups: users 0..9 like items 0..4, users 10..19 like items 5..9;
// items 0..4 are more popular overall.
func twoGroups() *Data {
	d := &Data{NumUsers: 20, NumItems: 10}
	for u := range 20 {
		for j := range 5 {
			it := j
			if u >= 10 {
				it = 5 + j
			}
			d.Interactions = append(d.Interactions, Interaction{User: int32(u), Item: int32(it), Rating: 5})
		}
	}
	for u := range 10 { // extra popularity for group A's items among group B
		d.Interactions = append(d.Interactions, Interaction{User: int32(10 + u), Item: int32(u % 5), Rating: 1})
	}
	return d
}

func TestRunReportShape(t *testing.T) {
	var lines []string
	rep, err := Run(context.Background(), twoGroups(), []Method{Popularity{}}, Options{K: 3, Seed: 7, Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.K != 3 || rep.Users != 20 || rep.Items != 10 || len(rep.Methods) != 1 || len(rep.ColdStart) != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if rep.Methods[0].Method != "popularity" || rep.Methods[0].Users == 0 || rep.ColdStart[0].Users == 0 {
		t.Errorf("results = %+v / %+v", rep.Methods[0], rep.ColdStart[0])
	}
	if !strings.Contains(rep.Split, "random 80/20") || !strings.Contains(rep.Split, "seed 7") {
		t.Errorf("split = %q", rep.Split)
	}
	for _, want := range []string{"every item the user has no training interaction with is ranked", "at least 4", "users with no relevant item are skipped", "Cold start"} {
		if !strings.Contains(rep.Protocol, want) {
			t.Errorf("protocol lacks %q: %s", want, rep.Protocol)
		}
	}
	b, _ := json.Marshal(rep)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	res := m["methods"].([]any)[0].(map[string]any)
	for _, key := range []string{"method", "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "hit_rate_at_k", "coverage", "users", "fit_seconds"} {
		if _, ok := res[key]; !ok {
			t.Errorf("result JSON lacks %q: %s", key, b)
		}
	}
	if _, ok := res["rmse"]; ok {
		t.Errorf("popularity's JSON has an rmse: %s", b)
	}
	if len(lines) < 3 {
		t.Errorf("progress lines = %q", lines)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	d := twoGroups()
	if _, err := Run(context.Background(), d, nil, Options{Split: "yesterday"}); err == nil || !strings.Contains(err.Error(), `"yesterday"`) {
		t.Errorf("bad split: err = %v", err)
	}
	if _, err := Run(context.Background(), d, nil, Options{Split: SplitTime}); err == nil || !strings.Contains(err.Error(), "time") {
		t.Errorf("time split without times: err = %v", err)
	}
	if _, err := Run(context.Background(), d, nil, Options{TestFraction: 1.5}); err == nil || !strings.Contains(err.Error(), "1.5") {
		t.Errorf("bad fraction: err = %v", err)
	}
	bad := &Data{NumUsers: 1, NumItems: 1, Interactions: []Interaction{{User: 0, Item: 3}}}
	if _, err := Run(context.Background(), bad, nil, Options{}); err == nil || !strings.Contains(err.Error(), "interaction 0: item") {
		t.Errorf("bad item: err = %v", err)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, twoGroups(), []Method{Popularity{}}, Options{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "popularity") {
		t.Errorf("err = %v, want context.Canceled naming the method", err)
	}
}

// picky declines training data in which some user has no interaction (as
// the cold-start split's); with cancel set it cancels the run first, as if
// ctx ended during its fit.
type picky struct{ cancel context.CancelFunc }

func (picky) Name() string { return "picky" }

func (m picky) Fit(ctx context.Context, train *Data) (Scorer, error) {
	if m.cancel != nil {
		m.cancel()
	}
	has := make([]bool, train.NumUsers)
	for _, x := range train.Interactions {
		has[x.User] = true
	}
	for u, ok := range has {
		if !ok {
			return nil, fmt.Errorf("user %d has no interaction: %w", u, ErrSkipped)
		}
	}
	return Popularity{}.Fit(ctx, train)
}

func TestRunNotesAMethodSkippedOnTheColdStartSplitOnly(t *testing.T) {
	d := twoGroups()
	m := picky{}
	rep, err := Run(context.Background(), d, []Method{Popularity{}, m}, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Methods) != 2 || len(rep.ColdStart) != 1 || rep.ColdStart[0].Method != "popularity" {
		t.Errorf("methods %d, cold start %+v; want both, then popularity alone", len(rep.Methods), rep.ColdStart)
	}
	if len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], "picky: skipped on the cold-start split: ") || strings.Contains(rep.Notes[0], ErrSkipped.Error()) {
		t.Errorf("notes %q, want one line for picky's cold-start skip, without the sentinel's text", rep.Notes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.NumUsers++ // a user without interactions: picky skips every split
	_, err = Run(ctx, d, []Method{picky{cancel: cancel}}, Options{Seed: 1})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrSkipped) {
		t.Errorf("a skip after ctx ended: error %v, want the context's end", err)
	}
}
