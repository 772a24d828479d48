package model

import (
	"context"
	"math"
	"slices"

	"github.com/recoflow/recoflow/eval/baseline"
)

// HistoryStats record the history blend of the published user vectors (see
// Config.HistoryWeight): the weight used and, when validation chose it, the
// validation NDCG@10 of every weight tried.
type HistoryStats struct {
	// Source is HistoryItems or HistoryNeighbours ("" when Weight is 0).
	Source string `json:"source,omitempty"`
	// Weight is w in unit(user) + w·unit(history); 0 means none.
	Weight float64 `json:"weight"`
	// ItemWeight is β in unit(item) + β·unit(neighbours): how far each
	// item is turned towards its item-kNN neighbours; 0 means not at all.
	ItemWeight float64 `json:"item_neighbour_weight"`
	// Chosen is true when the validation split chose Weight among
	// Candidates, false when Config.HistoryWeight fixed it.
	Chosen     bool               `json:"chosen_on_validation"`
	Candidates []HistoryCandidate `json:"candidates,omitempty"`
}

// HistoryCandidate is one history weight tried on the validation split.
type HistoryCandidate struct {
	Source         string  `json:"source"`
	Weight         float64 `json:"weight"`
	ItemWeight     float64 `json:"item_neighbour_weight"`
	ValidationNDCG float64 `json:"validation_ndcg_at_10"`
}

// historyWeights are the blend weights the validation split chooses among,
// in increasing order (ties go to the smaller).
var historyWeights = []float64{0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5}

// History sources: what a user's history vector sums over the items it
// rated.
const (
	// HistoryItems: the unit embeddings of the items themselves, so the
	// history term scores an item by its cosine to the items rated.
	HistoryItems = "items"
	// HistoryNeighbours: for each item rated, the least-squares image in
	// the embedding space of its item-kNN neighbourhood (co-rating cosine,
	// historyNeighbours neighbours), so the history term approximates an
	// item-kNN score of every item, within what cosines over the item
	// embeddings can express.
	HistoryNeighbours = "neighbours"
	// HistoryEASE: as HistoryNeighbours, but each item's neighbourhood is
	// its historyNeighbours items of largest positive weight in EASE's
	// item-item matrix (Steck 2019: baseline.EASEWeights over the training
	// ratings, every rating a 1, the EASE baseline's default λ), weighted
	// by those weights, so the history term approximates a pruned EASE
	// score. Only for catalogues of at most Config.EASEMaxItems items: the
	// matrix is dense.
	HistoryEASE = "ease"
)

// historyPriorWeight is the weight, with the HistoryNeighbours source (the
// prior's source when the catalogue is above the EASE bound), that the
// validation split must clearly beat to choose another (see
// clearlyBetter): on small data its NDCG@10 cannot tell the candidates
// apart, and this pair was the best fixed choice measured there.
const historyPriorWeight = 1

// historyEASEPriorWeight is the prior's weight with the HistoryEASE source,
// the prior's source whenever the catalogue allows EASE (Config.EASEMaxItems):
// on the sample's validation splits (seeds 1–3, test fractions 10 % and
// 20 %) EASE at w = 2 scored NDCG@10 0.443 against 0.428 for the
// neighbours prior, and better on generated data too (BENCHMARKS.md).
const historyEASEPriorWeight = 2

// historyZ is how many standard errors of the per-user differences of
// validation NDCG@10 a candidate must gain over the prior to replace it.
const historyZ = 2

// clearlyBetter reports whether the users' NDCG@10 under a (NaN for users
// not measured) beats that under b by more than historyZ standard errors
// of the mean paired difference.
func clearlyBetter(a, b []float64) bool {
	n, sum, sq := 0.0, 0.0, 0.0
	for u, x := range a {
		if math.IsNaN(x) || math.IsNaN(b[u]) {
			continue
		}
		d := x - b[u]
		n++
		sum += d
		sq += d * d
	}
	if n < 2 {
		return false
	}
	mean := sum / n
	se := math.Sqrt(max(0, sq/n-mean*mean) / (n - 1))
	return mean > historyZ*se
}

// historyNeighbours is the number of neighbours per item of the
// HistoryNeighbours source (that of the item-kNN baseline).
const historyNeighbours = 20

