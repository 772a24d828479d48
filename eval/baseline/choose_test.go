package baseline

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/eval"
)

// tasteData has 300 users with a taste for one of two halves of 60 items.
// With valueTaste, every user rates 20 items drawn uniformly, 4–5 stars in
// the half it likes and 1–2 in the other: which items a user rated says
// nothing, the stars say everything. Without, a user rates mostly (80 %)
// items of the half it likes, with stars drawn uniformly: which items say
// everything, the stars nothing.
func tasteData(valueTaste bool) *eval.Data {
	r := rand.New(rand.NewPCG(1, 2))
	d := &eval.Data{NumUsers: 300, NumItems: 60}
	for u := range int32(300) {
		half := int32(u % 2)
		seen := map[int32]bool{}
		for len(seen) < 20 {
			i := r.Int32N(60)
			if !valueTaste && i/30 != half && r.Float64() < 0.8 {
				i = half*30 + r.Int32N(30)
			}
			if seen[i] {
				continue
			}
			seen[i] = true
			stars := float32(1 + r.IntN(5))
			if valueTaste {
				stars = float32(1 + r.IntN(2))
				if i/30 == half {
					stars = float32(4 + r.IntN(2))
				}
			}
			d.Interactions = append(d.Interactions, eval.Interaction{User: u, Item: i, Rating: stars})
		}
	}
	return d
}

// TestChoosePositives: where the stars carry the taste, the baseline is
// fitted on the ratings of 4 and 5 alone (and says so); where only the
// choice of items does, on every rating; implicit data as it is.
func TestChoosePositives(t *testing.T) {
	input := func(s eval.Scorer) string {
		if in, ok := s.(interface{ Input() string }); ok {
			return in.Input()
		}
		return ""
	}
	for _, m := range []eval.Method{ItemKNN{}, EASE{}} {
		c := ChoosePositives{Method: m, Seed: 1}
		if c.Name() != m.Name() {
			t.Errorf("name %q, want %q", c.Name(), m.Name())
		}
		for _, tc := range []struct {
			valueTaste bool
			want       string
		}{{true, HighRatingsInput}, {false, ""}} {
			train, test, err := eval.RandomSplit(tasteData(tc.valueTaste), 0.2, 1)
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.Fit(context.Background(), train)
			if err != nil {
				t.Fatal(err)
			}
			if got := input(s); got != tc.want {
				t.Errorf("%s, stars carry taste %v: input %q, want %q", m.Name(), tc.valueTaste, got, tc.want)
			}
			// The choice is the better input on the test split too.
			other := train
			if tc.want == "" {
				other = highRatings(train)
			}
			plain, _ := m.Fit(context.Background(), other)
			chosen := eval.Evaluate(context.Background(), train, test, s, eval.Options{}).NDCGAtK
			rejected := eval.Evaluate(context.Background(), train, test, plain, eval.Options{}).NDCGAtK
			if chosen <= rejected {
				t.Errorf("%s, stars carry taste %v: test NDCG@10 %.3f with the chosen input, %.3f with the other", m.Name(), tc.valueTaste, chosen, rejected)
			}
		}
		implicit := tasteData(false)
		for i := range implicit.Interactions {
			implicit.Interactions[i].Rating = 0
		}
		s, err := c.Fit(context.Background(), implicit)
		if err != nil || input(s) != "" {
			t.Errorf("%s on implicit data: input %q, %v; want every interaction", m.Name(), input(s), err)
		}
	}
}

// TestRunNotesTheChosenInput: eval.Run puts the chosen input in the
// method's result and a note with both validation figures.
func TestRunNotesTheChosenInput(t *testing.T) {
	rep, err := eval.Run(context.Background(), tasteData(true), []eval.Method{ChoosePositives{Method: EASE{}, Seed: 1}}, eval.Options{Seed: 1, ColdStartFraction: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Methods[0].Input != HighRatingsInput || len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], "ease: fitted on the ratings of 4 and 5 alone") {
		t.Errorf("result %+v, notes %q", rep.Methods[0], rep.Notes)
	}
}
