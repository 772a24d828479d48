package eval

import (
	"context"
	"math"
	"sort"
)

// Options are the protocol's settings; the zero value of a field means its
// default.
type Options struct {
	// K is the length of the ranked list scored (default 10).
	K int
	// RelevantMin is the rating from which a held-out interaction is
	// relevant (default 4). For implicit data (every rating 0) every
	// held-out interaction is relevant.
	RelevantMin float32
	// Seed fixes the splits.
	Seed uint64
	// TestFraction is the share of each user's interactions held out
	// (default 0.2).
	TestFraction float64
	// Split is "random" (the default) or "time" (each user's latest
	// interactions held out; needs a time on every interaction).
	Split string
	// ColdStartFraction is the share of users held out entirely for the
	// cold-start table (default 0.1; negative: no cold-start table).
	ColdStartFraction float64
	// Progress, when set, receives one line per step of Run.
	Progress func(msg string)
}

// Defaults of Options.
const (
	DefaultK                 = 10
	DefaultRelevantMin       = 4
	DefaultTestFraction      = 0.2
	DefaultColdStartFraction = 0.1
	SplitRandom              = "random"
	SplitTime                = "time"
)

func (o Options) withDefaults() Options {
	if o.K == 0 {
		o.K = DefaultK
	}
	if o.RelevantMin == 0 {
		o.RelevantMin = DefaultRelevantMin
	}
	if o.TestFraction == 0 {
		o.TestFraction = DefaultTestFraction
	}
	if o.Split == "" {
		o.Split = SplitRandom
	}
	if o.ColdStartFraction == 0 {
		o.ColdStartFraction = DefaultColdStartFraction
	}
	return o
}

// Result is one method's scores under the protocol.
type Result struct {
	Method       string   `json:"method"`
	PrecisionAtK float64  `json:"precision_at_k"`
	RecallAtK    float64  `json:"recall_at_k"`
	NDCGAtK      float64  `json:"ndcg_at_k"`
	MAPAtK       float64  `json:"map_at_k"`
	HitRateAtK   float64  `json:"hit_rate_at_k"`
	Coverage     float64  `json:"coverage"`
	RMSE         *float64 `json:"rmse,omitempty"`
	// Users is the number of test users ranked (those with at least one
	// relevant held-out item).
	Users      int     `json:"users"`
	FitSeconds float64 `json:"fit_seconds"`
	// Input says what the method was fitted on when not every training
	// interaction (e.g. "ratings ≥ 4", see baseline.ChoosePositives):
	// the scorer's Input method, when it has one.
	Input string `json:"input,omitempty"`
}

// Evaluate scores s on the test users of a split. For every user with at
// least one relevant test item (rating ≥ RelevantMin; any test item when the
// data is implicit) every item the user has no training interaction with is
// ranked by s (ties by item index), and the top K is compared with the
// relevant items; the metrics are means over those users, and users with no
// relevant item are skipped. Coverage is the share of all items that appear
// in at least one top-K list. RMSE is over every test interaction when s is
// a RatingPredictor and the data has ratings. Method and FitSeconds are left
// for the caller. When ctx ends, Evaluate returns what it has scored so far
// (the caller checks ctx.Err()).
func Evaluate(ctx context.Context, train, test *Data, s Scorer, opt Options) Result {
	opt = opt.withDefaults()
	k := opt.K
	implicit := train.Implicit() && test.Implicit()
	nItems := max(train.NumItems, test.NumItems)
	nUsers := max(train.NumUsers, test.NumUsers)

	seen := make([][]int32, nUsers)
	for _, x := range train.Interactions {
		seen[x.User] = append(seen[x.User], x.Item)
	}
	relevant := make([][]int32, nUsers)
	for _, x := range test.Interactions {
		if implicit || x.Rating >= opt.RelevantMin {
			relevant[x.User] = append(relevant[x.User], x.Item)
		}
	}

	var res Result
	scores := make([]float64, nItems)
	excluded := make([]bool, nItems)
	isRel := make([]bool, nItems)
	covered := make([]bool, nItems)
	top := make([]int32, 0, k)
	hits := make([]bool, 0, k)
	var sumP, sumR, sumN, sumA, sumH float64
	for u := range nUsers {
		if len(relevant[u]) == 0 {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		for i := range scores {
			scores[i] = 0
		}
		s.Score(int32(u), scores)
		for _, it := range seen[u] {
			excluded[it] = true
		}
		nRel := 0
		for _, it := range relevant[u] {
			if !isRel[it] && !excluded[it] {
				isRel[it] = true
				nRel++
			}
		}
		if nRel > 0 {
			top = topK(scores, excluded, k, top[:0])
			hits = hits[:0]
			for _, it := range top {
				hits = append(hits, isRel[it])
				covered[it] = true
			}
			sumP += PrecisionAtK(hits, k)
			sumR += RecallAtK(hits, nRel, k)
			sumN += NDCGAtK(hits, nRel, k)
			sumA += APAtK(hits, nRel, k)
			sumH += HitRateAtK(hits, k)
			res.Users++
		}
		for _, it := range seen[u] {
			excluded[it] = false
		}
		for _, it := range relevant[u] {
			isRel[it] = false
		}
	}
	if res.Users > 0 {
		n := float64(res.Users)
		res.PrecisionAtK, res.RecallAtK, res.NDCGAtK, res.MAPAtK, res.HitRateAtK = sumP/n, sumR/n, sumN/n, sumA/n, sumH/n
	}
	if nItems > 0 {
		c := 0
		for _, b := range covered {
			if b {
				c++
			}
		}
		res.Coverage = float64(c) / float64(nItems)
	}
	if rp, ok := s.(RatingPredictor); ok && !implicit && len(test.Interactions) > 0 {
		var se float64
		for _, x := range test.Interactions {
			d := rp.PredictRating(x.User, x.Item) - float64(x.Rating)
			se += d * d
		}
		rmse := math.Sqrt(se / float64(len(test.Interactions)))
		res.RMSE = &rmse
	}
	return res
}

// topK appends to dst the indices of the k highest scores among the items
// not excluded, best first, ties broken by the lower index; NaN scores rank
// last.
func topK(scores []float64, excluded []bool, k int, dst []int32) []int32 {
	better := func(a, b int32) bool {
		sa, sb := scores[a], scores[b]
		if math.IsNaN(sa) {
			sa = math.Inf(-1)
		}
		if math.IsNaN(sb) {
			sb = math.Inf(-1)
		}
		if sa != sb {
			return sa > sb
		}
		return a < b
	}
	for i := range scores {
		it := int32(i)
		if excluded[i] {
			continue
		}
		if len(dst) == k && !better(it, dst[k-1]) {
			continue
		}
		pos := sort.Search(len(dst), func(j int) bool { return better(it, dst[j]) })
		if len(dst) < k {
			dst = append(dst, 0)
		}
		copy(dst[pos+1:], dst[pos:len(dst)-1])
		dst[pos] = it
	}
	return dst
}
