package recommend_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// TestSpecEngine: an engine on a model of another dataset spec takes the
// spec's user features by name, the user's id vector when the id is
// known, ranks the spec's lake dataset for its fallback, and answers a
// request by id, by features and by both.
func TestSpecEngine(t *testing.T) {
	shop, err := recommendtest.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	ctx := context.Background()
	shop.Store.Close() // Open opens its own
	shop.Store = nil
	e, err := recommend.Open(ctx, shop.Bucket, "file://"+shop.VectorDir, "", recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !e.IsSpecModel() {
		t.Fatal("IsSpecModel is false for the movie shop's model")
	}
	if got := e.UserSchema().Names(); !slices.Equal(got, []string{"country", "age"}) {
		t.Errorf("user features %v", got)
	}
	if got := e.ItemSchema().Names(); !slices.Equal(got, []string{"genres", "release_year", "price", "overview"}) {
		t.Errorf("item features %v", got)
	}
	pop := e.Popular()
	if len(pop) == 0 || !slices.Contains(shop.Items, pop[0].ProductCode) || pop[0].Score != 1 || pop[0].MeanRating != 5 {
		t.Fatalf("popular items %+v", pop[:min(3, len(pop))])
	}

	s := e.UserSchema()
	f := s.Empty()
	country, _ := s.Lookup("country")
	age, _ := s.Lookup("age")
	if err := s.SetText(&f, country, "France"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNumber(&f, age, 31); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNumber(&f, country, 3); err == nil {
		t.Error("SetNumber of a categorical feature: no error")
	}
	if err := s.SetList(&f, country, []string{"a"}); err == nil {
		t.Error("SetList of a categorical feature: no error")
	}
	known := shop.Users[0]
	want := shop.Model.EmbedKnownUserFeatures(known, f)
	got, err := e.UserEmbeddingOf(known, f)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("UserEmbeddingOf(known id) = %v, %v; want %v", got, err, want)
	}
	byFeatures, _ := e.UserEmbeddingOf("", f)
	if slices.Equal(byFeatures, want) {
		t.Error("the known id's vector is not added")
	}
	if _, err := e.UserEmbeddingOf("", model.Features{Cats: []string{"x"}}); !errors.Is(err, recommend.ErrInvalid) {
		t.Errorf("misfit features: %v", err)
	}

	// The lab's features reach a spec model by name: its country.
	lab := e.UserEmbedding(model.UserFeatures{City: "Nantes", Country: "France", CreditLimit: 1})
	fr := s.Empty()
	s.SetText(&fr, country, "France")
	if want := shop.Model.EmbedKnownUserFeatures("", fr); !slices.Equal(lab, want) {
		t.Errorf("UserEmbedding of the lab's features on a spec model: %v, want %v", lab, want)
	}

	empty := s.Empty()
	reqs := []recommend.Request{
		{UserID: known, K: 5},               // by id
		{Features: &f, K: 5},                // by features
		{UserID: known, Features: &f, K: 5}, // both
		{Features: &model.Features{}, K: 5}, // misfit
		{UserID: "nobody", Features: &empty, K: 3, SimilarTo: shop.Items[0], SimilarK: 4},
		{SimilarTo: "no-such-item", SimilarK: 2, UnknownItemFallback: true},
	}
	res := e.RecommendBatch(ctx, reqs)
	idEmb := shop.Model.EmbedKnownUserFeatures(known, s.Empty())
	for i, wantEmb := range [][]float32{idEmb, byFeatures, want} {
		r := res[i]
		if r.ItemsErr != nil || r.Items.Fallback || len(r.Items.Items) != 5 || !slices.Equal(r.Embedding, wantEmb) {
			t.Errorf("request %d: %+v", i, r)
		}
		direct, err := e.ItemsForUser(ctx, wantEmb, 5)
		if err != nil || !sameIDs(direct.Items, r.Items.Items) {
			t.Errorf("request %d: batch %v, ItemsForUser %v (%v)", i, r.Items.Items, direct.Items, err)
		}
	}
	if !errors.Is(res[3].ItemsErr, recommend.ErrInvalid) {
		t.Errorf("misfit request: %v", res[3].ItemsErr)
	}
	if r := res[4]; r.ItemsErr != nil || len(r.Items.Items) != 3 || r.SimilarErr != nil || len(r.Similar.Items) != 4 || r.Similar.Fallback {
		t.Errorf("unknown id with similar: %+v", r)
	}
	if r := res[5]; r.SimilarErr != nil || !r.Similar.Fallback || r.Similar.Reason != recommend.ReasonItemUnknown || len(r.Similar.Items) != 2 {
		t.Errorf("unknown item: %+v", r)
	}
	testSchemaMulti(t, e)
	// Asked again, the cached embeddings answer the same.
	again := e.RecommendBatch(ctx, reqs[:3])
	for i := range again {
		if !sameIDs(again[i].Items.Items, res[i].Items.Items) {
			t.Errorf("request %d again: %v, first %v", i, again[i].Items.Items, res[i].Items.Items)
		}
	}
}

func sameIDs(a, b []recommend.Item) bool {
	return slices.EqualFunc(a, b, func(x, y recommend.Item) bool { return x.ID == y.ID })
}

// TestLoadPopularSpecBuiltIn: for the built-in spec LoadPopularSpec is
// LoadPopular.
func TestLoadPopularSpecBuiltIn(t *testing.T) {
	f := getFixture(t)
	got, err := recommend.LoadPopularSpec(context.Background(), f.bucket, nil)
	if err != nil || !slices.Equal(got, f.popular) {
		t.Fatalf("LoadPopularSpec(nil) = %v, %v", len(got), err)
	}
}

// testSchemaMulti: a multi-categorical feature takes a list joined by
// its delimiter, and refuses a category holding the delimiter.
func testSchemaMulti(t *testing.T, e *recommend.Engine) {
	s := e.ItemSchema()
	genres, ok := s.Lookup("genres")
	if !ok || genres.Kind != "multi_categorical" || genres.Delimiter != "|" {
		t.Fatalf("genres: %+v", genres)
	}
	f := s.Empty()
	if err := s.SetList(&f, genres, []string{"Action", "Comedy"}); err != nil || f.Cats[0] != "Action|Comedy" {
		t.Fatalf("SetList: %v %q", err, f.Cats)
	}
	if err := s.SetList(&f, genres, []string{"Action|Comedy"}); err == nil {
		t.Error("a category holding the delimiter: no error")
	}
	if !math.IsNaN(f.Nums[0]) || len(f.Nums) != 2 || len(f.Cats) != 2 {
		t.Errorf("empty item features %v", f)
	}
}
