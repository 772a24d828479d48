package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// TestSpecModel: a model of another dataset spec (the movie shop: string
// user ids, country and age) is served by /v1 with users by id, by the
// spec's named features, or both; a multi-valued item feature is not a
// user's, so naming it, or any unknown field, or giving a value of the
// wrong type is a 400 naming the field. Items are asked by the spec's item
// ids; one the store lacks falls back to the popular items.
func TestSpecModel(t *testing.T) {
	shop, e, ts := newSpecServer(t)
	known := shop.Users[0]

	ask := func(user any) answer {
		t.Helper()
		r := ts.do(t, "POST", "/v1/recommendations", map[string]any{"user": user, "limit": 4})
		a := decode[answer](t, r)
		if r.status != 200 || len(a.Items) != 4 || a.Fallback || a.ModelVersion != recommendtest.Version {
			t.Fatalf("user %v: %s", user, r)
		}
		return a
	}
	byID := ask(map[string]any{"id": known})
	byFeatures := ask(map[string]any{"country": "FR", "age": 31})
	both := ask(map[string]any{"id": known, "country": "FR", "age": 31})
	ask(map[string]any{"id": "00000000-a762", "country": nil}) // unknown id, a feature left out
	s := e.UserSchema()
	f := s.Empty()
	country, _ := s.Lookup("country")
	age, _ := s.Lookup("age")
	s.SetText(&f, country, "FR")
	s.SetNumber(&f, age, 31)
	for _, c := range []struct {
		name string
		got  answer
		id   string
		f    bool
	}{{"by id", byID, known, false}, {"by features", byFeatures, "", true}, {"both", both, known, true}} {
		ff := s.Empty()
		if c.f {
			ff = f
		}
		emb, _ := e.UserEmbeddingOf(c.id, ff)
		want, err := e.ItemsForUser(context.Background(), emb, 4)
		if err != nil || !slices.EqualFunc(want.Items, c.got.Items, func(a recommend.Item, b item) bool { return a.ID == b.ID }) {
			t.Errorf("%s: %v, want %v (%v)", c.name, c.got.Items, want.Items, err)
		}
		// /user_embeddings takes the same user objects.
		u := map[string]any{}
		if c.id != "" {
			u["id"] = c.id
		}
		if c.f {
			u["country"], u["age"] = "FR", 31
		}
		r := ts.do(t, "POST", "/user_embeddings", []any{u})
		var embs []struct{ Embedding []float32 }
		if err := json.Unmarshal(r.body, &embs); err != nil || r.status != 200 || len(embs) != 1 || !slices.Equal(embs[0].Embedding, emb) {
			t.Errorf("%s: /user_embeddings %s", c.name, r)
		}
	}

	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"user":{"id":"u1","favourite":"x"}}`, "user.favourite"},
		{`{"user":{"genres":"Action"}}`, "user.genres"},
		{`{"user":{"age":"31"}}`, "user.age"},
		{`{"user":{"country":7}}`, "user.country"},
		{`{"user":{"country":["FR"]}}`, "user.country"},
		{`{"user":{"id":true}}`, "user.id"},
		{`{"user":{"id":""}}`, "user.id"},
		{`{"user":{"age":1e300}}`, "user.age"},
		{`{"user":{"city":"Nantes","country":"France","creditlimit":1}}`, "user.city"},
	} {
		r := ts.do(t, "POST", "/v1/recommendations", c.body)
		if r.status != 400 {
			t.Errorf("%s: %s", c.body, r)
			continue
		}
		if code, field, _ := r.errorOf(t); code != api.CodeInvalidField || field != c.field {
			t.Errorf("%s: code %s field %s, want %s %s", c.body, code, field, api.CodeInvalidField, c.field)
		}
	}
	r := ts.do(t, "POST", "/v1/recommendations/batch", `{"requests":[{"user":{"id":"`+known+`"}},{"user":{"age":"x"}}]}`)
	if code, field, _ := r.errorOf(t); r.status != 400 || code != api.CodeInvalidField || field != "requests[1].user.age" {
		t.Errorf("batch with a bad feature: %s", r)
	}
	r = ts.do(t, "POST", "/user_embeddings", `[{"id":"x"},{"shoe_size":42}]`)
	if code, field, _ := r.errorOf(t); r.status != 400 || code != api.CodeInvalidField || field != "[1].shoe_size" {
		t.Errorf("/user_embeddings with an unknown feature: %s", r)
	}

	item := shop.Items[0]
	r = ts.do(t, "POST", "/v1/recommendations/batch", map[string]any{"requests": []any{
		map[string]any{"user": map[string]any{"id": known}, "limit": 3},
		map[string]any{"user": map[string]any{"country": "FR", "age": 31}, "limit": 4, "similar_to": item, "similar_limit": 2},
		map[string]any{"similar_to": "999999"},
	}})
	var batch struct {
		Results []struct {
			Items        *answer `json:"items"`
			ItemsError   *struct{ Code, Field string }
			Similar      *answer
			SimilarError *struct{ Code, Field string } `json:"similar_error"`
		}
	}
	if err := json.Unmarshal(r.body, &batch); err != nil || r.status != 200 || len(batch.Results) != 3 {
		t.Fatalf("batch: %s (%v)", r, err)
	}
	b0, b1, b2 := batch.Results[0], batch.Results[1], batch.Results[2]
	if b0.Items == nil || !sameItems(b0.Items.Items, byID.Items[:3]) {
		t.Errorf("batch by id: %s", r)
	}
	if b1.Items == nil || !sameItems(b1.Items.Items, byFeatures.Items) || b1.Similar == nil || len(b1.Similar.Items) != 2 || b1.Similar.ItemID != item {
		t.Errorf("batch by features with similar: %s", r)
	}
	if b2.SimilarError == nil || b2.SimilarError.Code != api.CodeUnknownItem || b2.SimilarError.Field != "requests[2].similar_to" {
		t.Errorf("batch, unknown item: %s", r)
	}

	r = ts.do(t, "GET", "/v1/items/"+item+"/similar?limit=3", nil)
	if a := decode[answer](t, r); r.status != 200 || a.ItemID != item || len(a.Items) != 3 || a.Fallback {
		t.Errorf("similar: %s", r)
	}
	r = ts.do(t, "GET", "/items_from_item?item_id="+item+"&limit=2", nil)
	if r.status != 200 {
		t.Errorf("/items_from_item: %s", r)
	}
}

func sameItems(a, b []item) bool {
	return slices.EqualFunc(a, b, func(x, y item) bool { return x.ID == y.ID })
}

// item is the type of answer.Items' elements.
type item = struct {
	ID       string  `json:"id"`
	Score    float64 `json:"score"`
	Distance float64 `json:"distance"`
}

// newSpecServer serves recommendtest's movie shop (a model of another
// dataset spec, its store and its popular items) at the default options.
func newSpecServer(t *testing.T) (*recommendtest.Shop, *recommend.Engine, *testServer) {
	t.Helper()
	shop := recommendtest.New(t)
	pop, err := recommend.LoadPopularSpec(context.Background(), shop.Bucket, shop.Spec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := recommend.New(shop.Model, shop.Store, pop, recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return shop, e, newServer(t, e, api.Options{})
}
