package pipeline

import (
	"math"
	"strconv"

	"github.com/recoflow/recoflow/internal/jsonout"
	"github.com/recoflow/recoflow/recommend"
)

// The output's two added keys are written by hand, without reflection,
// byte for byte as encoding/json wrote the structs they replace (the test
// TestEncodingMatchesEncodingJSON compares the two on many records):
//
//	recommended_items  [{"id":"S10_1678","score":0.912345},…]
//	similar_items      {"product_code":"S50_1514","similar_items":[{"id":"S10_1949","distance":0.087655},…]}
//
// An event without a browsed item gets {"product_code":"","similar_items":[]}:
// the same keys and types as every other record (never null, never a
// missing key), so a schema inferred from any record fits them all; the
// empty product code says that nothing was browsed. Scores and distances
// are rounded to six decimals and written in encoding/json's shortest form.

// appendRecommended appends the lab's recommended_items array.
func appendRecommended(dst []byte, items []recommend.Item) []byte {
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = jsonout.AppendString(dst, it.ID)
		dst = append(dst, `,"score":`...)
		dst = appendRound6(dst, it.Score)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendSimilar appends the lab's similar_items object.
func appendSimilar(dst []byte, productCode string, items []recommend.Item) []byte {
	dst = append(dst, `{"product_code":`...)
	dst = jsonout.AppendString(dst, productCode)
	dst = append(dst, `,"similar_items":[`...)
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = jsonout.AppendString(dst, it.ID)
		dst = append(dst, `,"distance":`...)
		dst = appendRound6(dst, it.Distance)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendRound6 appends x rounded to six decimals, as encoding/json writes
// the float64 that strconv parses from x formatted with six decimals.
//
// For |x| < 1e9 that is the six-decimal text with its trailing zeros (and
// then a trailing point) removed: the text has at most 16 significant
// digits, so it is the shortest one that reads back as the same float64,
// which is what encoding/json writes ('f' format for magnitudes from 1e-6
// to 1e21; a rounded non-zero value is at least 1e-6). "-0.000000"
// becomes "-0", as encoding/json writes a negative zero. Larger or
// non-finite values take the slow path, unchanged.
func appendRound6(dst []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 1e9 {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 6, 64), 64)
		return append(dst, mustJSON(v)...)
	}
	dst = strconv.AppendFloat(dst, x, 'f', 6, 64)
	end := len(dst)
	for dst[end-1] == '0' {
		end--
	}
	if dst[end-1] == '.' {
		end--
	}
	return dst[:end]
}
