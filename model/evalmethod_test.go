package model

import (
	"context"
	"testing"

	"github.com/recoflow/recoflow/eval"
)

// TestMethodUnderTheEvaluationProtocol runs the hybrid and content-only
// models through eval.Run on tasteGroups: the hybrid, which can learn the
// groups, clearly beats both the content-only model (identical features:
// no better than chance) and popularity.
func TestMethodUnderTheEvaluationProtocol(t *testing.T) {
	d := tasteGroups(t)
	if err := d.AddUser("9999", UserFeatures{City: "Nantes", Country: "France", CreditLimit: 20000}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddItem("Z99", ItemFeatures{ProductLine: "Ships", ProductScale: "1:10"}); err != nil {
		t.Fatal(err)
	}
	data, users, items := d.EvalData()
	if data.NumUsers != 81 || data.NumItems != 41 || len(users) != 81 || len(items) != 41 || len(data.Interactions) != d.Len() {
		t.Fatalf("eval data: %d users, %d items, %d interactions; ids %d and %d", data.NumUsers, data.NumItems, len(data.Interactions), len(users), len(items))
	}
	for _, x := range data.Interactions[:5] {
		if users[x.User] != d.userIDs[x.User] || x.Rating != 5 {
			t.Fatalf("interaction %+v", x)
		}
	}
	cfg := Config{Seed: 1, Epochs: 60, Patience: -1}
	content := cfg
	content.ContentOnly = true
	hybrid, co := Method(d, cfg), Method(d, content)
	if hybrid.Name() != "hybrid" || co.Name() != "content-only" {
		t.Fatalf("names %q, %q", hybrid.Name(), co.Name())
	}
	rep, err := eval.Run(context.Background(), data, []eval.Method{hybrid, co, eval.Popularity{}}, eval.Options{Seed: 1, ColdStartFraction: -1})
	if err != nil {
		t.Fatal(err)
	}
	ndcg := map[string]float64{}
	for _, r := range rep.Methods {
		ndcg[r.Method] = r.NDCGAtK
		t.Logf("%s: NDCG@10 %.4f P@10 %.4f", r.Method, r.NDCGAtK, r.PrecisionAtK)
	}
	if ndcg["hybrid"] < 1.5*ndcg["content-only"] || ndcg["hybrid"] < 1.5*ndcg["popularity"] {
		t.Errorf("hybrid NDCG@10 %.4f does not clearly beat content-only %.4f and popularity %.4f", ndcg["hybrid"], ndcg["content-only"], ndcg["popularity"])
	}
}

func TestAddCatalogEntriesGetEmbeddings(t *testing.T) {
	d := datasetOf(t, smallData(t, 3))
	nu, ni := d.NumUsers(), d.NumItems()
	if err := d.AddUser("77777", UserFeatures{City: "Oslo", Country: "Norway", CreditLimit: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddItem("NEW_1", ItemFeatures{ProductLine: "Ships", ProductScale: "1:10", QuantityInStock: 3, BuyPrice: 10, MSRP: 20}); err != nil {
		t.Fatal(err)
	}
	// A known user with the same features is fine, with others refused.
	if err := d.AddUser(d.userIDs[0], d.users[0].labUser()); err != nil {
		t.Errorf("re-adding a known user: %v", err)
	}
	if err := d.AddUser(d.userIDs[0], UserFeatures{City: "Elsewhere"}); err == nil {
		t.Error("a known user with other features was accepted")
	}
	if d.NumUsers() != nu+1 || d.NumItems() != ni+1 {
		t.Fatalf("%d users, %d items; want %d, %d", d.NumUsers(), d.NumItems(), nu+1, ni+1)
	}
	res, err := Train(context.Background(), d, Config{Seed: 1, Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if m.KnowsUser("77777") || m.KnowsItem("NEW_1") || !m.KnowsUser(d.userIDs[1]) {
		t.Error("id vectors: want them for rated users and items only")
	}
	b := newMemBucket()
	if err := res.Save(context.Background(), b, "v1"); err != nil {
		t.Fatal(err)
	}
	users := readEmbeddings(t, b, Key("v1", UserEmbeddingsFile))
	items := readEmbeddings(t, b, Key("v1", ItemEmbeddingsFile))
	if len(users) != nu+1 || len(items) != ni+1 {
		t.Fatalf("published %d users and %d items, want %d and %d", len(users), len(items), nu+1, ni+1)
	}
	if got, want := users["77777"], m.EmbedUser(UserFeatures{City: "Oslo", Country: "Norway", CreditLimit: 1000}); !sameBits(got, want) {
		t.Errorf("unrated customer: published %v, feature embedding %v", got, want)
	}
}
