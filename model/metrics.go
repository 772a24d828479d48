package model

import (
	"math"
	"slices"
)

// EpochStats are the figures of one epoch of the validation run, measured
// with the parameters at its end. TrainLoss is the mean sampled-softmax
// loss of the epoch's steps; ValidationNDCG and ValidationPrecision are
// NDCG@10 and Precision@10 on the validation ratings, computed as
// RankingDefinition says, over every user with a validation rating of 4 or
// more, or over 5,000 of them drawn with the seed when there are more.
type EpochStats struct {
	Epoch               int     `json:"epoch"`
	TrainLoss           float64 `json:"train_loss"`
	ValidationNDCG      float64 `json:"validation_ndcg_at_10"`
	ValidationPrecision float64 `json:"validation_precision_at_10"`
	Seconds             float64 `json:"seconds"`
	// Best is true when this epoch improved on every earlier validation
	// NDCG@10.
	Best bool `json:"best,omitempty"`
}

// Metrics describe a training run; they are stored as metrics.json beside
// the model.
type Metrics struct {
	Format string `json:"format"`
	// Version is the artifacts version, set by Save.
	Version string `json:"version,omitempty"`
	// DatasetRunID is the ETL run the data came from, if the caller sets it.
	DatasetRunID string `json:"dataset_run_id,omitempty"`
	Ratings      int    `json:"ratings"`
	Users        int    `json:"users"`
	Items        int    `json:"items"`
	Split        struct {
		Train      int `json:"train"`
		Validation int `json:"validation"`
		Holdout    int `json:"holdout"`
	} `json:"split"`
	Config Config `json:"config"`
	// Loss states the training objective.
	Loss string `json:"loss"`
	// Epochs are the validation run's epochs; BestEpoch the one kept, whose
	// number of epochs the refit runs.
	Epochs    []EpochStats `json:"epochs"`
	BestEpoch int          `json:"best_epoch"`
	// Holdout are the validation run's figures on the hold-out ratings
	// (zero when the hold-out fraction is negative).
	Holdout Holdout `json:"holdout"`
	// Refit describes the published model, trained on every rating.
	Refit RefitStats `json:"refit"`
	// History is how far the published item vectors are turned towards
	// their item-kNN neighbours and each known user's vector towards its
	// history, and how the validation split chose it; nil for a
	// content-only model or with both turned off.
	History *HistoryStats `json:"history,omitempty"`
	// LowRating is how the weight of ratings below 4 was chosen, when
	// Config.LowRatingWeight left it to the data.
	LowRating *LowRatingChoice `json:"low_rating,omitempty"`
	// Evaluation is the full evaluation report (package eval), when the
	// caller adds one.
	Evaluation any `json:"evaluation,omitempty"`
	// TrainingSeconds is the wall time of Train (validation run and refit);
	// RatingsPerSecond the training positives it processed (all epochs of
	// both) per second of it.
	TrainingSeconds  float64 `json:"training_seconds"`
	RatingsPerSecond float64 `json:"ratings_per_second"`
}

// RefitStats describe the refit on all the data: the published model.
type RefitStats struct {
	Ratings int `json:"ratings"`
	Epochs  int `json:"epochs"`
	// Users and Items are those with an id vector (with ratings); every
	// other user and item of the data is embedded from its features.
	Users int `json:"users_with_id"`
	Items int `json:"items_with_id"`
}

// Holdout are the figures on the hold-out ratings, which neither training
// nor the choice of epoch saw.
type Holdout struct {
	Ratings int `json:"ratings"`
	// Implicit is true when the feedback is implicit (purchases, counts,
	// events): there is no rating to predict, and RMSE is left out.
	Implicit bool        `json:"implicit_feedback,omitempty"`
	RMSE     HoldoutRMSE `json:"rmse,omitzero"`
	Ranking  Ranking     `json:"ranking"`
}

// HoldoutRMSE compares the model's root-mean-square error on the 1–5 scale
// (its rating head, a + b·cos fitted on the validation ratings) with
// baselines fitted on the training split: the global mean rating, each
// item's mean rating, and each user's mean rating (both falling back to the
// global mean when there is none).
type HoldoutRMSE struct {
	Model      float64 `json:"model"`
	GlobalMean float64 `json:"global_mean"`
	ItemMean   float64 `json:"item_mean"`
	UserMean   float64 `json:"user_mean"`
}

// Ranking compares top-K recommendation quality with a popularity
// baseline; Definition says exactly how it is computed.
type Ranking struct {
	K          int       `json:"k"`
	Users      int       `json:"users"`
	Definition string    `json:"definition"`
	Model      RankScore `json:"model"`
	Popularity RankScore `json:"popularity"`
}

// RankScore is the mean Precision@K and NDCG@K over the evaluated users.
type RankScore struct {
	Precision float64 `json:"precision_at_k"`
	NDCG      float64 `json:"ndcg_at_k"`
}

