package dataset

import (
	_ "embed" // the built-in spec's YAML
)

// classicYAML is the built-in spec as a commented YAML file.
//
//go:embed classicmodels.yaml
var classicYAML []byte

// ClassicYAML returns the built-in classicmodels spec as the commented
// YAML file `recoflow spec show` prints. It parses to Classic().
func ClassicYAML() []byte { return append([]byte(nil), classicYAML...) }

// Classic returns the built-in spec: the lab's classicmodels shop. Ratings
// 1–5 of customers (city and country categorical, credit limit numeric;
// state and postal code carried along) for products (product line and
// scale categorical; stock, buy price and MSRP numeric), trained from the
// lake dataset ratings_ml_training partitioned by customerNumber, and the
// lab's shopper events. It is what every stage runs on when no spec is
// given. The result is a fresh copy, with every default filled.
func Classic() Spec {
	return Spec{
		Version: 1,
		Name:    "classicmodels",
		Interactions: Interactions{
			Table:   "ratings",
			UserKey: "customerNumber",
			ItemKey: "productCode",
			Feedback: Feedback{
				Kind:   FeedbackExplicit,
				Column: "productRating",
				Scale:  &Scale{Min: 1, Max: 5},
			},
		},
		Users: Entity{
			Table:  "customers",
			ID:     "customerNumber",
			IDType: IDInteger,
			Features: []Feature{
				{Column: "city", Kind: KindCategorical},
				{Column: "country", Kind: KindCategorical},
				{Column: "creditLimit", Kind: KindNumeric, Scaling: ScalingStandard},
			},
			Passthrough: []string{"state", "postalCode"},
		},
		Items: Entity{
			Table:  "products",
			ID:     "productCode",
			IDType: IDString,
			Features: []Feature{
				{Column: "productLine", Kind: KindCategorical},
				{Column: "productScale", Kind: KindCategorical},
				{Column: "quantityInStock", Kind: KindNumeric, Scaling: ScalingStandard},
				{Column: "buyPrice", Kind: KindNumeric, Scaling: ScalingStandard},
				{Column: "MSRP", Kind: KindNumeric, Scaling: ScalingStandard},
			},
		},
		Lake: Lake{Dataset: "ratings_ml_training", Partition: "customerNumber"},
		Stream: &Stream{
			Session: "session_id",
			UserID:  "customer_number",
			UserFeatures: map[string]string{
				"city":        "city",
				"country":     "country",
				"creditLimit": "credit_limit",
			},
			BrowsedItems: "browse_history",
			ItemID:       "product_code",
			Quantity:     "quantity",
			InCart:       "in_shopping_cart",
		},
	}
}
