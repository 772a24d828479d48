package api_test

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"testing"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// itemsCase is one body of POST /v1/items/similar that must be a 400 of
// code naming field.
type itemsCase struct {
	body, code, field string
}

// checkItemErrors posts each body and checks the error.
func checkItemErrors(t *testing.T, ts *testServer, cases []itemsCase) {
	t.Helper()
	for _, c := range cases {
		r := ts.do(t, "POST", "/v1/items/similar", c.body)
		if r.status != 400 {
			t.Errorf("%s: %s", c.body, r)
			continue
		}
		if code, field, _ := r.errorOf(t); code != c.code || field != c.field {
			t.Errorf("%s: code %s field %s, want %s %s", c.body, code, field, c.code, c.field)
		}
	}
}

// sameAs checks that a decoded answer has the engine answer's items, in
// order.
func sameAs(t *testing.T, name string, got answer, want recommend.Answer) {
	t.Helper()
	if len(got.Items) != len(want.Items) {
		t.Fatalf("%s: %d items, want %d", name, len(got.Items), len(want.Items))
	}
	for i, it := range want.Items {
		if got.Items[i].ID != it.ID || got.Items[i].Score != it.Score {
			t.Errorf("%s: item %d = %+v, want %+v", name, i, got.Items[i], it)
		}
	}
}