const metricsFormat = "recoflow.metrics/v2"

// LossDefinition is the training objective, as recorded in metrics.json.
const LossDefinition = "sampled softmax for cosine retrieval, weighted mean over the training ratings (positives: those >= min_rating; " +
	"weight 1, low_rating_weight below 4) (u, i) of " +
	"-log softmax_j(cos(u, j)/temperature - logq*log q_j)[i] over i and the batch's first `negatives` distinct items " +
	"(not the user's other positives of the batch), q_j = item j's share of the training positives; " +
	"u = user tower(features) + user id vector, i = item tower(features) + item id vector, " +
	"each id vector left out with probability id_dropout per step"

// RankingDefinition is how Precision@K and NDCG@K are computed, as recorded
// in metrics.json.
const RankingDefinition = "for each user with at least one evaluated rating >= 4: " +
	"rank every item of the dataset except those the user rated in the training (and, for the hold-out, validation) ratings, " +
	"by cosine similarity of the embeddings as published (model) or by number of training ratings (popularity), ties by item id; " +
	"relevant = the user's evaluated items rated >= 4; " +
	"precision@K = relevant items in the top K / K; " +
	"NDCG@K = sum over top-K ranks r of rel_r/log2(r+1), divided by its ideal value for min(K, relevant) items; " +
	"both averaged over those users"

// rankK is the K of Precision@K and NDCG@K.
const rankK = 10

// metrics returns the run's description (without epochs and hold-out).
func (t *trainer) metrics(split []uint8) *Metrics {
	d := t.d
	m := &Metrics{
		Format:  metricsFormat,
		Ratings: len(d.ratings),
		Users:   len(d.users),
		Items:   len(d.items),
		Loss:    LossDefinition,
	}
	for _, s := range split {
		switch s {
		case splitTrain:
			m.Split.Train++
		case splitValidation:
			m.Split.Validation++
		default:
			m.Split.Holdout++
		}
	}
	return m
}

// holdout computes the hold-out figures of the trainer's parameters,
// using embeddings rounded to float32 as they are published.
func (t *trainer) holdout(split []uint8, a, b float64) Holdout {
	ue, ie := t.embedAll(true)
	return t.holdoutWith(ue, ie, split, a, b)
}

// holdoutWith is holdout with the embeddings given (rows of Dim values, as
// published).
func (t *trainer) holdoutWith(ue, ie []float64, split []uint8, a, b float64) Holdout {
	d := t.d
	// Baselines from the training ratings.
	global := 0.0
	itemSum := make([]float64, len(d.items))
	itemN := make([]int, len(d.items))
	userSum := make([]float64, len(d.users))
	userN := make([]int, len(d.users))
	for _, r := range t.train {
		rt := d.ratings[r]
		global += rt.value
		itemSum[rt.item] += rt.value
		itemN[rt.item]++
		userSum[rt.user] += rt.value
		userN[rt.user]++
	}
	global /= float64(len(t.train))
	mean := func(sum float64, n int) float64 {
		if n == 0 {
			return global
		}
		return sum / float64(n)
	}
	D := t.cfg.Dim
	var se [4]float64
	n := 0
	for r, s := range split {
		if s != splitHoldout {
			continue
		}
		n++
		rt := d.ratings[r]
		c, _, _ := cosine(ue[int(rt.user)*D:][:D], ie[int(rt.item)*D:][:D])
		for j, p := range []float64{min(5, max(1, a+b*c)), global, mean(itemSum[rt.item], itemN[rt.item]), mean(userSum[rt.user], userN[rt.user])} {
			e := p - rt.value
			se[j] += e * e
		}
	}
	h := Holdout{Ratings: n}
	if n == 0 {
		return h
	}
	h.Implicit = d.implicit()
	if !h.Implicit {
		h.RMSE = HoldoutRMSE{
			Model:      math.Sqrt(se[0] / float64(n)),
			GlobalMean: math.Sqrt(se[1] / float64(n)),
			ItemMean:   math.Sqrt(se[2] / float64(n)),
			UserMean:   math.Sqrt(se[3] / float64(n)),
		}
	}
	h.Ranking = t.rank(ue, ie, split, splitHoldout, true)
	return h
}

// userStarts returns, for the ratings of t.d (sorted by user), where each
// user's begin: user u's are [start[u], start[u+1]). It is computed once.
func (t *trainer) userStarts() []int {
	if t.userStart != nil {
		return t.userStart
	}
	d := t.d
	start := make([]int, len(d.users)+1)
	for _, r := range d.ratings {
		start[r.user+1]++
	}
	for u := range d.users {
		start[u+1] += start[u]
	}
	t.userStart = start
	return start
}