// itemRows returns the vector each rated item adds to a user's history,
// for the source, given the items' embeddings ie (rows of Dim values).
func (t *trainer) itemRows(ie []float64, source string) []float64 {
	D := t.cfg.Dim
	n := len(t.d.items)
	unitI := unitRows(ie[:n*D], D)
	if source == HistoryItems {
		return unitI
	}
	// P = (VᵀV + λI)⁻¹ Vᵀ maps an item score vector s to the user vector q
	// minimising ‖Vq − s‖² + λ‖q‖² (V: the unit item embeddings). Item i's
	// row is P applied to its neighbourhood scores, centred over the items
	// so that the history vector ranks rather than fits the scores' level.
	A := make([]float64, D*D)
	for k := range n {
		v := unitI[k*D : (k+1)*D]
		for a := range D {
			axpy(A[a*D:(a+1)*D], v[a], v)
		}
	}
	lambda := 1e-3 * float64(n) / float64(D) // trace(VᵀV) = n
	for a := range D {
		A[a*D+a] += lambda
	}
	L := cholesky(A, D)
	// P's column j is A⁻¹ v_j.
	P := make([]float64, n*D) // row j: A⁻¹ v_j
	for j := range n {
		x := P[j*D : (j+1)*D]
		copy(x, unitI[j*D:(j+1)*D])
		cholSolve(L, D, x)
	}
	c := make([]float64, D) // P·1
	for j := range n {
		axpy(c, 1, P[j*D:(j+1)*D])
	}
	rows := make([]float64, n*D)
	nbr, sim := t.neighbours(historyNeighbours)
	if source == HistoryEASE {
		nbr, sim = t.easeNeighbours(historyNeighbours)
	}
	k := historyNeighbours
	for i := range n {
		row := rows[i*D : (i+1)*D]
		total := 0.0
		for r := range k {
			if j := nbr[i*k+r]; j >= 0 {
				axpy(row, sim[i*k+r], P[int(j)*D:(int(j)+1)*D])
				total += sim[i*k+r]
			}
		}
		axpy(row, -total/float64(n), c)
	}
	return rows
}

// easeNeighbours returns each item's k items of largest positive EASE
// weight (easeWeights: row i, the weight an interaction with item i gives
// item j), largest first, ties by index, -1 and 0 where fewer than k are
// positive: the layout of neighbours.
func (t *trainer) easeNeighbours(k int) (nbr []int32, sim []float64) {
	if t.easeNbr != nil {
		return t.easeNbr, t.easeSim
	}
	b := t.easeWeights()
	n := len(t.d.items)
	nbr, sim = make([]int32, n*k), make([]float64, n*k)
	order := make([]int32, n)
	for i := range n {
		row := b[i*n : (i+1)*n]
		for j := range order {
			order[j] = int32(j)
		}
		slices.SortFunc(order, func(a, c int32) int {
			switch {
			case row[a] > row[c]:
				return -1
			case row[a] < row[c]:
				return 1
			}
			return int(a - c)
		})
		for r := range k {
			if r < n && row[order[r]] > 0 {
				nbr[i*k+r], sim[i*k+r] = order[r], row[order[r]]
			} else {
				nbr[i*k+r], sim[i*k+r] = -1, 0
			}
		}
	}
	t.easeNbr, t.easeSim = nbr, sim
	return nbr, sim
}

// easeWeights returns EASE's item-item weights over the trainer's training
// ratings (baseline.EASEWeights, every rating a 1, λ the EASE baseline's
// default, baseline.EASELambda). They are items² values: the caller keeps
// what it needs of them (easeNeighbours), not the matrix.
func (t *trainer) easeWeights() []float64 {
	d := t.d
	userItems := make([][]int32, len(d.users))
	pairs := 0
	for _, r := range t.train { // sorted by user, then item
		rt := d.ratings[r]
		if items := userItems[rt.user]; len(items) == 0 || items[len(items)-1] != rt.item {
			userItems[rt.user] = append(items, rt.item)
			pairs++
		}
	}
	lambda := baseline.EASELambda(0, pairs, len(d.items))
	b, err := baseline.EASEWeights(context.Background(), len(d.items), len(d.users), lambda,
		func(u int) []int32 { return userItems[u] })
	if err != nil {
		// Only a λ that is not positive fails, and λ is a positive
		// constant.
		panic(err)
	}
	return b
}

// defaultEASEMaxItems is the EASE bound that Config.EASEMaxItems 0 means.
const defaultEASEMaxItems = baseline.DefaultEASEMaxItems

// easeAllowed reports whether the HistoryEASE source may be used on items
// items under Config.EASEMaxItems bound (0: defaultEASEMaxItems; negative:
// never).
func easeAllowed(bound, items int) bool {
	if bound == 0 {
		bound = defaultEASEMaxItems
	}
	return bound > 0 && items <= bound
}

