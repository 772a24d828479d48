package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/event"
)

// labInputs are the inputs of TestDecodeAccepts, TestDecodeRejects and
// FuzzDecode's seeds, plus a few more: the lab's records, good and bad.
func labInputs() []string {
	deep := record("x", strings.Repeat("[", event.MaxDepth)+strings.Repeat("]", event.MaxDepth))
	return []string{
		labRecord,
		record("", ""),
		history(item("quantity", `7`)),
		history(item("quantity", `"12"`)),
		history(item("quantity", `7.0`)),
		history(item("quantity", `1e3`)),
		history(item("quantity", `-0.0`)),
		history(item("quantity", `"0"`)),
		history(item("quantity", `"1000000000"`)),
		record("browse_history", `[ ]`),
		record("device", `{"os":["ios",17,null,true]}`),
		history(item("price", `95.70`)),
		record("city", `""`),
		record("city", `"S\u00e3o Paulo \"SP\"\n\ud83d\ude00"`),
		record("city", `"\ud800"`),
		record("city", `"Århus"`),
		strings.Replace(record("", ""), `"city"`, `"c\u0069ty"`, 1),
		record("credit_limit", `123.45`),
		record("credit_limit", `0`),
		record("customer_number", `0`),
		record("customer_number", `9007199254740993`),
		"\n\t " + record("", "") + " \r\n",
		history(item("in_shopping_cart", `false`), item("quantity", `"3"`)),
		record("extra", `{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"}`),

		history(item("quantity", `"1"`), item("quantity", `"1"`), item("quantity", `"7x"`)),
		history(item("quantity", `7.5`)),
		history(item("quantity", `-1`)),
		history(item("quantity", `"-1"`)),
		history(item("quantity", `""`)),
		history(item("quantity", `" 7"`)),
		history(item("quantity", `1000000001`)),
		history(item("quantity", `"99999999999999999999999"`)),
		history(item("quantity", `1e400`)),
		history(item("quantity", `null`)),
		history(item("quantity", `true`)),
		history(item("quantity", ``)),
		history(`{"product_code":"A","quantity":1,"quantity":2,"in_shopping_cart":true}`),
		history(item("in_shopping_cart", `"true"`)),
		history(item("in_shopping_cart", ``)),
		history(item("product_code", `""`)),
		history(item("product_code", `1678`)),
		history(item("product_code", ``)),
		history(`"S10_1678"`),
		record("browse_history", `{"a":1}`),
		record("browse_history", `null`),
		record("browse_history", ``),
		record("session_id", ``),
		record("session_id", `""`),
		record("session_id", `12`),
		record("customer_number", ``),
		record("customer_number", `"478"`),
		record("customer_number", `4.5`),
		record("customer_number", `-3`),
		record("customer_number", `1e19`),
		record("customer_number", `[[[[[[1]]]]]]`),
		record("city", `null`),
		record("city", `["a"]`),
		record("country", ``),
		record("credit_limit", ``),
		record("credit_limit", `-1`),
		record("credit_limit", `"59811"`),
		record("credit_limit", `1e999`),
		strings.Replace(record("", ""), `"city":"Nantes"`, `"city":"Nantes","city":"Lyon"`, 1),
		strings.Replace(record("", ""), `"session_id":"s-1"`, `"session_id":"s-1","session_id":"s-2"`, 1),
		record("recommended_items", `[]`),
		record("similar_items", `{}`),
		`[1,2]`, `"x"`, ` `, ``, `{}`, `[]`, `null`, `{"session_id":`,
		record("", "") + ` {}`,
		labRecord[:100],
		record("x", `tru`),
		record("x", `[1,]`),
		record("x", `01`),
		record("city", "\"a\tb\""),
		record("city", `"a\x"`),
		record("city", "\"a\xffb\""),
		record("note", "\"\xc3\""),
		record("city", "\"\\n\xe9t\u00e9\""),
		strings.Replace(record("", ""), `"city"`, "\"ci\xfft\\u0079\"", 1),
		history("{\"product_code\":\"A\",\"qu\xc3\":1}"),
		record("note", "{\"a\":{\"\xfe\":1}}"),
		deep,
		`{"x":"` + strings.Repeat("a", event.MaxSize) + `"}`,
	}
}

