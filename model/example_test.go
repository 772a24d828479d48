package model_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/recoflow/recoflow/model"
)

// Train a model on a few ratings, then embed a shopper the data has never
// seen.
func Example() {
	d := model.NewDataset()
	cities := []struct{ city, country string }{{"Nantes", "France"}, {"Las Vegas", "USA"}, {"Madrid", "Spain"}}
	lines := []string{"Motorcycles", "Classic Cars", "Ships"}
	for u := range 30 {
		c := cities[u%3]
		for i := range 6 {
			err := d.Add(model.Rating{
				UserID: strconv.Itoa(100 + u),
				User:   model.UserFeatures{City: c.city, Country: c.country, CreditLimit: float64(20000 + 1000*u)},
				ItemID: "S10_" + strconv.Itoa(i),
				Item:   model.ItemFeatures{ProductLine: lines[i%3], ProductScale: "1:10", QuantityInStock: float64(100 * i), BuyPrice: 40, MSRP: 80},
				Value:  float64(1 + (u+i)%3*2), // 1, 3 or 5
			})
			if err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	res, err := model.Train(context.Background(), d, model.Config{Seed: 1, Epochs: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := res.Model
	u := m.EmbedUser(model.UserFeatures{City: "Tokyo", Country: "Japan", CreditLimit: 50000})
	i := m.EmbedItem(model.ItemFeatures{ProductLine: "ships ", ProductScale: "1:10", QuantityInStock: 10, BuyPrice: 40, MSRP: 80})
	fmt.Println(len(u), len(i))
	p := 3 + 2*model.Cosine(u, i)
	fmt.Println(p >= 1 && p <= 5)
	// Output:
	// 32 32
	// true
}