// rank computes Precision@K and NDCG@K as RankingDefinition states, for
// the ratings of split target: ratings of earlier splits are the ones the
// users are known to have rated, those of later splits are ignored. With
// withPop it ranks by popularity (the number of training ratings) too.
func (t *trainer) rank(ue, ie []float64, split []uint8, target uint8, withPop bool) Ranking {
	d := t.d
	D := t.cfg.Dim
	nItems := len(d.items)
	in := unitRows(ie[:nItems*D], D)
	var byPop []int32
	if withPop {
		popularity := make([]int, nItems)
		for r, s := range split {
			if s == splitTrain {
				popularity[d.ratings[r].item]++
			}
		}
		byPop = make([]int32, nItems)
		for i := range byPop {
			byPop[i] = int32(i)
		}
		slices.SortStableFunc(byPop, func(a, b int32) int { return popularity[b] - popularity[a] })
	}
	userStart := t.userStarts()
	var idcg [rankK + 1]float64
	for r := 1; r <= rankK; r++ {
		idcg[r] = idcg[r-1] + 1/math.Log2(float64(r+1))
	}

	type part struct {
		users              int
		pm, nm, pp, np     float64
		excluded, relevant []int32
	}
	var parts [shards]part
	t.parallel(func(s int) {
		p := &parts[s]
		p.excluded = fill(make([]int32, nItems), -1)
		p.relevant = fill(make([]int32, nItems), -1)
		topItem := make([]int32, 0, rankK)
		topScore := make([]float64, 0, rankK)
		uv := make([]float64, D)
		scores := make([]float64, nItems)
		lo, hi := span(len(d.users), s)
		for u := lo; u < hi; u++ {
			if target == splitValidation && t.valUsers != nil && !t.valUsers[u] {
				continue
			}
			nRel, nExcl := 0, 0
			for r := userStart[u]; r < userStart[u+1]; r++ {
				rt := d.ratings[r]
				switch {
				case split[r] < target:
					if p.excluded[rt.item] != int32(u) {
						nExcl++
					}
					p.excluded[rt.item] = int32(u)
				case split[r] == target && rt.value >= 4:
					p.relevant[rt.item] = int32(u)
					nRel++
				}
			}
			if nRel == 0 {
				continue
			}
			p.users++
			ideal := idcg[min(nRel, rankK)]
			score := func(items []int32) (prec, ndcg float64) {
				hits, dcg := 0, 0.0
				for rank, i := range items {
					if p.relevant[i] == int32(u) {
						hits++
						dcg += 1 / math.Log2(float64(rank+2))
					}
				}
				return float64(hits) / rankK, dcg / ideal
			}
			// model: the K best cosines, ties by item index
			topItem, topScore = topItem[:0], topScore[:0]
			unitRow(uv, ue[u*D:(u+1)*D])
			dotRows(scores, uv, in, D)
			// With at least rankK items left, excluded items score −Inf
			// and fall below the threshold (the K-th best so far, −Inf
			// until there are K): they could only have filled places
			// that others take. Else each is checked.
			few := nItems-nExcl < rankK
			if !few {
				for r := userStart[u]; r < userStart[u+1]; r++ {
					if split[r] < target {
						scores[d.ratings[r].item] = math.Inf(-1)
					}
				}
			}
			thr := math.Inf(-1)
			for i, sc := range scores {
				if sc <= thr || few && p.excluded[i] == int32(u) {
					continue
				}
				j := len(topItem)
				if j < rankK {
					topItem = append(topItem, 0)
					topScore = append(topScore, 0)
				} else {
					j = rankK - 1
				}
				for j > 0 && topScore[j-1] < sc {
					topItem[j], topScore[j] = topItem[j-1], topScore[j-1]
					j--
				}
				topItem[j], topScore[j] = int32(i), sc
				if len(topItem) == rankK {
					thr = topScore[rankK-1]
				}
			}
			pr, nd := score(topItem)
			p.pm += pr
			p.nm += nd
			if t.userNDCG != nil {
				t.userNDCG[u] = nd
			}
			if !withPop {
				continue
			}
			// popularity
			topItem = topItem[:0]
			for _, i := range byPop {
				if len(topItem) == rankK {
					break
				}
				if p.excluded[i] != int32(u) {
					topItem = append(topItem, i)
				}
			}
			pr, nd = score(topItem)
			p.pp += pr
			p.np += nd
		}
	})
	out := Ranking{K: rankK, Definition: RankingDefinition}
	var pm, nm, pp, np float64
	for _, p := range parts {
		out.Users += p.users
		pm += p.pm
		nm += p.nm
		pp += p.pp
		np += p.np
	}
	if out.Users > 0 {
		n := float64(out.Users)
		out.Model = RankScore{Precision: pm / n, NDCG: nm / n}
		out.Popularity = RankScore{Precision: pp / n, NDCG: np / n}
	}
	return out
}
