package shopper_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/sample"
	"github.com/recoflow/recoflow/shopper"
)

func TestEventsAreLabRecords(t *testing.T) {
	sim, err := shopper.New(shopper.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	products, _ := sample.Products()
	codes := map[string]bool{}
	for _, p := range products {
		codes[p.Code] = true
	}
	customers, _ := sample.Customers()
	known := map[int64]bool{}
	for _, c := range customers {
		known[int64(c.Number)] = true
	}

	const n = 5000
	var stringQ, numberQ, inCart, outCart, unknown int
	lengths := map[int]int{}
	perSession := map[string]int{}
	lastLen := map[string]int{}
	for range n {
		ev := sim.Next()
		e, err := event.Decode(ev.Data)
		if err != nil {
			t.Fatalf("%s: %v", ev.Data, err)
		}
		if ev.Key != e.SessionID {
			t.Fatalf("key %q is not the session id %q", ev.Key, e.SessionID)
		}
		if len(e.BrowseHistory) < 1 || len(e.BrowseHistory) > 6 {
			t.Fatalf("history of %d items", len(e.BrowseHistory))
		}
		if len(e.BrowseHistory) < lastLen[e.SessionID] {
			t.Fatalf("session %s's history shrank", e.SessionID)
		}
		lastLen[e.SessionID] = len(e.BrowseHistory)
		lengths[len(e.BrowseHistory)]++
		perSession[e.SessionID]++
		if !known[e.CustomerNumber] {
			unknown++
			if e.CustomerNumber < 10000 {
				t.Fatalf("new shopper numbered %d, among the shop's customers' range", e.CustomerNumber)
			}
		}
		var raw struct {
			History []struct {
				Quantity json.RawMessage `json:"quantity"`
			} `json:"browse_history"`
		}
		if err := json.Unmarshal(ev.Data, &raw); err != nil {
			t.Fatal(err)
		}
		for i, it := range e.BrowseHistory {
			if !codes[it.ProductCode] {
				t.Fatalf("product %q is not in the catalog", it.ProductCode)
			}
			if it.InShoppingCart {
				inCart++
			} else {
				outCart++
			}
			if bytes.HasPrefix(raw.History[i].Quantity, []byte(`"`)) {
				stringQ++
			} else {
				numberQ++
			}
		}
	}
	st := sim.Stats()
	if st.Events != n || st.NewShoppers == 0 || st.Sessions < 100 || unknown == 0 {
		t.Errorf("stats %+v, %d events by unknown shoppers", st, unknown)
	}
	if stringQ == 0 || numberQ == 0 || inCart == 0 || outCart == 0 {
		t.Errorf("quantities: %d strings, %d numbers; items: %d in the cart, %d out", stringQ, numberQ, inCart, outCart)
	}
	for l := 1; l <= 6; l++ {
		if lengths[l] == 0 {
			t.Errorf("no history of %d items: %v", l, lengths)
		}
	}
	multi := 0
	for _, c := range perSession {
		if c > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("no session produced more than one event")
	}
}

func TestDeterministic(t *testing.T) {
	gen := func(seed uint64) string {
		sim, err := shopper.New(shopper.Config{Seed: seed, Sessions: 5})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for range 200 {
			ev := sim.Next()
			fmt.Fprintf(&b, "%s %s\n", ev.Key, ev.Data)
		}
		return b.String()
	}
	if gen(3) != gen(3) {
		t.Error("the same seed gave different events")
	}
	if gen(3) == gen(4) {
		t.Error("different seeds gave the same events")
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []shopper.Config{{Sessions: -1}, {NewShopperShare: 2}, {MaxItems: -3}, {StringQuantityShare: 1.5}} {
		if _, err := shopper.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	sim, err := shopper.New(shopper.Config{Seed: 1, NewShopperShare: -1, StringQuantityShare: -1, MaxItems: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		e, err := event.Decode(sim.Next().Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.BrowseHistory) != 1 || e.CustomerNumber >= 10000 {
			t.Fatalf("with MaxItems 1 and no new shoppers: %+v", e)
		}
	}
}

func ExampleSimulator_Next() {
	sim, err := shopper.New(shopper.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	ev := sim.Next()
	e, err := event.Decode(ev.Data)
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.Key == e.SessionID, len(e.BrowseHistory))
	// Output: true 1
}
