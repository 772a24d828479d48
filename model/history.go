package model

import (
	"math"
	"slices"
)

// HistoryStats record the history blend of the published user vectors (see
// Config.HistoryWeight): the weight used and, when validation chose it, the
// validation NDCG@10 of every weight tried.
type HistoryStats struct {
	// Source is HistoryItems or HistoryNeighbours ("" when Weight is 0).
	Source string `json:"source,omitempty"`
	// Weight is w in unit(user) + w·unit(history); 0 means none.
	Weight float64 `json:"weight"`
	// Chosen is true when the validation split chose Weight among
	// Candidates, false when Config.HistoryWeight fixed it.
	Chosen     bool               `json:"chosen_on_validation"`
	Candidates []HistoryCandidate `json:"candidates,omitempty"`
}

// HistoryCandidate is one history weight tried on the validation split.
type HistoryCandidate struct {
	Source         string  `json:"source"`
	Weight         float64 `json:"weight"`
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
)

// historyNeighbours is the number of neighbours per item of the
// HistoryNeighbours source (that of the item-kNN baseline).
const historyNeighbours = 20

// itemRows returns the vector each rated item adds to a user's history,
// for the source, given the items' embeddings ie (rows of Dim values).
func (t *trainer) itemRows(ie []float64, source string) []float64 {
	D := t.cfg.Dim
	n := len(t.d.items)
	unitI := make([]float64, len(ie))
	for k := range n {
		v := ie[k*D : (k+1)*D]
		norm := math.Sqrt(dot(v, v) + cosineEps)
		for c, x := range v {
			unitI[k*D+c] = x / norm
		}
	}
	if source != HistoryNeighbours {
		return unitI
	}
	nbr, sim := t.neighbours(historyNeighbours)
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

// neighbours returns each item's k most similar items by the cosine of
// their co-ratings among the training ratings (every rating a 1; ties by
// index; -1 and 0 for none), as the item-kNN baseline does.
func (t *trainer) neighbours(k int) (nbr []int32, sim []float64) {
	d := t.d
	n := len(d.items)
	itemUsers := make([][]int32, n)
	userItems := make([][]int32, len(d.users))
	for _, r := range t.train { // sorted by user, then item
		rt := d.ratings[r]
		itemUsers[rt.item] = append(itemUsers[rt.item], rt.user)
		userItems[rt.user] = append(userItems[rt.user], rt.item)
	}
	nbr = fill(make([]int32, n*k), -1)
	sim = make([]float64, n*k)
	co := make([]float64, n)
	var touched []int32
	type cand struct {
		j int32
		s float64
	}
	var cands []cand
	for i := range n {
		touched = touched[:0]
		for _, u := range itemUsers[i] {
			for _, j := range userItems[u] {
				if int(j) == i {
					continue
				}
				if co[j] == 0 {
					touched = append(touched, j)
				}
				co[j]++
			}
		}
		cands = cands[:0]
		for _, j := range touched {
			cands = append(cands, cand{j, co[j] / math.Sqrt(float64(len(itemUsers[i]))*float64(len(itemUsers[j])))})
			co[j] = 0
		}
		slices.SortFunc(cands, func(a, b cand) int {
			switch {
			case a.s > b.s:
				return -1
			case a.s < b.s:
				return 1
			}
			return int(a.j - b.j)
		})
		for r := range min(k, len(cands)) {
			nbr[i*k+r], sim[i*k+r] = cands[r].j, cands[r].s
		}
	}
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
func (t *trainer) history(rows []float64) []float64 {
	D := t.cfg.Dim
	h := make([]float64, len(t.d.users)*D)
	for _, r := range t.pos { // sorted by user, then item: a fixed order
		rt := t.d.ratings[r]
		axpy(h[int(rt.user)*D:][:D], t.weight[r], rows[int(rt.item)*D:][:D])
	}
	for k := range t.d.users {
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
	copy(out, ue)
	if w == 0 {
		return out
	}
	for k := range len(ue) / D {
		v := out[k*D : (k+1)*D]
		n := math.Sqrt(dot(v, v))
		axpy(v, w*n, h[k*D:(k+1)*D])
	}
	return out
}

// roundRows rounds every value to float32, as the embeddings are published.
func roundRows(e []float64) {
	for i, v := range e {
		e[i] = float64(float32(v))
	}
}

// applyHistory folds the users' histories into the published user vectors:
// a known user's embedding becomes (in direction) unit(e) + w·h, e its
// hybrid embedding and h its unit history vector (see history, itemRows),
// so that cosine ranking adds an item-to-item term to the user's own. The
// source and weight are Config.HistorySource and Config.HistoryWeight, or,
// where those are unset, the pair with the best NDCG@10 on the validation
// split of the validation run v (ties to the smaller weight). They are
// folded into the refit model m's user id vectors (m built from refit), so
// EmbedKnownUser, the published CSV and every ranking agree; the hold-out
// figures of met are measured again with them. A content-only model is
// left as it is.
func applyHistory(v, refit *trainer, m *Model, met *Metrics, split []uint8) {
	cfg := v.cfg
	if cfg.ContentOnly || cfg.HistoryWeight < 0 {
		return
	}
	D := cfg.Dim
	sources := []string{HistoryItems, HistoryNeighbours}
	if cfg.HistorySource != "" {
		sources = []string{cfg.HistorySource}
	}
	weights := historyWeights
	if cfg.HistoryWeight > 0 {
		weights = []float64{cfg.HistoryWeight}
	}
	st := &HistoryStats{Source: sources[0], Weight: weights[0]}
	ue, ie := v.embedAll(true)
	var best []float64
	if len(sources)*len(weights) > 1 {
		st.Chosen = true
		bestNDCG := math.Inf(-1)
		for _, src := range sources {
			h := v.history(v.itemRows(ie, src))
			for _, w := range weights {
				b := blendUsers(ue, h, w, D)
				roundRows(b)
				nd := v.rank(b, ie, split, splitValidation, false).Model.NDCG
				st.Candidates = append(st.Candidates, HistoryCandidate{Source: src, Weight: w, ValidationNDCG: nd})
				if nd > bestNDCG {
					bestNDCG, st.Source, st.Weight, best = nd, src, w, b
				}
			}
		}
	}
	if st.Weight == 0 {
		st.Source = ""
	}
	met.History = st
	if st.Weight == 0 {
		return
	}
	if cfg.HoldoutFraction > 0 {
		if best == nil {
			best = blendUsers(ue, v.history(v.itemRows(ie, st.Source)), st.Weight, D)
			roundRows(best)
		}
		met.Holdout = v.holdoutWith(best, ie, split, m.ratingA, m.ratingB)
	}
	// The refit: its own history (every rating), folded into the id
	// vectors: id + w·‖e‖·h, so that unit(tower) + id' = e + w·‖e‖·h.
	ue, ie = refit.embedAll(false)
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
