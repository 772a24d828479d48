package recommend_test

import (
	"context"
	"errors"
	"testing"

	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// TestSimilarToItem: an item given by features is searched by the item
// tower's embedding of them, excluding only what is asked; one given by an
// id the store holds is answered as SimilarItems; an id nobody knows,
// without features, is ErrUnknownItem; features that do not fit the item
// schema are ErrInvalid.
func TestSimilarToItem(t *testing.T) {
	shop := recommendtest.New(t)
	ctx := context.Background()
	e, err := recommend.New(shop.Model, shop.Store, nil, recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := e.ItemSchema()
	f := s.Empty()
	genres, _ := s.Lookup("genres")
	price, _ := s.Lookup("price")
	if err := s.SetList(&f, genres, []string{"Action", "Comedy"}); err != nil {
		t.Fatal(err)
	}
	s.SetNumber(&f, price, 9.5)
	emb, err := e.ItemEmbeddingOf("", f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.ItemsForUser(ctx, emb, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.SimilarToItem(ctx, "", f, 5)
	if err != nil || got.Fallback || !sameIDs(got.Items, want.Items) {
		t.Errorf("by features: %+v (%v), want %+v", got.Items, err, want.Items)
	}
	got, err = e.SimilarToItem(ctx, "", f, 4, want.Items[0].ID)
	if err != nil || !sameIDs(got.Items, want.Items[1:5]) {
		t.Errorf("by features, best excluded: %+v (%v)", got.Items, err)
	}

	item := shop.Items[0]
	byID, err := e.SimilarItems(ctx, item, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err = e.SimilarToItem(ctx, item, f, 3)
	if err != nil || !sameIDs(got.Items, byID.Items) {
		t.Errorf("by a stored id: %+v (%v), want %+v", got.Items, err, byID.Items)
	}
	if _, err := e.SimilarToItem(ctx, "999999", s.Empty(), 3); !errors.Is(err, recommend.ErrUnknownItem) {
		t.Errorf("an unknown id without features: %v", err)
	}
	if _, err := e.SimilarToItem(ctx, "", e.UserSchema().Empty(), 3); !errors.Is(err, recommend.ErrInvalid) {
		t.Errorf("user features for an item: %v", err)
	}
}
