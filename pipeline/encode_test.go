package pipeline

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/recoflow/recoflow/recommend"
)

// The structs and rounding the encoder replaced: the reference it must
// match byte for byte.
type oldRecommendedItem struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

type oldSimilarItem struct {
	ID       string  `json:"id"`
	Distance float64 `json:"distance"`
}

type oldSimilarItems struct {
	ProductCode  string           `json:"product_code"`
	SimilarItems []oldSimilarItem `json:"similar_items"`
}

func oldRound6(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 6, 64), 64)
	return v
}

func oldEncoding(t *testing.T, code string, rec, sim []recommend.Item) (string, string) {
	r := make([]oldRecommendedItem, len(rec))
	for i, it := range rec {
		r[i] = oldRecommendedItem{ID: it.ID, Score: oldRound6(it.Score)}
	}
	s := oldSimilarItems{ProductCode: code, SimilarItems: []oldSimilarItem{}}
	for _, it := range sim {
		s.SimilarItems = append(s.SimilarItems, oldSimilarItem{ID: it.ID, Distance: oldRound6(it.Distance)})
	}
	a, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(a), string(b)
}

// TestEncodingMatchesEncodingJSON compares the hand-written encoding of
// recommended_items and similar_items with encoding/json's on 200,000
// random records: scores and distances of every magnitude (including
// values on a rounding boundary, negative zero and values rounding to
// zero) and ids with characters JSON escapes.
func TestEncodingMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{"S10_1678", "S18_2795", "", "a\"b", `back\slash`, "<tag>&", "tab\there", "ünï", "\u2028", "ctl\x01", "\x7f", "plain id 42"}
	special := []float64{0, math.Copysign(0, -1), 1, -1, 2, 0.5, 1e-6, -1e-6, 5e-7, -5e-7, 4.999999e-7, 1e-7, -1e-7, 0.0000015, 0.0000025,
		0.1234565, 0.1234575, 1.0000005, 999999999.9999, -999999999.9999, 1e9, 1e12, 1e21, 1e22, 123456.7890125, 0.3, 0.1 + 0.2, math.MaxFloat64, math.SmallestNonzeroFloat64}
	value := func() float64 {
		switch rng.IntN(6) {
		case 0:
			return special[rng.IntN(len(special))]
		case 1:
			return rng.Float64()*4 - 2 // scores and distances
		case 2:
			return float64(rng.IntN(4_000_000)-2_000_000) / 1e6 // already six decimals
		case 3:
			return (float64(rng.IntN(4_000_000)-2_000_000) + 0.5) / 1e6 // on a rounding boundary
		case 4:
			return math.Ldexp(rng.Float64(), rng.IntN(80)-50) * float64(1-2*rng.IntN(2)) // any magnitude
		default:
			return float32to64(rng.Float32())
		}
	}
	items := func() []recommend.Item {
		n := rng.IntN(12)
		out := make([]recommend.Item, n)
		for i := range out {
			out[i] = recommend.Item{ID: ids[rng.IntN(len(ids))], Score: value(), Distance: value()}
		}
		return out
	}
	for i := range 200_000 {
		code := ids[rng.IntN(len(ids))]
		rec, sim := items(), items()
		if i%7 == 0 {
			code, sim = "", nil // no browsed item
		}
		wantRec, wantSim := oldEncoding(t, code, rec, sim)
		if got := string(appendRecommended(nil, rec)); got != wantRec {
			t.Fatalf("recommended_items of %+v:\n got %s\nwant %s", rec, got, wantRec)
		}
		if got := string(appendSimilar([]byte("prefix"), code, sim)); got != "prefix"+wantSim {
			t.Fatalf("similar_items of %q %+v:\n got %s\nwant %s", code, sim, got, "prefix"+wantSim)
		}
	}
}

// float32to64 widens a float32 as the vector stores' distances are.
func float32to64(f float32) float64 { return float64(f) }

func BenchmarkEncode(b *testing.B) {
	items := make([]recommend.Item, 10)
	for i := range items {
		items[i] = recommend.Item{ID: "S10_" + strconv.Itoa(1678+i), Score: 0.91234567 - float64(i)/37, Distance: 0.08765433 + float64(i)/37}
	}
	b.Run("hand", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendRecommended(buf[:0], items)
			buf = appendSimilar(buf, "S50_1514", items[:5])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		t := &testing.T{}
		for b.Loop() {
			oldEncoding(t, "S50_1514", items, items[:5])
		}
	})
}