// sameAsDecode reports how the mapped decoder's verdict on data differs
// from Decode's, or "" when it is the same: both accept with the same
// values, or both reject with the same error.
func sameAsDecode(m *event.Mapping, data []byte) string {
	want, wantErr := event.Decode(data)
	got, gotErr := m.Decode(data)
	if gotErr != nil {
		var fe *event.Error
		if !errors.As(gotErr, &fe) {
			return "error " + gotErr.Error() + " is not an *event.Error"
		}
	}
	switch {
	case wantErr != nil && gotErr != nil:
		if wantErr.Error() != gotErr.Error() {
			return "error " + strconv.Quote(gotErr.Error()) + ", Decode says " + strconv.Quote(wantErr.Error())
		}
		return ""
	case wantErr != nil:
		return "accepted; Decode says " + wantErr.Error()
	case gotErr != nil:
		return "rejected (" + gotErr.Error() + "); Decode accepts"
	}
	lab := event.Record{
		SessionID: want.SessionID,
		UserID:    strconv.FormatInt(want.CustomerNumber, 10),
		UserFeatures: []event.FeatureValue{
			{Name: "city", Text: want.City},
			{Name: "country", Text: want.Country},
			{Name: "creditLimit", Numeric: true, Number: want.CreditLimit},
		},
		Browsed: []event.Browsed{},
	}
	for _, it := range want.BrowseHistory {
		lab.Browsed = append(lab.Browsed, event.Browsed{ItemID: it.ProductCode, Quantity: it.Quantity, InCart: it.InShoppingCart})
	}
	g := *got
	if &g.Raw()[0] != &data[0] || len(g.Raw()) != len(data) {
		return "Raw is not the input"
	}
	g = event.Record{SessionID: g.SessionID, UserID: g.UserID, UserFeatures: g.UserFeatures, Browsed: g.Browsed}
	if !reflect.DeepEqual(g, lab) {
		return fmt.Sprintf("decoded %+v, Decode's values are %+v", g, lab)
	}
	wi, wok := event.Pick(want)
	gi, gok := got.Pick()
	if wok != gok || gi.ItemID != wi.ProductCode || gi.Quantity != wi.Quantity || gi.InCart != wi.InShoppingCart {
		return "Pick differs from Decode's"
	}
	if string(got.AppendWith(nil, event.Member{Name: "a", Value: []byte("1")})) != string(want.AppendWith(nil, event.Member{Name: "a", Value: []byte("1")})) {
		return "AppendWith differs from Decode's"
	}
	return ""
}

