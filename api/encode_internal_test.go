package api

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/recoflow/recoflow/recommend"
)

// TestAppendLabItemsMatchesEncodingJSON checks that the lab answers'
// reflection-free encoder writes what encoding/json writes, byte for byte,
// and declines what it cannot write the same way.
func TestAppendLabItemsMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1e21, 1e20, 123456789.125, -2.5e-10, math.SmallestNonzeroFloat64, math.MaxFloat64, 0.1 + 0.2}
	for range 2000 {
		floats = append(floats, r.NormFloat64()*math.Pow(10, float64(r.IntN(60)-30)))
	}
	ids := []string{"S10_1678", "item-1", "", "a b", "x<y", "q\"", "é", "t\tab", "amp&", "back\\slash"}
	for n := range 4 {
		for i := 0; i+n <= len(floats); i += max(n, 1) {
			items := make([]recommend.Item, n)
			scored, dist := make([]labScored, n), make([]labDistance, n)
			for j := range n {
				items[j] = recommend.Item{ID: ids[(i+j)%len(ids)], Score: floats[i+j], Distance: -floats[i+j]}
				scored[j] = labScored{ID: items[j].ID, Score: items[j].Score}
				dist[j] = labDistance{ID: items[j].ID, Distance: items[j].Distance}
			}
			for _, c := range []struct {
				distance bool
				v        any
			}{{false, scored}, {true, dist}} {
				want, err := json.Marshal(c.v)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := appendLabItems(nil, items, c.distance)
				if ok && string(got) != string(want)+"\n" {
					t.Fatalf("%+v: got %s, encoding/json gives %s", items, got, want)
				}
				if !ok {
					for _, it := range items {
						for _, ch := range []byte(it.ID) {
							if ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '<' && ch != '>' && ch != '&' {
								continue
							}
							ok = true // declined for a reason
						}
					}
					if !ok {
						t.Fatalf("%+v: declined without a character that needs escaping", items)
					}
				}
			}
		}
	}
	if _, ok := appendLabItems(nil, []recommend.Item{{ID: "a", Score: math.NaN()}}, false); ok {
		t.Error("NaN encoded")
	}
}
