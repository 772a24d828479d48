package model

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// coBought is a shop where item C is bought with A by many shoppers and with
// B by some, D with B by some, and the others in pairs of their own; shopper
// "x" has bought A and B.
func coBought(t *testing.T) *Dataset {
	var rs []Rating
	add := func(user string, items ...string) {
		for _, it := range items {
			rs = append(rs, Rating{UserID: user, User: UserFeatures{City: "Lyon", Country: "France", CreditLimit: 1000},
				ItemID: it, Item: ItemFeatures{ProductLine: "Cars", ProductScale: "1:10", QuantityInStock: 10, BuyPrice: 10, MSRP: 20}, Value: 5})
		}
	}
	for k := range 10 {
		add(fmt.Sprint("ac", k), "A", "C")
		add(fmt.Sprint("ef", k), "E", "F")
		add(fmt.Sprint("gh", k), "G", "H")
	}
	for k := range 5 {
		add(fmt.Sprint("bc", k), "B", "C")
		add(fmt.Sprint("bd", k), "B", "D")
	}
	add("x", "A", "B")
	return datasetOf(t, rs)
}

// unrated returns the items x has not rated, best first by cosine.
func rankFor(d *Dataset, u []float64, items []float64, D int, rated map[string]bool) []string {
	var ids []string
	var scores []float64
	for k, id := range d.itemIDs {
		if rated[id] {
			continue
		}
		c, _, _ := cosine(u, items[k*D:(k+1)*D])
		ids = append(ids, id)
		scores = append(scores, c)
	}
	order := topKeys(nil, scores, len(scores))
	out := make([]string, len(order))
	for r, k := range order {
		out[r] = ids[k]
	}
	return out
}

func TestNeighbourHistoryRanksTheCoBoughtItemFirst(t *testing.T) {
	d := coBought(t)
	d.sort()
	all := make([]int32, len(d.ratings))
	for i := range all {
		all[i] = int32(i)
	}
	tr := newTrainer(d, all, Config{Dim: 32, Seed: 1}.withDefaults())
	// Item embeddings orthogonal to each other: the history term alone is
	// then the item-kNN score, centred.
	D := 32
	ie := make([]float64, len(d.items)*D)
	for k := range d.items {
		ie[k*D+k] = 2
	}
	for _, src := range []string{HistoryNeighbours, HistoryItems, HistoryEASE} {
		h := tr.history(tr.itemRows(ie, src))
		x := d.userIndex["x"]
		got := rankFor(d, h[int(x)*D:(int(x)+1)*D], ie, D, map[string]bool{"A": true, "B": true})
		switch src {
		case HistoryNeighbours:
			// C: neighbour of A (cosine 10/√(11·15)) and of B; D of B only.
			if got[0] != "C" || got[1] != "D" {
				t.Errorf("neighbours: x (bought A, B) is offered %v, want C then D first", got)
			}
		case HistoryEASE:
			// EASE's weights from A and B go to C (bought with both)
			// and D (with B), the unrelated pairs get none.
			if got[0] != "C" || got[1] != "D" {
				t.Errorf("ease: x (bought A, B) is offered %v, want C then D first", got)
			}
		case HistoryItems:
			// Orthogonal items: nothing unrated is like A or B.
			if c, _, _ := cosine(h[int(x)*D:(int(x)+1)*D], ie[int(d.itemIndex["C"])*D:][:D]); c != 0 {
				t.Errorf("items: cosine of x's history with C = %v, want 0 (orthogonal items)", c)
			}
		}
	}
}

