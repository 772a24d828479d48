package event_test

import (
	"errors"
	"fmt"

	"github.com/recoflow/recoflow/event"
)

func ExampleDecode() {
	e, err := event.Decode([]byte(`{"session_id":"45ba9939","customer_number":478,"city":"Pasadena",
		"country":"USA","credit_limit":59811,"browse_history":[
		{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true},
		{"product_code":"S10_1678","quantity":2,"in_shopping_cart":false}]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(e.CustomerNumber, e.City, e.BrowseHistory[0].Quantity, e.BrowseHistory[1].Quantity)

	_, err = event.Decode([]byte(`{"session_id":"s","customer_number":1,"city":"c","country":"d",
		"credit_limit":0,"browse_history":[{"product_code":"S10_1678","quantity":"7x","in_shopping_cart":true}]}`))
	var bad *event.Error
	fmt.Println(errors.As(err, &bad), bad.Field)
	fmt.Println(err)
	// Output:
	// 478 Pasadena 7 2
	// true browse_history[0].quantity
	// browse_history[0].quantity: "7x" is not a whole number
}

func ExamplePick() {
	e, _ := event.Decode([]byte(`{"session_id":"s","customer_number":1,"city":"c","country":"d","credit_limit":0,
		"browse_history":[{"product_code":"A","quantity":1,"in_shopping_cart":true},
		{"product_code":"B","quantity":1,"in_shopping_cart":false}]}`))
	item, _ := event.Pick(e) // the most recent item in the cart wins over later browsing
	fmt.Println(item.ProductCode)
	// Output: A
}

func ExampleEvent_AppendWith() {
	e, _ := event.Decode([]byte(`{"session_id":"s","customer_number":1,"city":"c","country":"d","credit_limit":0,"browse_history":[]}`))
	out := e.AppendWith(nil, event.Member{Name: event.FieldRecommendedItems, Value: []byte(`[{"id":"S10_1678","score":0.93}]`)})
	fmt.Println(string(out))
	// Output: {"session_id":"s","customer_number":1,"city":"c","country":"d","credit_limit":0,"browse_history":[],"recommended_items":[{"id":"S10_1678","score":0.93}]}
}