// neighbours returns each item's k most similar items by the cosine of
// their co-ratings among the training ratings (every rating a 1; ties by
// index; -1 and 0 for none): the item-kNN baseline's neighbourhoods
// (baseline.CoRatingNeighbours).
func (t *trainer) neighbours(k int) (nbr []int32, sim []float64) {
	if t.nbrK == k {
		return t.nbr, t.nbrSim
	}
	d := t.d
	itemUsers := make([][]int32, len(d.items))
	userItems := make([][]int32, len(d.users))
	for _, r := range t.train { // sorted by user, then item
		rt := d.ratings[r]
		itemUsers[rt.item] = append(itemUsers[rt.item], rt.user)
		userItems[rt.user] = append(userItems[rt.user], rt.item)
	}
	nbr, sim, _ = baseline.CoRatingNeighbours(context.Background(), len(d.items), k,
		func(i int) []int32 { return itemUsers[i] }, func(u int) []int32 { return userItems[u] })
	t.nbr, t.nbrSim, t.nbrK = nbr, sim, k
	return nbr, sim
}

// cholesky returns the lower-triangular L with L·Lᵀ = A (D×D, symmetric
// positive definite, row-major).
func cholesky(A []float64, D int) []float64 {
	L := make([]float64, D*D)
	for i := range D {
		for j := 0; j <= i; j++ {
			s := A[i*D+j]
			for k := range j {
				s -= L[i*D+k] * L[j*D+k]
			}
			if i == j {
				L[i*D+i] = math.Sqrt(max(s, 1e-12))
			} else {
				L[i*D+j] = s / L[j*D+j]
			}
		}
	}
	return L
}

// cholSolve overwrites x with A⁻¹x, L the Cholesky factor of A.
func cholSolve(L []float64, D int, x []float64) {
	for i := range D {
		s := x[i]
		for k := range i {
			s -= L[i*D+k] * x[k]
		}
		x[i] = s / L[i*D+i]
	}
	for i := D - 1; i >= 0; i-- {
		s := x[i]
		for k := i + 1; k < D; k++ {
			s -= L[k*D+i] * x[k]
		}
		x[i] = s / L[i*D+i]
	}
}

// history returns, for every user (rows of Dim values), the unit vector of
// the weighted sum of rows (itemRows) of the items it rated positively
// among the trainer's training ratings (weight as a positive), or a zero
// row for a user without positives.
func (t *trainer) history(rows []float64) []float64 { return t.historyOf(rows, nil) }

// historyOf is history for the users mask marks (every user if mask is
// nil); the rows of the others are zero.
func (t *trainer) historyOf(rows []float64, mask []bool) []float64 {
	D := t.cfg.Dim
	h := make([]float64, len(t.d.users)*D)
	for _, r := range t.pos { // sorted by user, then item: a fixed order
		rt := t.d.ratings[r]
		if mask != nil && !mask[rt.user] {
			continue
		}
		axpy(h[int(rt.user)*D:][:D], t.weight(r), rows[int(rt.item)*D:][:D])
	}
	for k := range t.d.users {
		if mask != nil && !mask[k] {
			continue
		}
		v := h[k*D : (k+1)*D]
		if n := math.Sqrt(dot(v, v)); n > 0 {
			for c := range v {
				v[c] /= n
			}
		}
	}
	return h
}

// blendUsers returns unit(ue_u)·‖ue_u‖ + w·‖ue_u‖·h_u for every user: the
// user's embedding turned towards its history by w, keeping its norm (the
// direction is that of unit(ue_u) + w·h_u).
func blendUsers(ue, h []float64, w float64, D int) []float64 {
	out := make([]float64, len(ue))
	blendUsersInto(out, ue, h, w, D, nil)
	return out
}

// blendUsersInto sets the rows of out that mask marks (every row if mask
// is nil) to those blendUsers returns, and leaves the others as they are.
func blendUsersInto(out, ue, h []float64, w float64, D int, mask []bool) {
	for k := range len(ue) / D {
		if mask != nil && !mask[k] {
			continue
		}
		v := out[k*D : (k+1)*D]
		copy(v, ue[k*D:(k+1)*D])
		if w == 0 {
			continue
		}
		n := math.Sqrt(dot(v, v))
		axpy(v, w*n, h[k*D:(k+1)*D])
	}
}

// roundRows rounds every value to float32, as the embeddings are published.
func roundRows(e []float64) {
	for i, v := range e {
		e[i] = float64(float32(v))
	}
}

