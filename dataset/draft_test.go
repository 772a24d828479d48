package dataset_test

import (
	"context"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
)

func draft(t *testing.T, db *source.DB) *dataset.Draft {
	t.Helper()
	ctx := context.Background()
	cat, err := db.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dataset.DraftFrom(&cat)
	if err != nil {
		t.Fatal(err)
	}
	// The draft is a valid spec file that checks against its source.
	text, err := d.YAML()
	if err != nil {
		t.Fatal(err)
	}
	s, err := dataset.Parse(text, "draft.yaml")
	if err != nil {
		t.Fatalf("the draft does not parse: %v\n%s", err, text)
	}
	if err := dataset.Check(ctx, db, s); err != nil {
		t.Fatalf("the draft does not check against its source: %v\n%s", err, text)
	}
	return d
}

func features(e dataset.Entity) map[string]dataset.Feature {
	m := map[string]dataset.Feature{}
	for _, f := range e.Features {
		m[f.Column] = f
	}
	return m
}

// On the sample, the draft finds the lab's ratings among the tables that
// join two others (orderdetails too), customers as users and products as
// items, the rating as explicit feedback, and the lab's features among
// its guesses.
func TestDraftSample(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			d := draft(t, seedtest.Classicmodels(t, b))
			s := d.Spec
			in := s.Interactions
			if in.Table != "ratings" || in.UserKey != "customerNumber" || in.ItemKey != "productCode" {
				t.Errorf("interactions = %+v", in)
			}
			if fb := in.Feedback; fb.Kind != dataset.FeedbackExplicit || fb.Column != "productRating" || fb.Scale == nil || *fb.Scale != (dataset.Scale{Min: 1, Max: 5}) {
				t.Errorf("feedback = %+v", fb)
			}
			if s.Users.Table != "customers" || s.Users.ID != "customerNumber" || s.Users.IDType != dataset.IDInteger {
				t.Errorf("users = %+v", s.Users)
			}
			if s.Items.Table != "products" || s.Items.ID != "productCode" || s.Items.IDType != dataset.IDString {
				t.Errorf("items = %+v", s.Items)
			}
			uf, itf := features(s.Users), features(s.Items)
			for col, kind := range map[string]string{"city": "categorical", "country": "categorical", "creditLimit": "numeric"} {
				if uf[col].Kind != kind {
					t.Errorf("users feature %s = %+v, want kind %s", col, uf[col], kind)
				}
			}
			for col, kind := range map[string]string{"productLine": "categorical", "productScale": "categorical",
				"quantityInStock": "numeric", "buyPrice": "numeric", "MSRP": "numeric"} {
				if itf[col].Kind != kind {
					t.Errorf("items feature %s = %+v, want kind %s", col, itf[col], kind)
				}
			}
			for _, col := range []string{"customerName", "phone", "salesRepEmployeeNumber"} {
				if _, ok := uf[col]; ok {
					t.Errorf("users feature %s drafted; names, contact details and keys are left out", col)
				}
			}
			if s.Lake.Dataset != "ratings_ml_training" || s.Lake.Partition != "customerNumber" {
				t.Errorf("lake = %+v", s.Lake)
			}
			if s.Stream.UserID != "customer_number" || s.Stream.ItemID != "product_code" || s.Stream.UserFeatures["creditLimit"] != "credit_limit" {
				t.Errorf("stream = %+v", s.Stream)
			}
		})
	}
}

// On the movie shop the draft finds "order" (a reserved word) between
// "shop users" (string ids) and movies (integer ids), quantity feedback
// with its date, genres as multi-valued, the overview as text.
func TestDraftShop(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			d := draft(t, datasettest.Shop(t, b))
			s := d.Spec
			in := s.Interactions
			if in.Table != "order" || in.UserKey != "user_id" || in.ItemKey != "movie_id" || in.Timestamp != "ordered_at" {
				t.Errorf("interactions = %+v", in)
			}
			if fb := in.Feedback; fb.Kind != dataset.FeedbackQuantity || fb.Column != "quantity" {
				t.Errorf("feedback = %+v", fb)
			}
			if s.Users.Table != "shop users" || s.Users.IDType != dataset.IDString || s.Items.Table != "movies" || s.Items.IDType != dataset.IDInteger {
				t.Errorf("users %+v, items %+v", s.Users, s.Items)
			}
			itf := features(s.Items)
			if f := itf["genres"]; f.Kind != dataset.KindMultiCategorical || f.Delimiter != "|" {
				t.Errorf("genres = %+v", f)
			}
			if f := itf["overview"]; f.Kind != dataset.KindText {
				t.Errorf("overview = %+v", f)
			}
			if f := itf["price"]; f.Kind != dataset.KindNumeric {
				t.Errorf("price = %+v", f)
			}
			if _, ok := itf["title"]; ok {
				t.Errorf("title drafted as a feature")
			}
			if f := features(s.Users)["country"]; f.Kind != dataset.KindCategorical {
				t.Errorf("country = %+v", f)
			}
			if s.Lake.Dataset != "order_ml_training" || s.Lake.Partition != "user_id" {
				t.Errorf("lake = %+v", s.Lake)
			}
		})
	}
}

func TestDraftNoInteractions(t *testing.T) {
	cat := source.Catalog{Tables: []source.TableInfo{{Name: "t", Columns: []source.ColumnInfo{{Name: "a", Class: source.ClassInteger}}, PrimaryKey: []string{"a"}}}}
	if _, err := dataset.DraftFrom(&cat); err == nil {
		t.Fatal("a draft from a schema without interactions")
	}
}