// TestLabMappingIsDecode proves the built-in spec's mapping reads the lab's
// events exactly as Decode does: same records accepted with the same
// values, same records rejected with the same errors.
func TestLabMappingIsDecode(t *testing.T) {
	m := event.LabMapping()
	if got := m.UserFeatures(); !reflect.DeepEqual(got, []string{"city", "country", "creditLimit"}) {
		t.Errorf("user features %q", got)
	}
	accepted := 0
	for i, in := range labInputs() {
		if diff := sameAsDecode(m, []byte(in)); diff != "" {
			t.Errorf("input %d (%.100q): %s", i, in, diff)
		}
		if _, err := event.Decode([]byte(in)); err == nil {
			accepted++
		}
	}
	if accepted < 20 {
		t.Errorf("only %d inputs accepted: the table no longer covers good records", accepted)
	}

	// A spec with no stream section gets the default mapping, which for the
	// lab's columns is the lab's format.
	s := dataset.Classic()
	s.Stream = nil
	noSection, err := event.NewMapping(&s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameAsDecode(noSection, []byte(labRecord)); diff != "" {
		t.Errorf("default mapping of the classic spec: %s", diff)
	}
}

func shopMapping(t testing.TB) *event.Mapping {
	t.Helper()
	s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := event.NewMapping(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestShopMapping reads the movie shop's events: string user ids, integer
// movie ids, fields named unlike the lab's, no in-cart field.
func TestShopMapping(t *testing.T) {
	m := shopMapping(t)
	if got := m.UserFeatures(); !reflect.DeepEqual(got, []string{"country", "age"}) {
		t.Errorf("user features %q", got)
	}
	r, err := m.Decode([]byte(`{"session":"s-9","user":"u-17","country":"FR","age":31,"device":{"os":"ios"},
		"viewed":[{"movie":42,"copies":"2","title":"Heat"},{"movie":7,"copies":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := event.Record{SessionID: "s-9", UserID: "u-17",
		UserFeatures: []event.FeatureValue{{Name: "country", Text: "FR"}, {Name: "age", Numeric: true, Number: 31}},
		Browsed:      []event.Browsed{{ItemID: "42", Quantity: 2}, {ItemID: "7", Quantity: 1}}}
	got := event.Record{SessionID: r.SessionID, UserID: r.UserID, UserFeatures: r.UserFeatures, Browsed: r.Browsed}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v\nwant %+v", got, want)
	}
	if age, ok := r.Feature("age"); !ok || age.Number != 31 {
		t.Errorf("Feature(age) = %+v, %v", age, ok)
	}
	if _, ok := r.Feature("city"); ok {
		t.Error("Feature(city) found in the movie shop")
	}
	if it, ok := r.Pick(); !ok || it.ItemID != "7" {
		t.Errorf("Pick = %+v, %v; want the last movie viewed (nothing in a cart)", it, ok)
	}
	out := r.AppendWith(nil, event.Member{Name: event.FieldSimilarItems, Value: []byte(`[]`)})
	if !strings.HasPrefix(string(out), `{"session":"s-9","user":"u-17"`) || !strings.HasSuffix(string(out), `,"similar_items":[]}`) || strings.Contains(string(out), "\n") {
		t.Errorf("AppendWith = %s", out)
	}

	const good = `{"session":"s","user":"u-17","country":"FR","age":31,"viewed":[{"movie":42,"copies":1}]}`
	if _, err := m.Decode([]byte(good)); err != nil {
		t.Fatalf("the base record: %v", err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"user id a number", strings.Replace(good, `"u-17"`, `17`, 1), `user: 17 is not a string`},
		{"user id empty", strings.Replace(good, `"u-17"`, `""`, 1), `user: is empty`},
		{"user id missing", strings.Replace(good, `"user":"u-17",`, ``, 1), `user: missing`},
		{"lab's user field is not the shop's", strings.Replace(good, `"user"`, `"customer_number"`, 1), `user: missing`},
		{"age a string", strings.Replace(good, `31`, `"31"`, 1), `age: "31" is not a number`},
		{"age negative", strings.Replace(good, `31`, `-1`, 1), `age: -1 is negative`},
		{"country a number", strings.Replace(good, `"FR"`, `33`, 1), `country: 33 is not a string`},
		{"country twice", strings.Replace(good, `"FR"`, `"FR","country":"DE"`, 1), `country: given twice`},
		{"age missing", strings.Replace(good, `"age":31,`, ``, 1), `age: missing`},
		{"movie id a string", strings.Replace(good, `42`, `"42"`, 1), `viewed[0].movie: "42" is not a whole number`},
		{"movie id fraction", strings.Replace(good, `42`, `4.2`, 1), `viewed[0].movie: 4.2 is not a whole number`},
		{"movie id negative", strings.Replace(good, `42`, `-42`, 1), `viewed[0].movie: -42 is negative`},
		{"movie missing", strings.Replace(good, `"movie":42,`, ``, 1), `viewed[0].movie: missing`},
		{"copies bad", strings.Replace(good, `"copies":1`, `"copies":"1x"`, 1), `viewed[0].copies: "1x" is not a whole number`},
		{"copies missing", strings.Replace(good, `,"copies":1`, ``, 1), `viewed[0].copies: missing`},
		{"second item bad", strings.Replace(good, `}]`, `},{"movie":1,"copies":1},{"movie":true,"copies":1}]`, 1), `viewed[2].movie: true is not a whole number`},
		{"viewed not an array", strings.Replace(good, `[{"movie":42,"copies":1}]`, `"42"`, 1), `viewed: "42" is not an array`},
		{"reserved output field", strings.Replace(good, `{`, `{"recommended_items":[],`, 1), `recommended_items: reserved for the output, not accepted in input`},
		{"trailing data", good + `x`, `invalid JSON at byte 88: unexpected 'x' after the object`},
		{"invalid UTF-8", strings.Replace(good, `u-17`, "u-\xff", 1), `user: string is not valid UTF-8: byte 0xff at byte 25`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := m.Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("Decode(%s) = %+v, want error %q", tc.in, r, tc.want)
			}
			var fe *event.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T, want *event.Error", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Decode(%s)\n error %q\n want  %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestMappingDefaults: a spec with no in-cart or quantity field reads
// every item as one copy, not in the cart; a spec without a stream section
// gets snake_case names; a large integer id keeps all its digits.
func TestMappingDefaults(t *testing.T) {
	s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Stream.Quantity = ""
	s.Stream.Session = ""
	m, err := event.NewMapping(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Decode([]byte(`{"user":"u","country":"","age":0,"viewed":[{"movie":9223372036854775807}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.SessionID != "" || len(r.Browsed) != 1 || r.Browsed[0] != (event.Browsed{ItemID: "9223372036854775807", Quantity: 1}) {
		t.Errorf("decoded %+v", r)
	}

	s.Stream = nil
	m, err = event.NewMapping(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err = m.Decode([]byte(`{"session_id":"s","user_id":"u","country":"FR","age":3,
		"browse_history":[{"movie_id":5,"quantity":2,"in_shopping_cart":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.UserID != "u" || r.Browsed[0] != (event.Browsed{ItemID: "5", Quantity: 2, InCart: true}) {
		t.Errorf("decoded %+v", r)
	}
}

// TestNewMappingRejects: mappings a strict decoder cannot follow are
// refused, naming the spec key.
func TestNewMappingRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*dataset.Stream)
		want string
	}{
		{"feature on the user id's field", func(st *dataset.Stream) { st.UserFeatures["age"] = "user" },
			`dataset spec: stream.user_features.age: event field "user" is already stream.user_id`},
		{"two features on one field", func(st *dataset.Stream) { st.UserFeatures["age"] = "country" },
			`dataset spec: stream.user_features.age: event field "country" is already stream.user_features.country`},
		{"reserved field", func(st *dataset.Stream) { st.BrowsedItems = "similar_items" },
			`dataset spec: stream.browsed_items: event field "similar_items" is already reserved for the output`},
		{"item fields clash", func(st *dataset.Stream) { st.Quantity = "movie" },
			`dataset spec: stream.quantity: browsed-item field "movie" is already stream.item_id`},
		{"no item id", func(st *dataset.Stream) { st.ItemID = "" },
			`dataset spec: stream.item_id: missing; want the field of a browsed item with the item's id`},
		{"unknown feature", func(st *dataset.Stream) { st.UserFeatures["height"] = "h" },
			`dataset spec: stream.user_features.height: "height" is not a feature of users`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(s.Stream)
			_, err = event.NewMapping(s)
			if err == nil || err.Error() != tc.want {
				t.Errorf("NewMapping: %v\nwant %s", err, tc.want)
			}
		})
	}
}

// FuzzLabMapping checks that the built-in spec's mapping and Decode agree
// on any input: both accept with the same values, or both reject with the
// same error.
func FuzzLabMapping(f *testing.F) {
	for _, in := range labInputs() {
		if len(in) < 4096 {
			f.Add([]byte(in))
		}
	}
	m := event.LabMapping()
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff := sameAsDecode(m, data); diff != "" {
			t.Fatalf("%q: %s", data, diff)
		}
	})
}

const benchRecord = `{"session_id":"45ba9939-df9c-4ca9-a11d-2786b63983fd","customer_number":478,"city":"Pasadena","country":"USA","credit_limit":59811,"browse_history":[{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true},{"product_code":"S10_1678","quantity":2,"in_shopping_cart":false},{"product_code":"S24_2000","quantity":"1","in_shopping_cart":false}]}`

// BenchmarkLabDecoders compares the built-in spec's mapping with Decode on
// the lab's event (the record of BenchmarkDecode), alternating the two.
func BenchmarkLabDecoders(b *testing.B) {
	data := []byte(benchRecord)
	m := event.LabMapping()
	for range 3 {
		b.Run("Decode", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Mapping", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzShopMapping checks the movie shop's mapping against encoding/json as
// an oracle: whatever it accepts is valid JSON whose mapped fields
// encoding/json reads to the same values, and every error is an
// *event.Error.
func FuzzShopMapping(f *testing.F) {
	for _, s := range []string{
		`{"session":"s","user":"u-17","country":"FR","age":31,"viewed":[{"movie":42,"copies":"2"}]}`,
		`{"session":"s","user":"u\u00e9","country":"","age":0.5,"viewed":[],"x":[{"y":null}]}`,
		`{"session":"s","user":"u","country":"FR","age":1e2,"viewed":[{"movie":1e3,"copies":1,"movie_id":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	m := shopMapping(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := m.Decode(data)
		if err != nil {
			var fe *event.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T", err, err)
			}
			return
		}
		// Maps, not structs: encoding/json matches struct fields without
		// regard to case, the mapping (like Decode) exactly.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatalf("encoding/json cannot read what the mapping accepted: %v", err)
		}
		country, _ := r.Feature("country")
		age, _ := r.Feature("age")
		checkString(t, top["session"], r.SessionID)
		checkString(t, top["user"], r.UserID)
		checkString(t, top["country"], country.Text)
		var a float64
		if err := json.Unmarshal(top["age"], &a); err != nil || a != age.Number || a < 0 || !age.Numeric || r.UserID == "" {
			t.Fatalf("age %s decoded as %+v (%v)", top["age"], age, err)
		}
		var viewed []map[string]json.RawMessage
		if err := json.Unmarshal(top["viewed"], &viewed); err != nil || len(viewed) != len(r.Browsed) {
			t.Fatalf("viewed %s decoded as %+v (%v)", top["viewed"], r.Browsed, err)
		}
		for i, v := range viewed {
			var movie float64
			id, err := strconv.ParseFloat(r.Browsed[i].ItemID, 64)
			if json.Unmarshal(v["movie"], &movie) != nil || err != nil || id != movie || id < 0 {
				t.Fatalf("item %d: id %q, sent %s", i, r.Browsed[i].ItemID, v["movie"])
			}
			q := strings.Trim(string(v["copies"]), `"`)
			if n, err := strconv.ParseFloat(q, 64); err != nil || n != float64(r.Browsed[i].Quantity) {
				t.Fatalf("item %d: quantity %d, sent %s", i, r.Browsed[i].Quantity, v["copies"])
			}
		}
	})
}

// TestDecodeToAllocates: reading the lab's event into a Record the caller
// holds allocates nothing (its strings share the record's bytes), and a
// string with escapes is a copy that outlives the decoder's scratch space.
func TestDecodeToAllocates(t *testing.T) {
	m := event.LabMapping()
	data := []byte(benchRecord)
	var r event.Record
	if n := testing.AllocsPerRun(100, func() {
		if err := m.DecodeTo(&r, data); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodeTo allocates %v times per event, want 0", n)
	}
	esc := []byte(`{"session_id":"s\u0031","customer_number":1,"city":"a\"b","country":"","credit_limit":0,` +
		`"browse_history":[{"product_code":"S\u0032","quantity":1,"in_shopping_cart":false},{"product_code":"S3","quantity":1,"in_shopping_cart":false}]}`)
	if err := m.DecodeTo(&r, esc); err != nil {
		t.Fatal(err)
	}
	city, _ := r.Feature("city")
	if r.SessionID != "s1" || city.Text != `a"b` || r.Browsed[0].ItemID != "S2" || r.Browsed[1].ItemID != "S3" || r.UserID != "1" {
		t.Errorf("decoded %+v", r)
	}
}
