package recommend_test

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

// Train a tiny model, put its item embeddings in an embedded vector store,
// and ask the engine for items for a shopper it has never seen, for items
// similar to a product, and again once the store is gone.
func Example() {
	ctx := context.Background()

	// A tiny shop: 30 customers in three cities, 6 products.
	d := model.NewDataset()
	cities := []struct{ city, country string }{{"Nantes", "France"}, {"Las Vegas", "USA"}, {"Madrid", "Spain"}}
	lines := []string{"Motorcycles", "Classic Cars", "Ships"}
	var ratings []struct {
		code  string
		value int
	}
	items := map[string]model.ItemFeatures{}
	for u := range 30 {
		c := cities[u%3]
		for i := range 6 {
			code := "S10_" + strconv.Itoa(i)
			items[code] = model.ItemFeatures{ProductLine: lines[i%3], ProductScale: "1:10", QuantityInStock: float64(100 * i), BuyPrice: 40, MSRP: 80}
			r := model.Rating{
				UserID: strconv.Itoa(100 + u),
				User:   model.UserFeatures{City: c.city, Country: c.country, CreditLimit: float64(20000 + 1000*u)},
				ItemID: code, Item: items[code], Value: float64(1 + (u+i)%3*2),
			}
			if err := d.Add(r); err != nil {
				fmt.Println(err)
				return
			}
			ratings = append(ratings, struct {
				code  string
				value int
			}{code, int(r.Value)})
		}
	}
	res, err := model.Train(ctx, d, model.Config{Seed: 1, Epochs: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := res.Model

	// The vector store holds every product's embedding.
	dir, _ := os.MkdirTemp("", "recommend-example-")
	defer os.RemoveAll(dir)
	store, err := local.Open(ctx, dir, local.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var entries []embedding.Entry
	for code, f := range items {
		entries = append(entries, embedding.Entry{ID: code, Vector: m.EmbedItem(f)})
	}
	if _, err := store.Load(ctx, "example", vector.FromSlice(entries), nil); err != nil {
		fmt.Println(err)
		return
	}

	// The engine, with the popular products as its fallback.
	popular := recommend.CountPopular(func(yield func(string, int) bool) {
		for _, r := range ratings {
			if !yield(r.code, r.value) {
				return
			}
		}
	})
	e, err := recommend.New(m, store, popular, recommend.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}

	u := e.UserEmbedding(model.UserFeatures{City: "Tokyo", Country: "Japan", CreditLimit: 50000})
	a, err := e.ItemsForUser(ctx, u, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("for a new shopper:", len(a.Items), "items, fallback:", a.Fallback)

	s, err := e.SimilarItems(ctx, "S10_2", 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	self := false
	for _, it := range s.Items {
		self = self || it.ID == "S10_2"
	}
	fmt.Println("similar to S10_2:", len(s.Items), "items, itself among them:", self)

	// Without its store, the engine still answers, and says so.
	store.Close()
	a, err = e.ItemsForUser(ctx, u, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("store closed:", len(a.Items), "items, fallback:", a.Fallback, a.Reason)
	// Output:
	// for a new shopper: 3 items, fallback: false
	// similar to S10_2: 5 items, itself among them: false
	// store closed: 3 items, fallback: true store_unavailable
}
