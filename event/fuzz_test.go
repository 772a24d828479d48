package event_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/recoflow/recoflow/event"
)

// FuzzDecode checks Decode against encoding/json as an oracle: whatever
// Decode accepts is valid JSON whose known fields encoding/json reads to the
// same values; whatever is valid JSON is never called invalid JSON (short of
// the depth limit); every error is an *event.Error; and the output of
// AppendWith is valid JSON again.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		labRecord,
		record("", ""),
		history(item("quantity", `"12"`), item("in_shopping_cart", `false`)),
		record("extra", `{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"}`),
		record("city", `"S\u00e3o Paulo"`),
		record("city", `"\ud800"`),
		history(item("quantity", `1e3`)),
		history(item("quantity", `-0.0`)),
		`{}`, `[]`, `null`, `"x"`, ``, `{"session_id":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := event.Decode(data)
		if err != nil {
			var fe *event.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T", err, err)
			}
			if json.Valid(data) && utf8.Valid(data) && len(data) <= event.MaxSize &&
				strings.Contains(fe.Reason, "invalid JSON") && !strings.Contains(fe.Reason, "nested") {
				t.Fatalf("Decode called valid JSON invalid: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Decode accepted invalid JSON %q", data)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatalf("encoding/json cannot read what Decode accepted: %v", err)
		}
		checkString(t, top["session_id"], e.SessionID)
		checkString(t, top["city"], e.City)
		checkString(t, top["country"], e.Country)
		var cn json.Number
		if err := json.Unmarshal(top["customer_number"], &cn); err != nil {
			t.Fatal(err)
		}
		if n, err := cn.Int64(); err == nil && n != e.CustomerNumber {
			t.Fatalf("customer_number %s decoded as %d", cn, e.CustomerNumber)
		}
		var cl float64
		if err := json.Unmarshal(top["credit_limit"], &cl); err != nil || cl != e.CreditLimit || cl < 0 {
			t.Fatalf("credit_limit %s decoded as %v (%v)", top["credit_limit"], e.CreditLimit, err)
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(top["browse_history"], &items); err != nil || len(items) != len(e.BrowseHistory) {
			t.Fatalf("browse_history %s decoded as %+v (%v)", top["browse_history"], e.BrowseHistory, err)
		}
		for i, it := range items {
			got := e.BrowseHistory[i]
			checkString(t, it["product_code"], got.ProductCode)
			var cart bool
			if err := json.Unmarshal(it["in_shopping_cart"], &cart); err != nil || cart != got.InShoppingCart {
				t.Fatalf("in_shopping_cart %s decoded as %v", it["in_shopping_cart"], got.InShoppingCart)
			}
			var q any
			if err := json.Unmarshal(it["quantity"], &q); err != nil {
				t.Fatal(err)
			}
			var want float64
			switch q := q.(type) {
			case string:
				n, err := strconv.ParseUint(q, 10, 64)
				if err != nil {
					t.Fatalf("quantity %q accepted", q)
				}
				want = float64(n)
			case float64:
				want = q
			default:
				t.Fatalf("quantity %s accepted", it["quantity"])
			}
			if want != float64(got.Quantity) || got.Quantity < 0 || got.Quantity > event.MaxQuantity || want != math.Trunc(want) {
				t.Fatalf("quantity %s decoded as %d", it["quantity"], got.Quantity)
			}
		}
		if _, ok := top[event.FieldRecommendedItems]; ok {
			t.Fatal("accepted a reserved field")
		}

		out := e.AppendWith(nil, event.Member{Name: "added", Value: []byte(`[1]`)})
		var back map[string]json.RawMessage
		if err := json.Unmarshal(out, &back); err != nil || string(back["added"]) != "[1]" || strings.ContainsAny(string(out), "\n\r") {
			t.Fatalf("AppendWith gave %q (%v)", out, err)
		}
		if _, err := event.Decode(out); err != nil {
			t.Fatalf("the extended record no longer decodes: %v", err)
		}
	})
}

func checkString(t *testing.T, raw json.RawMessage, got string) {
	t.Helper()
	var want string
	if err := json.Unmarshal(raw, &want); err != nil || want != got {
		t.Fatalf("string %s decoded as %q, encoding/json says %q (%v)", raw, got, want, err)
	}
}
