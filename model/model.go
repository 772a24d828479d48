package model

import (
	"math"

	"github.com/recoflow/recoflow/dataset"
)

// Model is a trained hybrid two-tower model: the user and item encoders
// and towers, and the learned id vectors of the users and items it was
// trained on. It embeds any user or item from its features, including ones
// it never saw in training; a known one's embedding adds its id vector. A
// Model is immutable and safe for concurrent use.
type Model struct {
	version    string
	dim        int
	userEnc    *encoder
	itemEnc    *encoder
	user, item *tower
	// id vectors: userIDs[id] is the row of id in userVec (Dim values);
	// nil for a content-only model.
	userIDs, itemIDs map[string]int32
	userVec, itemVec []float64
	// the rating head: predicted rating = ratingA + ratingB·cos
	ratingA, ratingB float64
	// spec is the dataset spec the model was trained on, nil for the
	// lab's built-in one (see Spec).
	spec *dataset.Spec
}

// Spec returns the dataset spec the model was trained on and its hash
// (dataset.Hash), or nil and "" for a model of the lab's built-in dataset.
// Its users and items have the spec's features (EmbedUserFeatures); a
// model of the built-in dataset takes UserFeatures and ItemFeatures.
func (m *Model) Spec() (*dataset.Spec, string) {
	if m.spec == nil {
		return nil, ""
	}
	return m.spec, dataset.Hash(m.spec)
}

// EmbedKnownUserFeatures is EmbedKnownUser for a user of a spec dataset:
// f in the order of the spec's user features (see Features). An id the
// model has no vector for gets the tower's embedding alone.
func (m *Model) EmbedKnownUserFeatures(id string, f Features) []float32 {
	x := m.userEnc.encode(f.Cats, f.Nums)
	return embedWith(m.user, &x, lookup(m.userIDs, m.userVec, id, m.dim))
}

// EmbedKnownItemFeatures is EmbedKnownUserFeatures for an item.
func (m *Model) EmbedKnownItemFeatures(id string, f Features) []float32 {
	x := m.itemEnc.encode(f.Cats, f.Nums)
	return embedWith(m.item, &x, lookup(m.itemIDs, m.itemVec, id, m.dim))
}

// Dim returns the embedding dimension.
func (m *Model) Dim() int { return m.dim }

// Version returns the artifacts version the model was loaded from or saved
// as, or "" for a model that has not been saved.
func (m *Model) Version() string { return m.version }

// EmbedUser returns the user tower's embedding of f (Dim values): the
// feature path alone, as for a shopper the model has never seen. Unknown
// cities and countries are ignored; a NaN or infinite credit limit counts as
// the training mean. The result is not normalized; compare embeddings by
// cosine similarity.
func (m *Model) EmbedUser(f UserFeatures) []float32 {
	x := m.userEnc.encode(f.categorical(), f.numeric())
	return embed(m.user, &x)
}

// EmbedItem returns the item tower's embedding of f (Dim values), with the
// same conventions as EmbedUser.
func (m *Model) EmbedItem(f ItemFeatures) []float32 {
	x := m.itemEnc.encode(f.categorical(), f.numeric())
	return embed(m.item, &x)
}

// EmbedKnownUser returns the embedding of the user with this id
// (customerNumber) and features: the tower's embedding of f plus the user's
// learned id vector when the model was trained on ratings of id, the
// tower's alone otherwise. It is what user_embeddings.csv holds.
func (m *Model) EmbedKnownUser(id string, f UserFeatures) []float32 {
	x := m.userEnc.encode(f.categorical(), f.numeric())
	return embedWith(m.user, &x, lookup(m.userIDs, m.userVec, id, m.dim))
}

// EmbedKnownItem is EmbedKnownUser for a product (id = productCode).
func (m *Model) EmbedKnownItem(id string, f ItemFeatures) []float32 {
	x := m.itemEnc.encode(f.categorical(), f.numeric())
	return embedWith(m.item, &x, lookup(m.itemIDs, m.itemVec, id, m.dim))
}

// KnowsUser reports whether the model has an id vector for the user id.
func (m *Model) KnowsUser(id string) bool { _, ok := m.userIDs[id]; return ok }

// KnowsItem reports whether the model has an id vector for the item id.
func (m *Model) KnowsItem(id string) bool { _, ok := m.itemIDs[id]; return ok }

func lookup(index map[string]int32, vec []float64, id string, D int) []float64 {
	k, ok := index[id]
	if !ok {
		return nil
	}
	return vec[int(k)*D:][:D]
}

// PredictRating returns the model's rating of item i by user u, both from
// features alone, by its rating head: a + b·cos(EmbedUser(u), EmbedItem(i)),
// a and b fitted by least squares on the validation ratings, clamped to
// 1–5.
func (m *Model) PredictRating(u UserFeatures, i ItemFeatures) float64 {
	return m.rating(Cosine(m.EmbedUser(u), m.EmbedItem(i)))
}

func (m *Model) rating(c float64) float64 {
	return min(5, max(1, m.ratingA+m.ratingB*c))
}

// Cosine returns the cosine similarity of a and b (0 when either is zero),
// computed in float64.
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	b = b[:len(a)]
	for i, x := range a {
		y := float64(b[i])
		ab += float64(x) * y
		aa += float64(x) * float64(x)
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / (math.Sqrt(aa) * math.Sqrt(bb))
}

func embed(t *tower, x *input) []float32 { return embedWith(t, x, nil) }

// embedWith returns the tower's embedding of x plus id (if not nil), in
// float64, rounded to float32 at the end.
func embedWith(t *tower, x *input, id []float64) []float32 {
	var hbuf [128]float64
	var ebuf [64]float64
	h, e := hbuf[:0], ebuf[:0]
	if t.hidden <= len(hbuf) {
		h = hbuf[:t.hidden]
	} else {
		h = make([]float64, t.hidden)
	}
	if t.out <= len(ebuf) {
		e = ebuf[:t.out]
	} else {
		e = make([]float64, t.out)
	}
	t.forward(x, h, e)
	normalizeInPlace(e)
	if id != nil {
		axpy(e, 1, id)
	}
	out := make([]float32, t.out)
	for i, v := range e {
		out[i] = float32(v)
	}
	return out
}