// itemNeighbourWeights are the weights β of the items' neighbourhood blend
// the validation split chooses among (see applyHistory).
var itemNeighbourWeights = []float64{0, 0.5, 1, 2}

// itemPriorWeight is the item neighbourhood weight β of the prior pair
// (see historyPriorWeight): on the sample's splits it was the best fixed
// value measured.
const itemPriorWeight = 1

// itemNeighbourDirs returns, for every item (rows of Dim values), the unit
// vector of the similarity-weighted sum of the unit embeddings ie of its
// item-kNN neighbours (historyNeighbours of them), or a zero row for an
// item without any.
func (t *trainer) itemNeighbourDirs(ie []float64) []float64 {
	D := t.cfg.Dim
	n := len(t.d.items)
	unitI := unitRows(ie[:n*D], D)
	nbr, sim := t.neighbours(historyNeighbours)
	k := historyNeighbours
	dirs := make([]float64, len(ie))
	for i := range n {
		row := dirs[i*D : (i+1)*D]
		for r := range k {
			if j := nbr[i*k+r]; j >= 0 {
				axpy(row, sim[i*k+r], unitI[int(j)*D:(int(j)+1)*D])
			}
		}
		if nn := math.Sqrt(dot(row, row)); nn > 0 {
			for c := range row {
				row[c] /= nn
			}
		}
	}
	return dirs
}

// smoothItems returns ie_i + β·‖ie_i‖·dirs_i for every item: in direction
// unit(ie_i) + β·dirs_i.
func smoothItems(ie, dirs []float64, beta float64, D int) []float64 {
	out := append([]float64(nil), ie...)
	if beta == 0 {
		return out
	}
	for i := range len(ie) / D {
		v := out[i*D : (i+1)*D]
		axpy(v, beta*math.Sqrt(dot(v, v)), dirs[i*D:(i+1)*D])
	}
	return out
}

