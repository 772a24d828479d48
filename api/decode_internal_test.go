package api

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// generalEmbedding reads {"embedding": …} as every body was read before
// the fast path: JSON checked, decoded into fields, the field read.
func generalEmbedding(data []byte) ([]float32, bool) {
	if checkJSON(data) != nil {
		return nil, false
	}
	o, ae := asObject(data, "")
	if ae != nil {
		return nil, false
	}
	v, ae := o.vector("embedding")
	return v, ae == nil
}

// embeddingBodySeeds are bodies the fast path must take, decline, or
// agree on with the general path.
var embeddingBodySeeds = []string{
	`{"embedding":[0.1,0.2]}`,
	` { "embedding" : [ -0 , 1e-7 , 2E+3, -4.5e-2 ] } ` + "\n",
	"{\"embedding\":\t[1,\r\n2]}",
	`{"embedding":[1e39]}`, `{"embedding":[-1e39]}`, `{"embedding":[1e-50]}`,
	`{"embedding":[]}`, `{"embedding":[1,]}`, `{"embedding":[,1]}`, `{"embedding":[1 2]}`,
	`{"embedding":[01]}`, `{"embedding":[1.]}`, `{"embedding":[.5]}`, `{"embedding":[+1]}`,
	`{"embedding":[1e]}`, `{"embedding":[-]}`, `{"embedding":[0x10]}`, `{"embedding":[NaN]}`,
	`{"embedding":[Infinity]}`, `{"embedding":["1"]}`, `{"embedding":[1,[2]]}`, `{"embedding":[true]}`,
	`{"embedding":"[0.1,0.2]"}`, `{"embedding":[1]}x`, `{"embedding":[1]},`, `{"embedding":[1]`,
	`{"embedding":[1],"embedding":[2]}`, `{"embedding":[1],"limit":3}`, `{"limit":3,"embedding":[1]}`,
	`{"embeddings":[1]}`, `{"Embedding":[1]}`, `{"\u0065mbedding":[1]}`, `{"embedding":null}`,
	`[{"embedding":[1]}]`, `{}`, `{`, ``, `   `,
}

// TestEmbeddingBodyAgreesWithTheGeneralPath checks the one-pass reader of
// POST /items_from_user's usual body against the general JSON path: what
// it accepts, the general path accepts with the same bits; what it
// declines goes to the general path, which gives the answer (and the
// error) it always gave. And it must accept what clients send: the body
// encoding/json writes for an embedding, whatever the numbers.
func TestEmbeddingBodyAgreesWithTheGeneralPath(t *testing.T) {
	for _, body := range embeddingBodySeeds {
		checkEmbeddingBody(t, []byte(body))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 3000 {
		v := make([]float32, 1+r.IntN(64))
		for i := range v {
			v[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(70)-35)))
		}
		if n%7 == 0 {
			v[0] = math.MaxFloat32
			v[len(v)-1] = -math.SmallestNonzeroFloat32
		}
		body, err := json.Marshal(map[string][]float32{"embedding": v})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := embeddingBody(body)
		if !ok {
			t.Fatalf("%s: the fast path declined encoding/json's own body", body)
		}
		if !slices.Equal(got, v) {
			t.Fatalf("%s: read %v, want %v", body, got, v)
		}
		checkEmbeddingBody(t, body)
	}
}

func checkEmbeddingBody(t *testing.T, body []byte) {
	t.Helper()
	fast, ok := embeddingBody(body)
	if !ok {
		return
	}
	general, gok := generalEmbedding(body)
	if !gok {
		t.Fatalf("%q: the fast path read %v, the general path rejects it", body, fast)
	}
	if len(fast) != len(general) {
		t.Fatalf("%q: fast %v, general %v", body, fast, general)
	}
	for i := range fast {
		if math.Float32bits(fast[i]) != math.Float32bits(general[i]) {
			t.Fatalf("%q: component %d: fast %v, general %v", body, i, fast[i], general[i])
		}
	}
}

// FuzzEmbeddingBody: whatever the body, the fast path accepts only what
// the general path accepts, with the same vector.
func FuzzEmbeddingBody(f *testing.F) {
	for _, s := range embeddingBodySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkEmbeddingBody(t, []byte(body)) })
}
