package model

import (
	"strconv"
	"testing"

	"github.com/recoflow/recoflow/sample"
)

// classicDataset joins the lab's real ratings with the customers and
// products of the classicmodels sample (package sample), as the ETL does,
// values as they are (trailing spaces included).
func classicDataset(t testing.TB) *Dataset {
	t.Helper()
	customers, err := sample.Customers()
	if err != nil {
		t.Fatal(err)
	}
	products, err := sample.Products()
	if err != nil {
		t.Fatal(err)
	}
	ratings, err := sample.Ratings()
	if err != nil {
		t.Fatal(err)
	}
	users := map[int]UserFeatures{}
	for _, c := range customers {
		users[c.Number] = UserFeatures{City: c.City, Country: c.Country, CreditLimit: c.CreditLimit}
	}
	items := map[string]ItemFeatures{}
	for _, p := range products {
		items[p.Code] = ItemFeatures{ProductLine: p.Line, ProductScale: p.Scale,
			QuantityInStock: float64(p.QuantityInStock), BuyPrice: p.BuyPrice, MSRP: p.MSRP}
	}
	d := NewDataset()
	for _, r := range ratings {
		u, ok1 := users[r.CustomerNumber]
		it, ok2 := items[r.ProductCode]
		if !ok1 || !ok2 {
			t.Fatalf("rating %+v: unknown customer or product", r)
		}
		if err := d.Add(Rating{UserID: strconv.Itoa(r.CustomerNumber), User: u, ItemID: r.ProductCode, Item: it, Value: float64(r.ProductRating)}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
