package model

import (
	"context"
	"fmt"
	"math"

	"github.com/recoflow/recoflow/eval"
)

// EvalData returns the dataset's ratings as eval data (users and items as
// the dataset's sorted indices, Rating = the rating value) and the ids
// behind the indices. Catalogue users and items without ratings are
// included in NumUsers and NumItems. It sorts d (as Train does).
func (d *Dataset) EvalData() (data *eval.Data, userIDs, itemIDs []string) {
	d.sort()
	data = &eval.Data{NumUsers: len(d.users), NumItems: len(d.items), Interactions: make([]eval.Interaction, len(d.ratings))}
	for i, r := range d.ratings {
		v := float32(r.value)
		if r.weight > 0 {
			v = 0 // implicit feedback
		}
		data.Interactions[i] = eval.Interaction{User: r.user, Item: r.item, Rating: v, Time: r.time}
	}
	return data, d.userIDs, d.itemIDs
}

// Method returns the model trained with cfg as an eval.Method over d's users
// and items (features from d, indices as EvalData gives them): Fit trains on
// the given interactions only — its own validation split of them picks the
// epochs, then it refits on all of them; there is no hold-out of its own —
// and scores by cosine of the embeddings as published; a user without
// training interactions is embedded from features only. Name is "hybrid",
// or "content-only" when cfg.ContentOnly. An implicit interaction (rating
// 0) counts as a rating of 5, weighted as in d when d has it.
func Method(d *Dataset, cfg Config) eval.Method {
	d.sort()
	name := "hybrid"
	if cfg.ContentOnly {
		name = "content-only"
	}
	cfg.HoldoutFraction = -1
	cfg.Progress = nil
	return &method{d: d, cfg: cfg, name: name}
}

// fitHook, set only by tests and benchmarks, sees the metrics of every
// fit of a Method.
var fitHook func(*Metrics)

type method struct {
	d    *Dataset
	cfg  Config
	name string
}

func (m *method) Name() string { return m.name }

func (m *method) Fit(ctx context.Context, train *eval.Data) (eval.Scorer, error) {
	d := m.d
	if train.NumUsers != len(d.users) || train.NumItems != len(d.items) {
		return nil, fmt.Errorf("%s: the data has %d users and %d items, the dataset %d and %d", m.name, train.NumUsers, train.NumItems, len(d.users), len(d.items))
	}
	sub := &Dataset{userIndex: d.userIndex, userIDs: d.userIDs, users: d.users,
		itemIndex: d.itemIndex, itemIDs: d.itemIDs, items: d.items,
		ratings: make([]rating, 0, len(train.Interactions)),
		spec:    d.spec, userSchema: d.userSchema, itemSchema: d.itemSchema}
	var weights map[[2]int32]float64 // implicit interactions' weights
	for _, r := range d.ratings {
		if r.weight > 0 {
			if weights == nil {
				weights = make(map[[2]int32]float64)
			}
			weights[[2]int32{r.user, r.item}] = r.weight
		}
	}
	for i, x := range train.Interactions {
		if x.User < 0 || int(x.User) >= len(d.users) || x.Item < 0 || int(x.Item) >= len(d.items) {
			return nil, fmt.Errorf("%s: interaction %d: user %d or item %d out of range", m.name, i, x.User, x.Item)
		}
		v := float64(x.Rating)
		w := 0.0
		if v == 0 {
			v = 5
			w = weights[[2]int32{x.User, x.Item}]
		}
		sub.ratings = append(sub.ratings, rating{user: x.User, item: x.Item, value: v, weight: w})
	}
	sub.sortRatings()
	res, err := Train(ctx, sub, m.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	if fitHook != nil {
		fitHook(res.Metrics)
	}
	return newScorer(res.Model, d), nil
}

// scorer ranks by cosine of the published (float32) embeddings.
type scorer struct {
	m      *Model
	dim    int
	users  [][]float32 // unit vectors
	items  []float64   // unit vectors, rows of dim
	scores []float64
}

func newScorer(m *Model, d *Dataset) *scorer {
	s := &scorer{m: m, dim: m.dim, users: make([][]float32, len(d.users)), items: make([]float64, len(d.items)*m.dim)}
	for k := range d.users {
		s.users[k] = m.EmbedKnownUserFeatures(d.userIDs[k], d.users[k])
	}
	for k := range d.items {
		e := m.EmbedKnownItemFeatures(d.itemIDs[k], d.items[k])
		row := s.items[k*m.dim : (k+1)*m.dim]
		for c, x := range e {
			row[c] = float64(x)
		}
		n := math.Sqrt(dot(row, row) + cosineEps)
		for c := range row {
			row[c] /= n
		}
	}
	return s
}

// Score sets dst[i] to the cosine of the user's and item i's embeddings.
func (s *scorer) Score(user int32, dst []float64) {
	D := s.dim
	u := make([]float64, D)
	for c, x := range s.users[user] {
		u[c] = float64(x)
	}
	n := math.Sqrt(dot(u, u) + cosineEps)
	for c := range u {
		u[c] /= n
	}
	for i := range dst {
		dst[i] = dot(u, s.items[i*D:(i+1)*D])
	}
}

// PredictRating is the model's rating head on the cosine.
func (s *scorer) PredictRating(user, item int32) float64 {
	D := s.dim
	u := make([]float64, D)
	for c, x := range s.users[user] {
		u[c] = float64(x)
	}
	n := math.Sqrt(dot(u, u) + cosineEps)
	c := dot(u, s.items[int(item)*D:(int(item)+1)*D]) / n
	return s.m.rating(c)
}
