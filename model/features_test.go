package model

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
)

func TestEncoderNormalizesAndIgnoresUnknown(t *testing.T) {
	cats := [][]string{{"Nantes ", "France"}, {" NANTES", "france "}, {"Paris", "France"}, {"Lyon", "Nowhere"}, {"", "  "}}
	nums := [][]float64{{10}, {20}, {30}, {1000}, {30}}
	w := []int{1, 1, 2, 0, 0} // Lyon has no training rating: not a category
	e := fitEncoder("user", labUsers, cats, nums, w)

	if got := e.OneHot[0].Categories; !slices.Equal(got, []string{"nantes", "paris"}) {
		t.Errorf("city categories = %q, want [nantes paris]", got)
	}
	if got := e.OneHot[1].Categories; !slices.Equal(got, []string{"france"}) {
		t.Errorf("country categories = %q, want [france]", got)
	}
	// Weighted by training rows: 10, 20, 30, 30.
	mean, scale := 22.5, math.Sqrt((12.5*12.5+2.5*2.5+2*7.5*7.5)/4)
	if s := e.Scalers[0]; math.Abs(s.Mean-mean) > 1e-12 || math.Abs(s.Scale-scale) > 1e-12 {
		t.Errorf("creditLimit scaler = %+v, want mean %v scale %v", s, mean, scale)
	}
	if e.width != 4 {
		t.Fatalf("width = %d, want 4 (nantes, paris, france, creditLimit)", e.width)
	}

	type nz = map[int32]float64
	for _, tc := range []struct {
		name string
		f    UserFeatures
		want nz
	}{
		{"case and spaces", UserFeatures{City: "  nAnTeS\t", Country: "FRANCE", CreditLimit: mean}, nz{0: 1, 2: 1, 3: 0}},
		{"second city", UserFeatures{City: "paris", Country: " France", CreditLimit: mean + scale}, nz{1: 1, 2: 1, 3: 1}},
		{"unknown city", UserFeatures{City: "Lyon", Country: "France", CreditLimit: mean - 2*scale}, nz{2: 1, 3: -2}},
		{"all unknown", UserFeatures{City: "Atlantis", Country: "Nowhere", CreditLimit: mean}, nz{3: 0}},
		{"empty text, NaN", UserFeatures{CreditLimit: math.NaN()}, nz{3: 0}},
		{"infinite", UserFeatures{City: "Paris", CreditLimit: math.Inf(1)}, nz{1: 1, 3: 0}},
		{"overflow", UserFeatures{City: "Paris", CreditLimit: -math.MaxFloat64}, nz{1: 1, 3: -math.MaxFloat64 / scale}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := e.encode(tc.f.categorical(), tc.f.numeric())
			got := nz{}
			for j := range x.n {
				got[x.idx[j]] = x.val[j]
			}
			if len(got) != len(tc.want) {
				t.Fatalf("encode = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9*math.Max(1, math.Abs(v)) {
					t.Fatalf("encode = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestEncoderConstantFeatureHasUnitScale(t *testing.T) {
	e := fitEncoder("item", labItems,
		[][]string{{"Ships", "1:10"}, {"Planes", "1:10"}},
		[][]float64{{5, 10, 20}, {5, 30, 20}}, []int{3, 1})
	for _, s := range e.Scalers {
		if s.Scale <= 0 || !isFinite(s.Scale) {
			t.Errorf("scaler %+v: want a positive finite scale", s)
		}
	}
	if s := e.Scalers[0]; s.Mean != 5 || s.Scale != 1 {
		t.Errorf("constant quantityInStock: scaler %+v, want mean 5 scale 1", s)
	}
}

func TestEncoderJSONRoundTrip(t *testing.T) {
	e := fitEncoder("item", labItems,
		[][]string{{"Ships ", "1:10"}, {"planes", "1:700"}, {"Classic Cars", "1:18"}},
		[][]float64{{7933, 48.81, 95.7}, {6625, 68.99, 118.94}, {1, 0.1, 1 / 3.0}}, []int{1, 2, 3})
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back encoder
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.init(labItems); err != nil {
		t.Fatal(err)
	}
	for i, s := range e.Scalers {
		if math.Float64bits(s.Mean) != math.Float64bits(back.Scalers[i].Mean) || math.Float64bits(s.Scale) != math.Float64bits(back.Scalers[i].Scale) {
			t.Errorf("scaler %d: %+v after the round trip, want %+v bit for bit", i, back.Scalers[i], s)
		}
	}
	f := ItemFeatures{ProductLine: "PLANES", ProductScale: "1:700 ", QuantityInStock: 12, BuyPrice: 1, MSRP: 2}
	if a, b := e.encode(f.categorical(), f.numeric()), back.encode(f.categorical(), f.numeric()); !reflect.DeepEqual(a, b) {
		t.Errorf("encode after the round trip = %+v, want %+v", b, a)
	}
}

func TestEncoderRejectsBadStoredState(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
	}{
		{"format", `{"format":"x","one_hot":[{"feature":"city"},{"feature":"country"}],"standard_scalers":[{"feature":"creditLimit","mean":0,"scale":1}]}`},
		{"unnormalized category", `{"format":"recoflow.encoder/v1","one_hot":[{"feature":"city","categories":["Paris"]},{"feature":"country"}],"standard_scalers":[{"feature":"creditLimit","mean":0,"scale":1}]}`},
		{"duplicate", `{"format":"recoflow.encoder/v1","one_hot":[{"feature":"city","categories":["a","a"]},{"feature":"country"}],"standard_scalers":[{"feature":"creditLimit","mean":0,"scale":1}]}`},
		{"zero scale", `{"format":"recoflow.encoder/v1","one_hot":[{"feature":"city"},{"feature":"country"}],"standard_scalers":[{"feature":"creditLimit","mean":0,"scale":0}]}`},
		{"wrong feature", `{"format":"recoflow.encoder/v1","one_hot":[{"feature":"country"},{"feature":"city"}],"standard_scalers":[{"feature":"creditLimit","mean":0,"scale":1}]}`},
		{"missing scaler", `{"format":"recoflow.encoder/v1","one_hot":[{"feature":"city"},{"feature":"country"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e encoder
			if err := json.Unmarshal([]byte(tc.json), &e); err != nil {
				t.Fatal(err)
			}
			if err := e.init(labUsers); err == nil {
				t.Fatal("init accepted a bad encoder")
			}
		})
	}
}

// TestSpecEncoderKinds: a capped categorical feature sends the rarest
// categories to "other", a multi-categorical one splits on its delimiter
// (multi-hot, capped with hash buckets), text becomes word tokens, a log
// numeric is standardized after log(1 + x), and a missing number is the
// mean.
func TestSpecEncoderKinds(t *testing.T) {
	s := &sideSchema{
		cats: []catFeature{
			{name: "country", kind: dataset.KindCategorical, max: 2, overflow: dataset.OverflowOther},
			{name: "genres", kind: dataset.KindMultiCategorical, delim: "|", max: 2, overflow: dataset.OverflowHash},
			{name: "overview", kind: dataset.KindText, max: 3},
		},
		nums: []numFeature{{name: "price", log: true}, {name: "age"}},
	}
	cats := [][]string{
		{"Kenya", "Action|Comedy", "A chase, a chase."},
		{"Kenya", "Comedy", "Farmers and a chase"},
		{"Peru", "Drama|Comedy", ""},
		{"Chad", "Horror", "ghosts"},
	}
	nums := [][]float64{{math.E - 1, 30}, {math.E*math.E - 1, math.NaN()}, {math.E - 1, 40}, {math.E*math.E - 1, 50}}
	e := fitEncoder("item", s, cats, nums, []int{2, 1, 1, 1})
	if got := e.OneHot[0]; !slices.Equal(got.Categories, []string{"chad", "kenya"}) {
		t.Errorf("country categories %v", got.Categories)
	}
	if oh := e.OneHot[0]; !oh.Other || oh.HashBuckets != 0 {
		t.Errorf("country: other %v, buckets %d", oh.Other, oh.HashBuckets)
	}
	if oh := e.OneHot[1]; !slices.Equal(oh.Categories, []string{"action", "comedy"}) || oh.HashBuckets != 2 || oh.Other {
		t.Errorf("genres: %+v", oh)
	}
	if oh := e.OneHot[2]; !slices.Equal(oh.Categories, []string{"a", "and", "chase"}) {
		t.Errorf("overview tokens %v", oh.Categories)
	}
	if sc := e.Scalers[0]; math.Abs(sc.Mean-1.4) > 1e-12 || !sc.Log {
		t.Errorf("price scaler %+v, want mean of log1p 1.4 (weights 2,1,1,1)", sc)
	}
	if sc := e.Scalers[1]; math.Abs(sc.Mean-37.5) > 1e-12 {
		t.Errorf("age scaler %+v, want the mean of the present ages 37.5", sc)
	}
	x := e.encode([]string{"Atlantis", "comedy | ACTION|Comedy", "chase CHASE"}, []float64{-1, math.NaN()})
	// country: other at 2; genres block at 3: action 3, comedy 4; overview
	// at 3+2+2=7: chase 9; numbers at 10, 11.
	want := map[int32]float64{2: 1, 3: 1, 4: 1, 9: 1, 10: 0, 11: 0}
	if x.n != len(want) {
		t.Fatalf("encode: %d inputs %v %v, want %v", x.n, x.idx, x.val, want)
	}
	for j := range x.n {
		if v, ok := want[x.idx[j]]; !ok || v != x.val[j] {
			t.Fatalf("encode: %v %v, want %v", x.idx, x.val, want)
		}
	}
	if e.width != 12 {
		t.Errorf("width %d, want 12", e.width)
	}
	// A genre past the cap goes to a hash bucket.
	if y := e.encode([]string{"", "Horror", ""}, []float64{0, 0}); y.n != 3 || y.idx[0] < 5 || y.idx[0] > 6 {
		t.Errorf("horror: %v", y.idx)
	}
	// The JSON round trip keeps every setting.
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back encoder
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.init(s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.encode(cats[0], nums[0]), e.encode(cats[0], nums[0])) {
		t.Error("encode differs after the JSON round trip")
	}
	// Loaded against another schema: refused, naming the feature.
	other := *s
	other.nums = []numFeature{{name: "price"}, {name: "age"}}
	if err := back.init(&other); err == nil || !strings.Contains(err.Error(), "price") {
		t.Errorf("init against a standard-scaled price: %v", err)
	}
}