// TestSpecItemsByFeatures: POST /v1/items/similar takes a spec model's
// item by its named features (a multi-categorical one as a list or as
// delimited text) and answers the items nearest the item tower's
// embedding of them; an id the store holds is answered byte for byte as
// GET /v1/items/{id}/similar; an unknown field or a value of the wrong
// type is a 400 naming it.
func TestSpecItemsByFeatures(t *testing.T) {
	shop, e, ts := newSpecServer(t)

	s := e.ItemSchema()
	f := s.Empty()
	genres, _ := s.Lookup("genres")
	year, _ := s.Lookup("release_year")
	price, _ := s.Lookup("price")
	if err := s.SetList(&f, genres, []string{"Action", "Comedy"}); err != nil {
		t.Fatal(err)
	}
	s.SetNumber(&f, year, 1999)
	s.SetNumber(&f, price, 9.5)
	emb, err := e.ItemEmbeddingOf("", f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.ItemsForUser(context.Background(), emb, 5)
	if err != nil || want.Fallback {
		t.Fatalf("engine: %+v %v", want, err)
	}

	for name, item := range map[string]map[string]any{
		"genres as a list":   {"genres": []string{"Action", "Comedy"}, "release_year": 1999, "price": 9.5},
		"genres as text":     {"genres": "Action|Comedy", "release_year": 1999, "price": 9.5, "overview": nil},
		"an id not in store": {"id": "999999", "genres": []string{"Action", "Comedy"}, "release_year": 1999, "price": 9.5},
	} {
		r := ts.do(t, "POST", "/v1/items/similar", map[string]any{"item": item, "limit": 5})
		a := decode[answer](t, r)
		if r.status != 200 || a.Fallback || a.ModelVersion != recommendtest.Version {
			t.Fatalf("%s: %s", name, r)
		}
		sameAs(t, name, a, want)
	}

	// exclude skips items, and nothing else is skipped.
	r := ts.do(t, "POST", "/v1/items/similar", map[string]any{
		"item": map[string]any{"genres": []string{"Action", "Comedy"}, "release_year": 1999, "price": 9.5}, "limit": 4, "exclude": []string{want.Items[0].ID}})
	a := decode[answer](t, r)
	if r.status != 200 || len(a.Items) != 4 || a.Items[0].ID != want.Items[1].ID {
		t.Errorf("exclude: %s", r)
	}

	// A known id: the same body as GET /v1/items/{id}/similar.
	item := shop.Items[0]
	get := ts.do(t, "GET", "/v1/items/"+item+"/similar?limit=3", nil)
	post := ts.do(t, "POST", "/v1/items/similar", map[string]any{"item": map[string]any{"id": item, "price": 1}, "limit": 3})
	if get.status != 200 || post.status != 200 || !bytes.Equal(get.body, post.body) {
		t.Errorf("by id:\nGET  %s\nPOST %s", get, post)
	}
	if n, err := strconv.Atoi(item); err == nil { // the shop's movie ids are integers
		num := ts.do(t, "POST", "/v1/items/similar", `{"item":{"id":`+strconv.Itoa(n)+`},"limit":3}`)
		if num.status != 200 || !bytes.Equal(get.body, num.body) {
			t.Errorf("by a numeric id: %s", num)
		}
	}

	r = ts.do(t, "POST", "/v1/items/similar", `{"item":{"id":"999999"}}`)
	if code, field, _ := r.errorOf(t); r.status != 404 || code != api.CodeUnknownItem || field != "item" {
		t.Errorf("an unknown id without features: %s", r)
	}

	checkItemErrors(t, ts, []itemsCase{
		{`{"item":{"shoe_size":42}}`, api.CodeInvalidField, "item.shoe_size"},
		{`{"item":{"country":"FR"}}`, api.CodeInvalidField, "item.country"},
		{`{"item":{"price":"9.5"}}`, api.CodeInvalidField, "item.price"},
		{`{"item":{"genres":7}}`, api.CodeInvalidField, "item.genres"},
		{`{"item":{"genres":["Action|Comedy"]}}`, api.CodeInvalidField, "item.genres"},
		{`{"item":{"overview":["a"]}}`, api.CodeInvalidField, "item.overview"},
		{`{"item":{"id":true}}`, api.CodeInvalidField, "item.id"},
		{`{"item":[]}`, api.CodeInvalidField, "item"},
		{`{"item":{},"limit":0}`, api.CodeInvalidField, "limit"},
		{`{"limit":3}`, api.CodeMissingField, "item"},
	})
}

// TestLabItemsByFeatures: for a model of the lab's dataset,
// POST /v1/items/similar takes the lab's item features by their JSON
// names (model.ItemFeatures), a missing number counting as the training
// mean; a productCode in the store is answered as GET
// /v1/items/{id}/similar.
func TestLabItemsByFeatures(t *testing.T) {
	f := getFixture(t)
	e := f.engine(t, nil, recommend.Options{})
	ts := newServer(t, e, api.Options{})

	feat := model.ItemFeatures{ProductLine: "Classic Cars", ProductScale: "1:18", QuantityInStock: math.NaN(), BuyPrice: 50, MSRP: 95}
	want, err := e.ItemsForUser(context.Background(), f.model.EmbedItem(feat), 5)
	if err != nil || want.Fallback {
		t.Fatalf("engine: %+v %v", want, err)
	}
	r := ts.do(t, "POST", "/v1/items/similar", map[string]any{
		"item": map[string]any{"productLine": "Classic Cars", "productScale": "1:18", "buyPrice": 50, "MSRP": 95}, "limit": 5})
	a := decode[answer](t, r)
	if r.status != 200 || a.Fallback || a.ItemID != "" || a.ModelVersion != version {
		t.Fatalf("by features: %s", r)
	}
	sameAs(t, "by features", a, want)

	code := f.products[3]
	get := ts.do(t, "GET", "/v1/items/"+code+"/similar?limit=3&exclude="+f.products[4], nil)
	post := ts.do(t, "POST", "/v1/items/similar", map[string]any{"item": map[string]any{"id": code}, "limit": 3, "exclude": []string{f.products[4]}})
	if get.status != 200 || post.status != 200 || !bytes.Equal(get.body, post.body) {
		t.Errorf("by id:\nGET  %s\nPOST %s", get, post)
	}

	checkItemErrors(t, ts, []itemsCase{
		{`{"item":{"productName":"1952 Alpine Renault 1300"}}`, api.CodeInvalidField, "item.productName"},
		{`{"item":{"productline":"Classic Cars"}}`, api.CodeInvalidField, "item.productline"},
		{`{"item":{"productLine":5}}`, api.CodeInvalidField, "item.productLine"},
		{`{"item":{"MSRP":"95"}}`, api.CodeInvalidField, "item.MSRP"},
	})
}