func TestHistoryIsFoldedIntoThePublishedUserVectors(t *testing.T) {
	d := datasetOf(t, smallData(t, 3))
	ctx := context.Background()
	off, err := Train(ctx, d, Config{Seed: 2, Epochs: 3, HistoryWeight: -1, ItemNeighbourWeight: -1})
	if err != nil {
		t.Fatal(err)
	}
	if off.Metrics.History != nil {
		t.Errorf("history weight -1: metrics record a history blend %+v", off.Metrics.History)
	}
	on, err := Train(ctx, d, Config{Seed: 2, Epochs: 3, HistoryWeight: 1, HistorySource: HistoryNeighbours, ItemNeighbourWeight: -1})
	if err != nil {
		t.Fatal(err)
	}
	if h := on.Metrics.History; h == nil || h.Weight != 1 || h.Source != HistoryNeighbours || h.Chosen {
		t.Fatalf("metrics record the history blend %+v, want weight 1 of neighbours, not chosen", h)
	}
	changed := 0
	for k, id := range d.userIDs {
		a := off.Model.EmbedKnownUser(id, d.users[k].labUser())
		b := on.Model.EmbedKnownUser(id, d.users[k].labUser())
		if !on.Model.KnowsUser(id) {
			for c := range a {
				if a[c] != b[c] {
					t.Fatalf("user %s without ratings: embedding changed by the history", id)
				}
			}
			continue
		}
		// b = a + ‖a‖·h with ‖h‖ = 1: the history's share is ‖b − a‖/‖a‖ = 1.
		var na, nd float64
		for c := range a {
			na += float64(a[c]) * float64(a[c])
			nd += (float64(b[c]) - float64(a[c])) * (float64(b[c]) - float64(a[c]))
		}
		if r := math.Sqrt(nd / na); math.Abs(r-1) > 1e-3 {
			t.Errorf("user %s: ‖history term‖/‖embedding‖ = %v, want 1", id, r)
		}
		changed++
	}
	if changed == 0 {
		t.Fatal("no known user")
	}
	for k, id := range d.itemIDs {
		a, b := off.Model.EmbedKnownItem(id, d.items[k].labItem()), on.Model.EmbedKnownItem(id, d.items[k].labItem())
		for c := range a {
			if a[c] != b[c] {
				t.Fatalf("item %s: embedding changed by the users' history", id)
			}
		}
	}
}

