package event_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/event"
)

const labRecord = `{"session_id":"45ba9939-df9c-4ca9-a11d-2786b63983fd","customer_number":478,"city":"Pasadena",
 "country":"USA","credit_limit":59811,
 "browse_history":[{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true}]}`

func TestDecodeLabRecord(t *testing.T) {
	e, err := event.Decode([]byte(labRecord))
	if err != nil {
		t.Fatal(err)
	}
	want := event.Event{SessionID: "45ba9939-df9c-4ca9-a11d-2786b63983fd", CustomerNumber: 478, City: "Pasadena",
		Country: "USA", CreditLimit: 59811, BrowseHistory: []event.Item{{ProductCode: "S50_1514", Quantity: 7, InShoppingCart: true}}}
	got := *e
	if got.SessionID != want.SessionID || got.CustomerNumber != want.CustomerNumber || got.City != want.City ||
		got.Country != want.Country || got.CreditLimit != want.CreditLimit || !reflect.DeepEqual(got.BrowseHistory, want.BrowseHistory) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	if string(e.Raw()) != labRecord {
		t.Errorf("Raw is not the input")
	}
}

// record builds a valid record with one field replaced (or removed, when
// value is "") in the top level.
func record(field, value string) string {
	fields := []struct{ k, v string }{
		{"session_id", `"s-1"`}, {"customer_number", `103`}, {"city", `"Nantes"`}, {"country", `"France"`},
		{"credit_limit", `21000.00`},
		{"browse_history", `[{"product_code":"S10_1678","quantity":2,"in_shopping_cart":false}]`},
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	found := false
	for _, f := range fields {
		v := f.v
		if f.k == field {
			found = true
			if value == "" {
				continue
			}
			v = value
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(`"` + f.k + `":` + v)
	}
	if !found && field != "" {
		b.WriteString(`,"` + field + `":` + value)
	}
	b.WriteByte('}')
	return b.String()
}

func item(field, value string) string {
	fields := []struct{ k, v string }{{"product_code", `"S10_1678"`}, {"quantity", `1`}, {"in_shopping_cart", `true`}}
	var parts []string
	found := false
	for _, f := range fields {
		v := f.v
		if f.k == field {
			found = true
			if value == "" {
				continue
			}
			v = value
		}
		parts = append(parts, `"`+f.k+`":`+v)
	}
	if !found {
		parts = append(parts, `"`+field+`":`+value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func history(items ...string) string {
	return record("browse_history", "["+strings.Join(items, ",")+"]")
}

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(*event.Event) bool
	}{
		{"quantity as number", history(item("quantity", `7`)), func(e *event.Event) bool { return e.BrowseHistory[0].Quantity == 7 }},
		{"quantity as string", history(item("quantity", `"12"`)), func(e *event.Event) bool { return e.BrowseHistory[0].Quantity == 12 }},
		{"quantity 7.0", history(item("quantity", `7.0`)), func(e *event.Event) bool { return e.BrowseHistory[0].Quantity == 7 }},
		{"quantity 1e3", history(item("quantity", `1e3`)), func(e *event.Event) bool { return e.BrowseHistory[0].Quantity == 1000 }},
		{"quantity zero", history(item("quantity", `"0"`)), func(e *event.Event) bool { return e.BrowseHistory[0].Quantity == 0 }},
		{"quantity at the limit", history(item("quantity", `"1000000000"`)), func(e *event.Event) bool { return e.BrowseHistory[0].Quantity == event.MaxQuantity }},
		{"empty history", record("browse_history", `[ ]`), func(e *event.Event) bool { return len(e.BrowseHistory) == 0 }},
		{"unknown top-level field", record("device", `{"os":["ios",17,null,true]}`), func(e *event.Event) bool { return e.City == "Nantes" }},
		{"unknown item field", history(item("price", `95.70`)), func(e *event.Event) bool { return e.BrowseHistory[0].ProductCode == "S10_1678" }},
		{"empty city and country", record("city", `""`), func(e *event.Event) bool { return e.City == "" }},
		{"escapes", record("city", `"S\u00e3o Paulo \"SP\"\n\ud83d\ude00"`), func(e *event.Event) bool { return e.City == "São Paulo \"SP\"\n😀" }},
		{"raw UTF-8", record("city", `"Århus"`), func(e *event.Event) bool { return e.City == "Århus" }},
		{"escaped field name", strings.Replace(record("", ""), `"city"`, `"c\u0069ty"`, 1), func(e *event.Event) bool { return e.City == "Nantes" }},
		{"credit limit with cents", record("credit_limit", `123.45`), func(e *event.Event) bool { return e.CreditLimit == 123.45 }},
		{"credit limit zero", record("credit_limit", `0`), func(e *event.Event) bool { return e.CreditLimit == 0 }},
		{"customer number 0", record("customer_number", `0`), func(e *event.Event) bool { return e.CustomerNumber == 0 }},
		{"large customer number", record("customer_number", `9007199254740993`), func(e *event.Event) bool { return e.CustomerNumber == 9007199254740993 }},
		{"whitespace around", "\n\t " + record("", "") + " \r\n", func(e *event.Event) bool { return e.SessionID == "s-1" }},
		{"several items", history(item("in_shopping_cart", `false`), item("quantity", `"3"`)), func(e *event.Event) bool {
			return len(e.BrowseHistory) == 2 && !e.BrowseHistory[0].InShoppingCart && e.BrowseHistory[1].Quantity == 3
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := event.Decode([]byte(tc.in))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.in, err)
			}
			if !tc.check(e) {
				t.Errorf("Decode(%s) = %+v", tc.in, e)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	deep := record("x", strings.Repeat("[", event.MaxDepth)+strings.Repeat("]", event.MaxDepth))
	for _, tc := range []struct{ name, in, want string }{
		{"quantity not digits", history(item("quantity", `"1"`), item("quantity", `"1"`), item("quantity", `"7x"`)),
			`browse_history[2].quantity: "7x" is not a whole number`},
		{"quantity fraction", history(item("quantity", `7.5`)), `browse_history[0].quantity: 7.5 is not a whole number`},
		{"quantity negative", history(item("quantity", `-1`)), `browse_history[0].quantity: -1 is negative`},
		{"quantity negative string", history(item("quantity", `"-1"`)), `browse_history[0].quantity: "-1" is not a whole number`},
		{"quantity empty string", history(item("quantity", `""`)), `browse_history[0].quantity: "" is not a whole number`},
		{"quantity spaces", history(item("quantity", `" 7"`)), `browse_history[0].quantity: " 7" is not a whole number`},
		{"quantity too big", history(item("quantity", `1000000001`)), `browse_history[0].quantity: 1000000001 is more than 1000000000`},
		{"quantity string too big", history(item("quantity", `"99999999999999999999999"`)), `browse_history[0].quantity: "99999999999999999999999" is more than 1000000000`},
		{"quantity huge exponent", history(item("quantity", `1e400`)), `browse_history[0].quantity: 1e400 is more than 1000000000`},
		{"quantity null", history(item("quantity", `null`)), `browse_history[0].quantity: null is not a whole number or a string of digits`},
		{"quantity bool", history(item("quantity", `true`)), `browse_history[0].quantity: true is not a whole number or a string of digits`},
		{"quantity missing", history(item("quantity", ``)), `browse_history[0].quantity: missing`},
		{"quantity twice", history(`{"product_code":"A","quantity":1,"quantity":2,"in_shopping_cart":true}`), `browse_history[0].quantity: given twice`},
		{"cart as string", history(item("in_shopping_cart", `"true"`)), `browse_history[0].in_shopping_cart: "true" is not true or false`},
		{"cart missing", history(item("in_shopping_cart", ``)), `browse_history[0].in_shopping_cart: missing`},
		{"product code empty", history(item("product_code", `""`)), `browse_history[0].product_code: is empty`},
		{"product code number", history(item("product_code", `1678`)), `browse_history[0].product_code: 1678 is not a string`},
		{"item not an object", history(`"S10_1678"`), `browse_history[0]: "S10_1678" is not an object`},
		{"history not an array", record("browse_history", `{"a":1}`), `browse_history: an object is not an array`},
		{"history null", record("browse_history", `null`), `browse_history: null is not an array`},
		{"session id missing", record("session_id", ``), `session_id: missing`},
		{"session id empty", record("session_id", `""`), `session_id: is empty`},
		{"session id number", record("session_id", `12`), `session_id: 12 is not a string`},
		{"customer number string", record("customer_number", `"478"`), `customer_number: "478" is not a whole number`},
		{"customer number fraction", record("customer_number", `4.5`), `customer_number: 4.5 is not a whole number`},
		{"customer number negative", record("customer_number", `-3`), `customer_number: -3 is negative`},
		{"customer number huge", record("customer_number", `1e19`), `customer_number: 1e19 is more than 9223372036854775807`},
		{"city null", record("city", `null`), `city: null is not a string`},
		{"city array", record("city", `["a"]`), `city: an array is not a string`},
		{"country missing", record("country", ``), `country: missing`},
		{"credit limit negative", record("credit_limit", `-1`), `credit_limit: -1 is negative`},
		{"credit limit string", record("credit_limit", `"59811"`), `credit_limit: "59811" is not a number`},
		{"credit limit overflow", record("credit_limit", `1e999`), `credit_limit: 1e999 is out of range`},
		{"city twice", strings.Replace(record("", ""), `"city":"Nantes"`, `"city":"Nantes","city":"Lyon"`, 1), `city: given twice`},
		{"reserved output field", record("recommended_items", `[]`), `recommended_items: reserved for the output, not accepted in input`},
		{"reserved output field 2", record("similar_items", `{}`), `similar_items: reserved for the output, not accepted in input`},
		{"not an object", `[1,2]`, `an array is not a JSON object`},
		{"a string", `"x"`, `"x" is not a JSON object`},
		{"empty", ` `, `empty record, want a JSON object`},
		{"trailing data", record("", "") + ` {}`, `invalid JSON at byte 187: unexpected '{' after the object`},
		{"truncated", labRecord[:100], `invalid JSON at byte 100: unterminated string`},
		{"bad literal", record("x", `tru`), `x: invalid JSON at byte 190: want a value, found 't'`},
		{"trailing comma", record("x", `[1,]`), `x: invalid JSON at byte 193: want a value, found ']'`},
		{"bad number", record("x", `01`), `invalid JSON at byte 191: want ',' or '}', found '1'`},
		{"control character", record("city", "\"a\tb\""), `city: invalid JSON at byte 51: control character 0x09 in a string`},
		{"bad escape", record("city", `"a\x"`), `city: invalid JSON at byte 52: invalid escape \x`},
		{"invalid UTF-8", record("city", "\"a\xffb\""), `city: string is not valid UTF-8: byte 0xff at byte 51`},
		{"invalid UTF-8 in unknown field", record("note", "\"\xc3\""), `note: string is not valid UTF-8: byte 0xc3 at byte 194`},
		{"invalid UTF-8 after an escape", record("city", "\"\\n\xe9t\u00e9\""), `city: string is not valid UTF-8: byte 0xe9 at byte 52`},
		{"invalid UTF-8 in a field name", strings.Replace(record("", ""), `"city"`, "\"ci\xfft\\u0079\"", 1),
			`"ci\xffty": field name is not valid UTF-8: byte 0xff at byte 45`},
		{"invalid UTF-8 in an item's field name", history("{\"product_code\":\"A\",\"qu\xc3\":1}"),
			`browse_history[0]."qu\xc3": field name is not valid UTF-8: byte 0xc3 at byte 142`},
		{"invalid UTF-8 in a nested field name", record("note", "{\"a\":{\"\xfe\":1}}"), `note."\xfe": field name is not valid UTF-8: byte 0xfe at byte 200`},
		{"too deep", deep, `x: invalid JSON at byte 253: nested more than 64 levels deep`},
		{"too big", `{"x":"` + strings.Repeat("a", event.MaxSize) + `"}`, `record is 1048584 bytes, more than the 1048576-byte limit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := event.Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("Decode(%s) = %+v, want error %q", tc.in, e, tc.want)
			}
			var fe *event.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T, want *event.Error", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Decode(%.80s…)\n error %q\n want  %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestPick(t *testing.T) {
	it := func(code string, cart bool) event.Item {
		return event.Item{ProductCode: code, Quantity: 1, InShoppingCart: cart}
	}
	for _, tc := range []struct {
		name    string
		history []event.Item
		want    string
	}{
		{"empty", nil, ""},
		{"one browsed", []event.Item{it("A", false)}, "A"},
		{"most recent browsed", []event.Item{it("A", false), it("B", false)}, "B"},
		{"cart wins over later browsing", []event.Item{it("A", true), it("B", false)}, "A"},
		{"most recent in cart", []event.Item{it("A", true), it("B", true), it("C", false)}, "B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := event.Pick(&event.Event{BrowseHistory: tc.history})
			if ok != (tc.want != "") || got.ProductCode != tc.want {
				t.Errorf("Pick = %q, %v; want %q", got.ProductCode, ok, tc.want)
			}
		})
	}
}

func TestAppendWith(t *testing.T) {
	e, err := event.Decode([]byte(labRecord + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := e.AppendWith([]byte("prefix "),
		event.Member{Name: event.FieldRecommendedItems, Value: []byte(`[{"id":"S10_1678","score":0.9}]`)},
		event.Member{Name: event.FieldSimilarItems, Value: []byte(`{"product_code":"S50_1514","similar_items":[]}`)})
	want := `prefix {"session_id":"45ba9939-df9c-4ca9-a11d-2786b63983fd","customer_number":478,"city":"Pasadena","country":"USA","credit_limit":59811,"browse_history":[{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true}],` +
		`"recommended_items":[{"id":"S10_1678","score":0.9}],"similar_items":{"product_code":"S50_1514","similar_items":[]}}`
	if string(out) != want {
		t.Errorf("AppendWith:\n got %s\nwant %s", out, want)
	}

	// A one-line record is copied byte for byte, its own spacing kept.
	spaced := `{ "session_id" : "s", "customer_number" : 1, "city" : "c", "country" : "d", "credit_limit" : 2, "browse_history" : [ ], "extra" : "kept" }`
	e, err = event.Decode([]byte(spaced))
	if err != nil {
		t.Fatal(err)
	}
	out = e.AppendWith(nil, event.Member{Name: "n", Value: []byte(`1`)})
	if string(out) != spaced[:len(spaced)-1]+`,"n":1}` {
		t.Errorf("AppendWith on a spaced record: %s", out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil || m["extra"] != "kept" || m["n"] != 1.0 {
		t.Errorf("AppendWith output %s: %v %v", out, m, err)
	}

	// An Event built in code is encoded from its fields.
	built := &event.Event{SessionID: "s\"1", CustomerNumber: 7, City: "Paris", Country: "France", CreditLimit: 100.5,
		BrowseHistory: []event.Item{{ProductCode: "S10_1678", Quantity: 3, InShoppingCart: true}}}
	b, err := json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	back, err := event.Decode(b)
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	if back.SessionID != built.SessionID || back.CreditLimit != 100.5 || !reflect.DeepEqual(back.BrowseHistory, built.BrowseHistory) {
		t.Errorf("round trip of %s = %+v", b, back)
	}

	// encoding/json goes through Decode both ways, values and pointers alike.
	var list []event.Event
	if err := json.Unmarshal([]byte(`[`+labRecord+`,`+string(b)+`]`), &list); err != nil || len(list) != 2 || list[0].City != "Pasadena" {
		t.Fatalf("Unmarshal into []Event: %v %+v", err, list)
	}
	again, err := json.Marshal(list)
	if err != nil || !strings.HasPrefix(string(again), `[{"session_id":"45ba9939`) {
		t.Errorf("Marshal of []Event: %s %v", again, err)
	}
	if err := json.Unmarshal([]byte(`{"session_id":""}`), &list[0]); err == nil || !strings.Contains(err.Error(), "session_id: is empty") {
		t.Errorf("Unmarshal of a bad record: %v", err)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"session_id":"45ba9939-df9c-4ca9-a11d-2786b63983fd","customer_number":478,"city":"Pasadena","country":"USA","credit_limit":59811,"browse_history":[{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true},{"product_code":"S10_1678","quantity":2,"in_shopping_cart":false},{"product_code":"S24_2000","quantity":"1","in_shopping_cart":false}]}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := event.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
