package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrSkipped is wrapped by a Method's Fit error when the method declines the
// data rather than failing on it (for instance a method whose cost grows too
// fast with the number of items). Run then leaves the method out of the
// tables and says why in Report.Notes instead of stopping.
var ErrSkipped = errors.New("method skipped")

// Report is the outcome of Run: the protocol in words, its parameters, and
// one Result per method for the main split and for the cold-start split.
type Report struct {
	Protocol  string   `json:"protocol"`
	K         int      `json:"k"`
	Split     string   `json:"split"`
	Users     int      `json:"users"`
	Items     int      `json:"items"`
	Methods   []Result `json:"methods"`
	ColdStart []Result `json:"cold_start"`
	// Notes says which methods were skipped and why (see ErrSkipped), one
	// line each; empty when every method ran.
	Notes []string `json:"notes,omitempty"`
}

// Protocol returns the paragraph that describes the protocol Run follows
// with opt (after defaults), as written into Report.Protocol.
func Protocol(opt Options) string {
	opt = opt.withDefaults()
	held := fmt.Sprintf("a seeded random %.0f %% of each user's interactions (at least one kept for training)", 100*opt.TestFraction)
	if opt.Split == SplitTime {
		held = fmt.Sprintf("the latest %.0f %% of each user's interactions by time (at least one kept for training)", 100*opt.TestFraction)
	}
	p := fmt.Sprintf("Every method is fitted on the same training split and scored on the same held-out "+
		"interactions: %s are held out (seed %d). For each test user every item the user has no training "+
		"interaction with is ranked by the method's scores (ties by item index) and the top %d is compared "+
		"with the user's relevant held-out items: those rated at least %g, or every held-out item when the "+
		"data has no ratings; users with no relevant item are skipped. Precision@k counts hits over k slots, "+
		"recall@k over the user's relevant items, NDCG@k uses binary relevance with the ideal DCG over "+
		"min(relevant, k) items, MAP@k divides by min(relevant, k), hit rate@k is the share of users with a "+
		"hit; all are means over test users. Coverage is the share of all items that appear in some top-k "+
		"list. RMSE is over every held-out rating, for methods that predict ratings.",
		held, opt.Seed, opt.K, opt.RelevantMin)
	if opt.ColdStartFraction > 0 {
		p += fmt.Sprintf(" Cold start: a seeded %.0f %% of the users are held out entirely (all their "+
			"interactions are test data), every method is refitted without them and ranks every item for them.",
			100*opt.ColdStartFraction)
	}
	return p
}

func splitName(opt Options) string {
	train := 100 - math.Round(100*opt.TestFraction)
	if opt.Split == SplitTime {
		return fmt.Sprintf("time %.0f/%.0f per user, seed %d", train, 100-train, opt.Seed)
	}
	return fmt.Sprintf("random %.0f/%.0f per user, seed %d", train, 100-train, opt.Seed)
}

// Run does the whole protocol on d for every method: the main split (random
// or by time, per opt.Split) and the cold-start split, each method fitted
// on the training part and scored with Evaluate. Fit errors and ctx's end
// stop the run with an error naming the method, except a Fit error wrapping
// ErrSkipped: that method has no row in the table of the split and a line
// in Report.Notes (a method skipped on the main split is not fitted again
// for the cold-start one).
func Run(ctx context.Context, d *Data, methods []Method, opt Options) (*Report, error) {
	opt = opt.withDefaults()
	if opt.K < 1 {
		return nil, fmt.Errorf("evaluate: k %d: must be at least 1", opt.K)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(string) {}
	}
	var train, test *Data
	var err error
	switch opt.Split {
	case SplitRandom:
		train, test, err = RandomSplit(d, opt.TestFraction, opt.Seed)
	case SplitTime:
		train, test, err = TimeSplit(d, opt.TestFraction, opt.Seed)
	default:
		return nil, fmt.Errorf("evaluate: split %q: must be %q or %q", opt.Split, SplitRandom, SplitTime)
	}
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	rep := &Report{Protocol: Protocol(opt), K: opt.K, Split: splitName(opt), Users: d.NumUsers, Items: d.NumItems,
		Methods: []Result{}, ColdStart: []Result{}}
	progress(fmt.Sprintf("split %s: %d training and %d test interactions", rep.Split, len(train.Interactions), len(test.Interactions)))
	skipped := make(map[int]bool)
	for i, m := range methods {
		r, note, err := fitAndEvaluate(ctx, m, train, test, opt, progress, "")
		if errors.Is(err, ErrSkipped) {
			skipped[i] = true
			rep.Notes = append(rep.Notes, skipNote(m, "", err))
			progress(rep.Notes[len(rep.Notes)-1])
			continue
		}
		if err != nil {
			return nil, err
		}
		if note != "" {
			rep.Notes = append(rep.Notes, m.Name()+": "+note)
		}
		rep.Methods = append(rep.Methods, r)
	}
	if opt.ColdStartFraction > 0 {
		ctrain, ctest, err := ColdStartSplit(d, opt.ColdStartFraction, opt.Seed)
		if err != nil {
			return nil, fmt.Errorf("evaluate: cold start: %w", err)
		}
		progress(fmt.Sprintf("cold start: %d training and %d test interactions", len(ctrain.Interactions), len(ctest.Interactions)))
		for i, m := range methods {
			if skipped[i] {
				continue
			}
			r, note, err := fitAndEvaluate(ctx, m, ctrain, ctest, opt, progress, "cold start ")
			if errors.Is(err, ErrSkipped) {
				rep.Notes = append(rep.Notes, skipNote(m, " on the cold-start split", err))
				progress(rep.Notes[len(rep.Notes)-1])
				continue
			}
			if err != nil {
				return nil, err
			}
			if note != "" {
				rep.Notes = append(rep.Notes, m.Name()+" (cold start): "+note)
			}
			rep.ColdStart = append(rep.ColdStart, r)
		}
	}
	return rep, nil
}

// skipNote is Report.Notes' line for method m skipped (where) with err.
func skipNote(m Method, where string, err error) string {
	return fmt.Sprintf("%s: skipped%s: %s", m.Name(), where, strings.TrimSuffix(err.Error(), ": "+ErrSkipped.Error()))
}

func fitAndEvaluate(ctx context.Context, m Method, train, test *Data, opt Options, progress func(string), what string) (r Result, note string, err error) {
	start := time.Now()
	s, err := m.Fit(ctx, train)
	if errors.Is(err, ErrSkipped) {
		if ctx.Err() != nil { // ended, not skipped
			return Result{}, "", fmt.Errorf("evaluate: %sfit %s: %w", what, m.Name(), ctx.Err())
		}
		return Result{}, "", err
	}
	if err != nil {
		return Result{}, "", fmt.Errorf("evaluate: %sfit %s: %w", what, m.Name(), err)
	}
	fit := time.Since(start).Seconds()
	r = Evaluate(ctx, train, test, s, opt)
	if err := ctx.Err(); err != nil {
		return Result{}, "", fmt.Errorf("evaluate: %s%s: %w", what, m.Name(), err)
	}
	r.Method, r.FitSeconds = m.Name(), fit
	if in, ok := s.(inputter); ok {
		r.Input, note = in.Input(), in.InputNote()
	}
	progress(fmt.Sprintf("%s%s: fitted in %.2fs, NDCG@%d %.4f over %d users", what, m.Name(), fit, opt.K, r.NDCGAtK, r.Users))
	return r, note, nil
}

// inputter is a Scorer that says what it was fitted on when not every
// training interaction (Result.Input), and why (InputNote, in Report.Notes).
type inputter interface {
	Input() string
	InputNote() string
}
