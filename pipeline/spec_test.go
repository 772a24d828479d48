package pipeline_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/recommend/recommendtest"
	"github.com/recoflow/recoflow/stream"
)

// TestTransformSpecModel: with a model of the movie shop's spec, every
// user feature the stream's mapping carries (country, age) and the user's
// id reach the engine: each record's recommended_items are the engine's
// items for that user's id and features, and the browsed movie's similar
// items are its neighbours in the store. The same events transformed again
// (answers cached) give the same bytes. Without a mapping, the model's spec
// maps the events. A mapping that carries a feature
// the model lacks is refused.
func TestTransformSpecModel(t *testing.T) {
	shop := recommendtest.New(t)
	e, err := recommend.New(shop.Model, shop.Store, nil, recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := event.NewMapping(shop.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.UserFeatures(); !slices.Equal(got, []string{"country", "age"}) {
		t.Fatalf("mapped user features %v", got)
	}
	tr, err := pipeline.NewTransformer(e, pipeline.TransformOptions{Mapping: m, K: 4, SimilarK: 3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	known, item := shop.Users[1], shop.Items[2]
	c1, c2 := shop.Countries[0], shop.Countries[1]
	users := []struct {
		id, country string
		age         float64
	}{{known, c1, 31}, {known, c2, 31}, {known, c1, 70}, {"00000000-a762", c1, 31}}
	var msgs []stream.Message
	for i, u := range users {
		ev, _ := json.Marshal(map[string]any{"session": "s", "user": u.id, "country": u.country, "age": u.age,
			"viewed": []any{map[string]any{"movie": json.Number(item), "copies": 1}}})
		msgs = append(msgs, stream.Message{ID: string(rune('a' + i)), Data: ev})
	}
	ctx := context.Background()
	recs, errs, err := tr.Transform(ctx, msgs)
	if err != nil || len(errs) != 0 || len(recs) != len(msgs) {
		t.Fatalf("transform: %v, %d records, errors %+v", err, len(recs), errs)
	}
	s := e.UserSchema()
	country, _ := s.Lookup("country")
	age, _ := s.Lookup("age")
	distinct := map[string]bool{}
	for i, u := range users {
		var out struct {
			Recommended []struct{ ID string } `json:"recommended_items"`
			Similar     struct {
				ProductCode string                `json:"product_code"`
				Items       []struct{ ID string } `json:"similar_items"`
			} `json:"similar_items"`
		}
		if err := json.Unmarshal(recs[i].Data, &out); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, recs[i].Data)
		}
		f := s.Empty()
		s.SetText(&f, country, u.country)
		s.SetNumber(&f, age, u.age)
		emb, _ := e.UserEmbeddingOf(u.id, f)
		want, err := e.ItemsForUser(ctx, emb, 4)
		if err != nil {
			t.Fatal(err)
		}
		var got, wantIDs []string
		for _, it := range out.Recommended {
			got = append(got, it.ID)
		}
		for _, it := range want.Items {
			wantIDs = append(wantIDs, it.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("user %+v: recommended %v, want %v", u, got, wantIDs)
		}
		distinct[strings.Join(got, ",")+"/"+emb32(emb)] = true
		sim, err := e.SimilarItems(ctx, item, 3)
		if err != nil || out.Similar.ProductCode != item || len(out.Similar.Items) != 3 || out.Similar.Items[0].ID != sim.Items[0].ID {
			t.Errorf("user %+v: similar %+v, want %v (%v)", u, out.Similar, sim.Items, err)
		}
	}
	if len(distinct) != len(users) {
		t.Errorf("%d distinct embeddings for %d users differing in id, country or age", len(distinct), len(users))
	}
	again, _, err := tr.Transform(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if string(again[i].Data) != string(recs[i].Data) {
			t.Errorf("record %d again:\n%s\nfirst:\n%s", i, again[i].Data, recs[i].Data)
		}
	}

	// Without a mapping, the model's spec maps the events (the Lambda's
	// transformer): the same record.
	def, err := pipeline.NewTransformer(e, pipeline.TransformOptions{K: 4, SimilarK: 3})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := def.TransformOne(ctx, "a", msgs[0].Data); err != nil || string(out) != string(recs[0].Data) {
		t.Errorf("default mapping: %v\n%s\nwant\n%s", err, out, recs[0].Data)
	}

	// A mapping of the lab's events maps city, country and creditLimit:
	// the movie shop's model has no city.
	if _, err := pipeline.NewTransformer(e, pipeline.TransformOptions{Mapping: event.LabMapping()}); err == nil || !strings.Contains(err.Error(), `"city"`) {
		t.Errorf("lab mapping on the movie shop's model: %v", err)
	}
}

func emb32(v []float32) string {
	b, _ := json.Marshal(v)
	return string(b)
}
