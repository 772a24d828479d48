// Package shopper simulates the shop's live traffic: shoppers browsing the
// classicmodels catalog, producing the lab's stream records.
//
//	sim, _ := shopper.New(shopper.Config{Seed: 1})
//	ev := sim.Next() // ev.Key: the session id; ev.Data: the JSON record
//
// Each simulated session belongs to a real classicmodels customer (number,
// city, country and credit limit from package sample) or, for a share of
// them, to a shopper the shop has never seen. A session browses 1 to 6
// real products, mostly from one favourite product line, and puts items into
// and out of its cart; every step is one event carrying the session's whole
// browse history, as the lab's records do:
//
//	{"session_id":"2f6c…","customer_number":141,"city":"Madrid","country":"Spain",
//	 "credit_limit":227600,"browse_history":[
//	  {"product_code":"S18_3232","quantity":"2","in_shopping_cart":true},
//	  {"product_code":"S10_1949","quantity":1,"in_shopping_cart":false}]}
//
// Quantities come as strings or as numbers, like the lab's. Sessions
// interleave (Config.Sessions at a time), and their events are keyed by
// session id, so a partitioned stream keeps each session's events in order.
// The same Seed gives the same events.
//
// Another shop's traffic follows its dataset spec: ReadShop reads the
// spec's users (ids and the user features its stream section maps) and
// items from the shop's database, and a Simulator with Config.Shop writes
// each event in the spec's stream fields (Format), as event.Mapping reads
// them; for the movie shop of docs/DATASET_SPEC.md:
//
//	{"session":"5dd6…","user":"3f2a-ana","country":"Portugal","age":34,
//	 "viewed":[{"movie":2,"copies":2},{"movie":1,"copies":"1"}]}
package shopper