func TestValidationChoosesTheHistoryBlend(t *testing.T) {
	d := datasetOf(t, smallData(t, 4))
	res, err := Train(context.Background(), d, Config{Seed: 5, Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Metrics.History
	// Three sources (the catalogue is below the EASE bound), w = 0 once
	// per β.
	want := len(itemNeighbourWeights) * (3*len(historyWeights) - 2)
	if h == nil || !h.Chosen || len(h.Candidates) != want {
		t.Fatalf("metrics record the history blend %+v, want one chosen among %d candidates", h, want)
	}
	best := h.Candidates[0]
	for _, c := range h.Candidates {
		if c.ValidationNDCG > best.ValidationNDCG {
			best = c
		}
	}
	prior := h.Source == HistoryEASE && h.Weight == historyEASEPriorWeight && h.ItemWeight == itemPriorWeight
	if !prior && (best.Weight != h.Weight || best.ItemWeight != h.ItemWeight || (h.Weight != 0 && best.Source != h.Source)) {
		t.Errorf("chose %s %v, items %v: neither the prior nor the best on validation (%+v)", h.Source, h.Weight, h.ItemWeight, best)
	}
}

// TestItemNeighboursAreFoldedIntoThePublishedItemVectors: with β = 1 each
// item with co-rated neighbours turns by a unit term scaled by its own
// norm, the others and every user keep their embeddings.
func TestItemNeighboursAreFoldedIntoThePublishedItemVectors(t *testing.T) {
	d := datasetOf(t, smallData(t, 3))
	ctx := context.Background()
	off, err := Train(ctx, d, Config{Seed: 2, Epochs: 3, HistoryWeight: -1, ItemNeighbourWeight: -1})
	if err != nil {
		t.Fatal(err)
	}
	on, err := Train(ctx, d, Config{Seed: 2, Epochs: 3, HistoryWeight: -1, ItemNeighbourWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	if h := on.Metrics.History; h == nil || h.ItemWeight != 1 || h.Weight != 0 || h.Chosen {
		t.Fatalf("metrics record %+v, want item neighbour weight 1, no user history, not chosen", h)
	}
	changed := 0
	for k, id := range d.itemIDs {
		a, b := off.Model.EmbedKnownItem(id, d.items[k].labItem()), on.Model.EmbedKnownItem(id, d.items[k].labItem())
		var na, nd float64
		for c := range a {
			na += float64(a[c]) * float64(a[c])
			nd += (float64(b[c]) - float64(a[c])) * (float64(b[c]) - float64(a[c]))
		}
		switch r := math.Sqrt(nd / na); {
		case r == 0:
		case math.Abs(r-1) < 1e-3 && on.Model.KnowsItem(id):
			changed++
		default:
			t.Errorf("item %s: ‖neighbour term‖/‖embedding‖ = %v, want 1 or 0 (known: %v)", id, r, on.Model.KnowsItem(id))
		}
	}
	if changed == 0 {
		t.Error("no item turned towards its neighbours")
	}
	for k, id := range d.userIDs {
		a, b := off.Model.EmbedKnownUser(id, d.users[k].labUser()), on.Model.EmbedKnownUser(id, d.users[k].labUser())
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("user %s: embedding changed by the items' neighbours", id)
		}
	}
}

func TestHistoryPriorGivesWayOnlyToAClearGain(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name string
		a, b []float64
		want bool
	}{
		{"same", []float64{0.5, 0.2, 0.9}, []float64{0.5, 0.2, 0.9}, false},
		{"noisy gain", []float64{0.9, 0.1, 0.8, 0.3}, []float64{0.1, 0.5, 0.7, 0.4}, false},
		{"steady gain", []float64{0.6, 0.31, 0.52, 0.43, 0.7}, []float64{0.5, 0.2, 0.4, 0.3, 0.6}, true},
		{"loss", []float64{0.5, 0.2, 0.4, 0.3}, []float64{0.6, 0.31, 0.52, 0.43}, false},
		{"unmeasured users skipped", []float64{nan, 0.61, 0.52, 0.43, 0.7}, []float64{0.9, 0.5, 0.4, 0.3, 0.6}, true},
		{"one user", []float64{0.9}, []float64{0.1}, false},
	} {
		if got := clearlyBetter(c.a, c.b); got != c.want {
			t.Errorf("%s: clearlyBetter = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestHistoryIsChosenWithoutTheValidationRatings checks that the blend is
// chosen by a model that never trained on the validation ratings: the
// trainer that chooses has none of them, and the choice (every candidate's
// validation NDCG@10) does not depend on the refit, warm or not, however
// long.
func TestHistoryIsChosenWithoutTheValidationRatings(t *testing.T) {
	d := datasetOf(t, smallData(t, 4))
	d.sort() // as Train does, so that the split below is Train's
	var stats []*HistoryStats
	for _, refit := range []int{-1, 1, 4} {
		cfg := Config{Seed: 5, Epochs: 3, RefitEpochs: refit}
		split := splitRatings(len(d.ratings), cfg.withDefaults())
		refitHook = func(v, r *trainer) {
			for _, x := range v.train {
				if split[x] != splitTrain {
					t.Errorf("refit %d: the trainer choosing the blend trained on rating %d of split %d", refit, x, split[x])
				}
			}
			if len(r.train) != len(d.ratings) {
				t.Errorf("refit %d: the refit has %d of %d ratings", refit, len(r.train), len(d.ratings))
			}
		}
		res, err := Train(context.Background(), d, cfg)
		refitHook = nil
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, res.Metrics.History)
	}
	for _, s := range stats[1:] {
		if !reflect.DeepEqual(s, stats[0]) {
			t.Fatalf("the history choice depends on the refit: %+v vs %+v", s, stats[0])
		}
	}
}

// TestEASEHistoryStopsAtItsBound: above Config.EASEMaxItems the
// validation's candidates and prior leave EASE out (the neighbours prior
// instead), and a fixed EASE source is refused naming the bound; training
// with EASE gives the same bits twice.
func TestEASEHistoryStopsAtItsBound(t *testing.T) {
	d := datasetOf(t, smallData(t, 4)) // 60 items
	ctx := context.Background()
	res, err := Train(ctx, d, Config{Seed: 5, Epochs: 3, EASEMaxItems: 59})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Metrics.History
	if want := len(itemNeighbourWeights) * (2*len(historyWeights) - 1); h == nil || len(h.Candidates) != want {
		t.Fatalf("60 items, EASEMaxItems 59: history %+v, want %d candidates", h, want)
	}
	for _, c := range h.Candidates {
		if c.Source == HistoryEASE {
			t.Fatalf("60 items, EASEMaxItems 59: EASE among the candidates: %+v", c)
		}
	}
	_, err = Train(ctx, d, Config{Seed: 5, Epochs: 3, EASEMaxItems: 59, HistorySource: HistoryEASE})
	if err == nil || !strings.Contains(err.Error(), "60 items") || !strings.Contains(err.Error(), "EASEMaxItems 59") {
		t.Errorf("history source ease above the bound: error %v, want one naming 60 items and the bound", err)
	}
	a, err := Train(ctx, d, Config{Seed: 5, Epochs: 3, HistorySource: HistoryEASE, HistoryWeight: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(ctx, d, Config{Seed: 5, Epochs: 3, HistorySource: HistoryEASE, HistoryWeight: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Model.userVec, b.Model.userVec) || !reflect.DeepEqual(a.Model.itemVec, b.Model.itemVec) {
		t.Error("two trainings with the EASE history and one seed differ")
	}
	if hs := a.Metrics.History; hs == nil || hs.Source != HistoryEASE || hs.Weight != 2 {
		t.Errorf("history %+v, want ease at w = 2", hs)
	}
}

// TestMaskedHistoryAndBlendMatchTheFullOnes checks the shortcut the blend's
// choice takes on large data: the history and blended rows of the users a
// mask marks are, bit for bit, those computed for every user, and the
// others are left alone.
func TestMaskedHistoryAndBlendMatchTheFullOnes(t *testing.T) {
	d := datasetOf(t, smallData(t, 4))
	d.sort()
	all := make([]int32, len(d.ratings))
	for i := range all {
		all[i] = int32(i)
	}
	tr := newTrainer(d, all, Config{Seed: 1}.withDefaults())
	D := tr.cfg.Dim
	ue, ie := tr.embedAll(true)
	mask := make([]bool, len(d.users))
	marked := 0
	for u := range mask {
		mask[u] = u%3 == 1
		if mask[u] {
			marked++
		}
	}
	if marked == 0 || marked == len(mask) {
		t.Fatalf("mask marks %d of %d users: want some but not all", marked, len(mask))
	}
	for _, src := range []string{HistoryItems, HistoryNeighbours, HistoryEASE} {
		rows := tr.itemRows(ie, src)
		full, part := tr.history(rows), tr.historyOf(rows, mask)
		blended := blendUsers(ue, full, 1.5, D)
		into := make([]float64, len(ue))
		for k := range into {
			into[k] = -7 // what is not marked must stay as it was
		}
		blendUsersInto(into, ue, part, 1.5, D, mask)
		for u := range d.users {
			for c := range D {
				k := u*D + c
				switch {
				case mask[u] && math.Float64bits(part[k]) != math.Float64bits(full[k]):
					t.Fatalf("%s: user %d's history [%d] = %v, want %v", src, u, c, part[k], full[k])
				case mask[u] && math.Float64bits(into[k]) != math.Float64bits(blended[k]):
					t.Fatalf("%s: user %d's blend [%d] = %v, want %v", src, u, c, into[k], blended[k])
				case !mask[u] && (part[k] != 0 || into[k] != -7):
					t.Fatalf("%s: unmarked user %d: history %v, blend %v; want 0 and untouched", src, u, part[k], into[k])
				}
			}
		}
	}
}
