package event_test

import (
	"fmt"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/event"
)

func ExampleMapping_Decode() {
	spec, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml") // the movie shop's stream: section
	if err != nil {
		panic(err)
	}
	m, err := event.NewMapping(spec)
	if err != nil {
		panic(err)
	}
	r, err := m.Decode([]byte(`{"session":"s-1","user":"u-17","country":"FR","age":31,"viewed":[{"movie":42,"copies":1}]}`))
	if err != nil {
		panic(err)
	}
	age, _ := r.Feature("age")
	it, _ := r.Pick()
	fmt.Println(r.UserID, age.Number, it.ItemID, it.Quantity)

	_, err = m.Decode([]byte(`{"session":"s-1","user":"u-17","country":"FR","age":31,"viewed":[{"movie":"42","copies":1}]}`))
	fmt.Println(err)
	// Output:
	// u-17 31 42 1
	// viewed[0].movie: "42" is not a whole number
}
