package shopper_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/shopper"
)

// TestLabBytes pins the lab's records: the digest of 3000 events of seed 7
// with the default Config, as produced before the simulator learned other
// shops' formats.
func TestLabBytes(t *testing.T) {
	sim, err := shopper.New(shopper.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for range 3000 {
		ev := sim.Next()
		fmt.Fprintf(h, "%s %s\n", ev.Key, ev.Data)
	}
	const want = "ce232b8ba8f09994b87d39b5f6b80225c39129e5d5d58bb3048f9e9b2983a008"
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Errorf("the lab's events changed: digest %s, want %s", got, want)
	}
}

func movieSpec(t *testing.T, yaml string) *dataset.Spec {
	t.Helper()
	s, err := dataset.Parse([]byte(yaml), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShopEventsDecode: every event for the movie shop's spec decodes
// through the spec's own mapping (as stream --dataset reads them), with the
// shop's users (or new shoppers with a shop user's features) and the
// shop's items.
func TestShopEventsDecode(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
	}{
		{"stream section", datasettest.ShopSpecYAML},
		{"no stream section", datasettest.ShopSpecYAML[:strings.Index(datasettest.ShopSpecYAML, "\nstream:")+1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := movieSpec(t, tc.yaml)
			f, err := shopper.FormatOf(s)
			if err != nil {
				t.Fatal(err)
			}
			shop := &shopper.Shop{Format: f}
			countries := map[string]bool{}
			for i := range 40 {
				c := []string{"Portugal", "Kenya", "Canada", "Côte d'Ivoire \"CI\""}[i%4]
				countries[c] = true
				shop.Users = append(shop.Users, shopper.User{ID: fmt.Sprintf("u-%02d", i),
					Features: []shopper.Value{{Text: c}, {Number: float64(18 + i)}}})
			}
			for i := range 30 {
				shop.Items = append(shop.Items, shopper.Item{ID: strconv.Itoa(100 + i), Group: []string{"Action", "Drama", "Comedy"}[i%3]})
			}
			m, err := event.NewMapping(s)
			if err != nil {
				t.Fatal(err)
			}
			sim, err := shopper.New(shopper.Config{Seed: 3, Shop: shop})
			if err != nil {
				t.Fatal(err)
			}
			known := map[string]bool{}
			for _, u := range shop.Users {
				known[u.ID] = true
			}
			var fresh, stringQ int
			for range 3000 {
				ev := sim.Next()
				r, err := m.Decode(ev.Data)
				if err != nil {
					t.Fatalf("%s: %v", ev.Data, err)
				}
				if s.Stream != nil && r.SessionID != ev.Key {
					t.Fatalf("session %q, key %q", r.SessionID, ev.Key)
				}
				if !known[r.UserID] {
					fresh++
					if !strings.HasPrefix(r.UserID, "new-") {
						t.Fatalf("user %q is neither the shop's nor a new shopper's", r.UserID)
					}
				}
				c, ok := r.Feature("country")
				age, ok2 := r.Feature("age")
				if !ok || !ok2 || !countries[c.Text] || age.Number < 18 || age.Number >= 58 {
					t.Fatalf("%s: user features %+v", ev.Data, r.UserFeatures)
				}
				if len(r.Browsed) == 0 {
					t.Fatalf("%s: nothing browsed", ev.Data)
				}
				for _, b := range r.Browsed {
					if n, err := strconv.Atoi(b.ItemID); err != nil || n < 100 || n >= 130 || b.Quantity < 1 {
						t.Fatalf("%s: browsed %+v", ev.Data, b)
					}
				}
				if strings.Contains(string(ev.Data), `":"`+strconv.Itoa(r.Browsed[0].Quantity)+`"`) {
					stringQ++
				}
			}
			if st := sim.Stats(); fresh == 0 || st.NewShoppers == 0 || stringQ == 0 {
				t.Errorf("%d events by new shoppers, stats %+v, %d string quantities", fresh, st, stringQ)
			}
		})
	}
}

// TestShopEventExample shows one event of the movie shop's format.
func TestShopEventExample(t *testing.T) {
	s := movieSpec(t, datasettest.ShopSpecYAML)
	f, err := shopper.FormatOf(s)
	if err != nil {
		t.Fatal(err)
	}
	shop := &shopper.Shop{Format: f,
		Users: []shopper.User{{ID: "3f2a-ana", Features: []shopper.Value{{Text: "Portugal"}, {Number: 34}}}},
		Items: []shopper.Item{{ID: "1", Group: "Action"}, {ID: "2", Group: "Comedy"}}}
	sim, err := shopper.New(shopper.Config{Seed: 1, Sessions: 1, NewShopperShare: -1, StringQuantityShare: -1, Shop: shop})
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	for range 3 {
		last = sim.Next().Data
	}
	var v map[string]any
	if err := json.Unmarshal(last, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"session", "user", "country", "age", "viewed"} {
		if _, ok := v[k]; !ok {
			t.Errorf("%s: no field %q", last, k)
		}
	}
	if v["user"] != "3f2a-ana" || v["country"] != "Portugal" || v["age"] != 34.0 {
		t.Errorf("%s", last)
	}
	for _, it := range v["viewed"].([]any) {
		m := it.(map[string]any)
		if _, ok := m["movie"].(float64); !ok || len(m) != 2 {
			t.Errorf("%s: browsed item %v: want movie (a number) and copies", last, m)
		}
		if _, ok := m["copies"].(float64); !ok {
			t.Errorf("%s: browsed item %v: copies not a number", last, m)
		}
	}
	t.Logf("%s", last)
}

// TestShopIntegerUsers: integer user ids are JSON numbers, new shoppers'
// above the shop's largest; a spec without quantity or in-cart fields
// leaves them out; string item ids are strings.
func TestShopIntegerUsers(t *testing.T) {
	s := movieSpec(t, `version: 1
interactions: {table: events, user_key: visitor, item_key: sku, feedback: {kind: count}}
users: {table: visitors, id: visitor, id_type: integer, features: [{column: segment, kind: categorical}]}
items: {table: products, id: sku, id_type: string}
stream: {user_id: vid, user_features: {segment: seg}, browsed_items: seen, item_id: sku}
`)
	f, err := shopper.FormatOf(s)
	if err != nil {
		t.Fatal(err)
	}
	shop := &shopper.Shop{Format: f,
		Users: []shopper.User{{ID: "7", Features: []shopper.Value{{Text: "gold"}}}, {ID: "4000", Features: []shopper.Value{{Text: ""}}}},
		Items: []shopper.Item{{ID: "A-1"}, {ID: "B<2>"}}}
	m, err := event.NewMapping(s)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := shopper.New(shopper.Config{Seed: 9, NewShopperShare: 0.5, Shop: shop})
	if err != nil {
		t.Fatal(err)
	}
	fresh := 0
	for range 500 {
		ev := sim.Next()
		r, err := m.Decode(ev.Data)
		if err != nil {
			t.Fatalf("%s: %v", ev.Data, err)
		}
		if strings.Contains(string(ev.Data), "session") || strings.Contains(string(ev.Data), "quantity") {
			t.Fatalf("%s: a field the spec does not map", ev.Data)
		}
		if r.UserID != "7" && r.UserID != "4000" {
			if n, err := strconv.ParseInt(r.UserID, 10, 64); err != nil || n <= 4000 {
				t.Fatalf("new shopper %q", r.UserID)
			}
			fresh++
		}
	}
	if fresh == 0 {
		t.Error("no new shoppers")
	}
	bad := *shop
	bad.Users = []shopper.User{{ID: "-3", Features: []shopper.Value{{}}}}
	if _, err := shopper.New(shopper.Config{Shop: &bad}); err == nil || !strings.Contains(err.Error(), `"-3"`) {
		t.Errorf("negative integer id: %v", err)
	}
	bad.Users = []shopper.User{{ID: "3"}}
	if _, err := shopper.New(shopper.Config{Shop: &bad}); err == nil {
		t.Error("a user without its feature values accepted")
	}
}

// TestFormatOfBadMapping: a stream section that maps one event field twice
// is refused naming the key (Parse refuses it too; a spec built in code
// reaches FormatOf).
func TestFormatOfBadMapping(t *testing.T) {
	s := movieSpec(t, datasettest.ShopSpecYAML)
	s.Stream.BrowsedItems = "user"
	if _, err := shopper.FormatOf(s); err == nil || !strings.Contains(err.Error(), "stream.browsed_items") {
		t.Errorf("FormatOf: %v, want an error naming stream.browsed_items", err)
	}
}

// TestReadShop reads the movie shop from SQLite and MariaDB: its users
// (but one with a null age, which the stream cannot carry) and movies,
// grouped by first genre; the events decode through the spec's mapping.
func TestReadShop(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := datasettest.Shop(t, b)
			s := movieSpec(t, datasettest.ShopSpecYAML)
			ctx := context.Background()
			shop, st, err := shopper.ReadShop(ctx, db, s)
			if err != nil {
				t.Fatal(err)
			}
			if st.Users != 2 || st.SkippedUsers != 1 || st.Items != 3 || st.GroupFeature != "genres" {
				t.Errorf("stats %+v", st)
			}
			if got := fmt.Sprint(shop.Users); got != "[{3f2a-ana [{0 Portugal} {34 }]} {77d0-chloe [{0 Canada} {27 }]}]" {
				t.Errorf("users %s", got)
			}
			if got := fmt.Sprint(shop.Items); got != "[{1 Action} {2 Comedy} {3 Drama}]" {
				t.Errorf("items %s", got)
			}
			m, err := event.NewMapping(s)
			if err != nil {
				t.Fatal(err)
			}
			sim, err := shopper.New(shopper.Config{Seed: 2, Shop: shop})
			if err != nil {
				t.Fatal(err)
			}
			for range 200 {
				ev := sim.Next()
				if _, err := m.Decode(ev.Data); err != nil {
					t.Fatalf("%s: %v", ev.Data, err)
				}
			}

			// Only the user with a null age left: nobody to simulate.
			if _, err := db.SQL.ExecContext(ctx, "UPDATE "+db.Quote(datasettest.Users)+" SET "+db.Quote("age")+" = NULL"); err != nil {
				t.Fatal(err)
			}
			_, _, err = shopper.ReadShop(ctx, db, s)
			if err == nil || !strings.Contains(err.Error(), "stream.user_features.age") {
				t.Errorf("every age null: %v, want an error naming stream.user_features.age", err)
			}

			// A column the source lacks: named by the spec check.
			bad := movieSpec(t, strings.Replace(datasettest.ShopSpecYAML, "- column: age", "- column: years\n      name: age", 1))
			_, _, err = shopper.ReadShop(ctx, db, bad)
			if err == nil || !strings.Contains(err.Error(), "years") {
				t.Errorf("missing column: %v", err)
			}
		})
	}
}

// BenchmarkNext compares an event of the movie shop's format (hand-written
// JSON) with one of the lab's (encoding/json), in the same run.
func BenchmarkNext(b *testing.B) {
	s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		b.Fatal(err)
	}
	f, err := shopper.FormatOf(s)
	if err != nil {
		b.Fatal(err)
	}
	shop := &shopper.Shop{Format: f}
	for i := range 100 {
		shop.Users = append(shop.Users, shopper.User{ID: fmt.Sprintf("user-%04d", i), Features: []shopper.Value{{Text: "Portugal"}, {Number: float64(20 + i%50)}}})
	}
	for i := range 110 {
		shop.Items = append(shop.Items, shopper.Item{ID: strconv.Itoa(i + 1), Group: []string{"Action", "Drama"}[i%2]})
	}
	for _, bc := range []struct {
		name string
		cfg  shopper.Config
	}{{"lab", shopper.Config{Seed: 1}}, {"movie-shop", shopper.Config{Seed: 1, Shop: shop}}} {
		b.Run(bc.name, func(b *testing.B) {
			sim, err := shopper.New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				sim.Next()
			}
		})
	}
}