// applyHistory folds two item-kNN terms into the published vectors. Each
// item with co-rated neighbours is turned towards them: its embedding
// becomes (in direction) unit(e) + β·n, n the unit similarity-weighted sum
// of its neighbours' unit embeddings (itemNeighbourDirs), so that cosines
// between items, and to users, follow co-ratings more. Each known user's
// embedding becomes unit(e) + w·h, e its hybrid embedding and h its unit
// history vector (see history, itemRows) over those items, so that cosine
// ranking adds an item-to-item term to the user's own. β, the source and
// w are Config.ItemNeighbourWeight, Config.HistorySource and
// Config.HistoryWeight, or, where those are unset, chosen on the
// validation split of the validation run v (which never trained on it):
// the prior (β = itemPriorWeight, HistoryNeighbours,
// w = historyPriorWeight) unless the candidate with the best NDCG@10 there
// beats it clearly (clearlyBetter). They are folded into the refit model
// m's id vectors (m built from refit), so EmbedKnownUser, EmbedKnownItem,
// the published CSVs and every ranking agree; the hold-out figures of met
// are measured again with them. A content-only model is left as it is.
func applyHistory(v, refit *trainer, m *Model, met *Metrics, split []uint8) {
	if refitHook != nil {
		refitHook(v, refit)
	}
	cfg := v.cfg
	if cfg.ContentOnly {
		return
	}
	D := cfg.Dim
	sources := []string{HistoryItems, HistoryNeighbours}
	if easeAllowed(cfg.EASEMaxItems, len(v.d.items)) {
		sources = append(sources, HistoryEASE)
	}
	if cfg.HistorySource != "" {
		sources = []string{cfg.HistorySource}
	}
	weights := historyWeights
	switch {
	case cfg.HistoryWeight > 0:
		weights = []float64{cfg.HistoryWeight}
	case cfg.HistoryWeight < 0:
		weights, sources = []float64{0}, sources[:1]
	}
	betas := itemNeighbourWeights
	switch {
	case cfg.ItemNeighbourWeight > 0:
		betas = []float64{cfg.ItemNeighbourWeight}
	case cfg.ItemNeighbourWeight < 0:
		betas = []float64{0}
	}
	if len(weights) == 1 && weights[0] == 0 && len(betas) == 1 && betas[0] == 0 {
		return
	}
	st := &HistoryStats{Source: sources[0], Weight: weights[0], ItemWeight: betas[0]}
	ue, ie := v.embedAll(true)
	dirs := v.itemNeighbourDirs(ie)
	if len(sources)*len(weights)*len(betas) > 1 {
		st.Chosen = true
		prior := HistoryCandidate{Source: HistoryNeighbours, Weight: historyPriorWeight, ItemWeight: itemPriorWeight}
		if slices.Contains(sources, HistoryEASE) {
			prior.Source = HistoryEASE
		}
		if len(sources) == 1 {
			prior.Source = sources[0]
		}
		if prior.Source == HistoryEASE {
			prior.Weight = historyEASEPriorWeight
		}
		if len(weights) == 1 {
			prior.Weight = weights[0]
		}
		if len(betas) == 1 {
			prior.ItemWeight = betas[0]
		}
		// Only the prior's and the best candidate's per-user figures are
		// kept (memory stays that of one candidate); the chosen pair's
		// vectors are computed again below.
		isPrior := func(c HistoryCandidate) bool {
			return c.ItemWeight == prior.ItemWeight && c.Weight == prior.Weight && (c.Source == prior.Source || c.Weight == 0)
		}
		var priorUsers, topUsers []float64
		top := -1
		v.userNDCG = make([]float64, len(v.d.users))
		// The ranking reads the users it measures (v.valUsers, or all):
		// only their rows are computed, into one buffer.
		b := make([]float64, len(ue))
		for _, beta := range betas {
			ie2 := smoothItems(ie, dirs, beta, D)
			roundRows(ie2)
			for si, src := range sources {
				h := v.historyOf(v.itemRows(ie2, src), v.valUsers)
				for _, w := range weights {
					if w == 0 && si > 0 {
						continue // the same as with the first source
					}
					blendUsersInto(b, ue, h, w, D, v.valUsers)
					roundRows(b)
					for u := range v.userNDCG {
						v.userNDCG[u] = math.NaN()
					}
					nd := v.rank(b, ie2, split, splitValidation, false).Model.NDCG
					c := HistoryCandidate{Source: src, Weight: w, ItemWeight: beta, ValidationNDCG: nd}
					st.Candidates = append(st.Candidates, c)
					if isPrior(c) {
						priorUsers = append([]float64(nil), v.userNDCG...)
					}
					if top < 0 || nd > st.Candidates[top].ValidationNDCG {
						top = len(st.Candidates) - 1
						topUsers = append(topUsers[:0], v.userNDCG...)
					}
				}
			}
		}
		v.userNDCG = nil
		// The best candidate replaces the prior only when its gain is
		// clearly above the noise of the validation split: more than
		// historyZ standard errors of the users' paired differences.
		pick := st.Candidates[top]
		if priorUsers != nil && !clearlyBetter(topUsers, priorUsers) {
			pick = prior
		}
		st.Source, st.Weight, st.ItemWeight = pick.Source, pick.Weight, pick.ItemWeight
	}
	if st.Weight == 0 {
		st.Source = ""
	}
	met.History = st
	if st.Weight == 0 && st.ItemWeight == 0 {
		return
	}
	if cfg.HoldoutFraction > 0 {
		bestI := smoothItems(ie, dirs, st.ItemWeight, D)
		roundRows(bestI)
		bestU := ue
		if st.Weight > 0 {
			bestU = blendUsers(ue, v.history(v.itemRows(bestI, st.Source)), st.Weight, D)
		}
		roundRows(bestU)
		met.Holdout = v.holdoutWith(bestU, bestI, split, m.ratingA, m.ratingB)
	}
	// The refit: its own neighbourhoods and histories (every rating),
	// folded into the id vectors: id + β·‖e‖·n for items, so that
	// unit(tower) + id' = e + β·‖e‖·n, and id + w·‖e‖·h for users.
	ue, ie = refit.embedAll(false)
	if st.ItemWeight > 0 {
		dirs = refit.itemNeighbourDirs(ie)
		for k, id := range refit.d.itemIDs {
			row, ok := m.itemIDs[id]
			if !ok {
				continue
			}
			e := ie[k*D : (k+1)*D]
			axpy(m.itemVec[int(row)*D:][:D], st.ItemWeight*math.Sqrt(dot(e, e)), dirs[k*D:(k+1)*D])
		}
		ie = smoothItems(ie, dirs, st.ItemWeight, D)
	}
	if st.Weight == 0 {
		return
	}
	roundRows(ie)
	h := refit.history(refit.itemRows(ie, st.Source))
	for k, id := range refit.d.userIDs {
		row, ok := m.userIDs[id]
		if !ok {
			continue
		}
		e := ue[k*D : (k+1)*D]
		axpy(m.userVec[int(row)*D:][:D], st.Weight*math.Sqrt(dot(e, e)), h[k*D:(k+1)*D])
	}
}
