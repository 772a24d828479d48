package model

import (
	"math"
)

// Model is a trained two-tower model: the user and item encoders and
// towers. It embeds any user or item from its features, including ones it
// never saw in training. A Model is immutable and safe for concurrent use.
type Model struct {
	version    string
	dim        int
	userEnc    *encoder
	itemEnc    *encoder
	user, item *tower
}

// Dim returns the embedding dimension.
func (m *Model) Dim() int { return m.dim }

// Version returns the artifacts version the model was loaded from or saved
// as, or "" for a model that has not been saved.
func (m *Model) Version() string { return m.version }

// EmbedUser returns the user tower's embedding of f (Dim values). Unknown
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

// PredictRating returns the model's rating of item i by user u on the 1–5
// scale: 3 + 2·cos(EmbedUser(u), EmbedItem(i)).
func (m *Model) PredictRating(u UserFeatures, i ItemFeatures) float64 {
	return 3 + 2*Cosine(m.EmbedUser(u), m.EmbedItem(i))
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

func embed(t *tower, x *input) []float32 {
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
	out := make([]float32, t.out)
	for i, v := range e {
		out[i] = float32(v)
	}
	return out
}
