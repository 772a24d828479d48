package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// UserFeatures are what the user tower knows of a shopper: the customer's
// city, country and credit limit (in currency units, 21000.00 for
// 21000.00). Text is compared after trimming spaces and lower-casing, so
// "Nantes " and "nantes" are the same city; a city or country the model was
// not trained on is ignored (its one-hot block stays zero), which is how a
// shopper the database has never seen still gets an embedding.
type UserFeatures struct {
	City        string  `json:"city"`
	Country     string  `json:"country"`
	CreditLimit float64 `json:"creditLimit"`
}

// ItemFeatures are what the item tower knows of a product. Text is
// normalized as for UserFeatures; numbers are in the dataset's units
// (pieces, currency units).
type ItemFeatures struct {
	ProductLine     string  `json:"productLine"`
	ProductScale    string  `json:"productScale"`
	QuantityInStock float64 `json:"quantityInStock"`
	BuyPrice        float64 `json:"buyPrice"`
	MSRP            float64 `json:"MSRP"`
}

// Feature names, as in the training dataset's columns.
var (
	userCategorical = []string{"city", "country"}
	userNumeric     = []string{"creditLimit"}
	itemCategorical = []string{"productLine", "productScale"}
	itemNumeric     = []string{"quantityInStock", "buyPrice", "MSRP"}
)

func (f UserFeatures) categorical() []string { return []string{f.City, f.Country} }
func (f UserFeatures) numeric() []float64    { return []float64{f.CreditLimit} }
func (f ItemFeatures) categorical() []string { return []string{f.ProductLine, f.ProductScale} }
func (f ItemFeatures) numeric() []float64 {
	return []float64{f.QuantityInStock, f.BuyPrice, f.MSRP}
}

// maxNNZ bounds the non-zero inputs of a tower: one per categorical feature
// (its one-hot position) plus one per numeric feature.
const maxNNZ = 5

// input is one tower input as a sparse vector: at most one non-zero per
// one-hot block, plus the scaled numbers. It is a value type so that the
// trainer keeps one per user and item without allocating.
type input struct {
	n   int
	idx [maxNNZ]int32
	val [maxNNZ]float64
}

// normalize is the encoders' text cleaning: strip surrounding white space,
// then lower-case.
func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// oneHot encodes one text feature as a block of 0/1 inputs, one per category
// seen in training (sorted).
type oneHot struct {
	Feature    string   `json:"feature"`
	Categories []string `json:"categories"`

	index map[string]int32
}

// standardScaler maps x to (x - Mean) / Scale.
type standardScaler struct {
	Feature string  `json:"feature"`
	Mean    float64 `json:"mean"`
	Scale   float64 `json:"scale"`
}

// encoder turns one side's features into a tower input: the one-hot blocks
// in order, then the scaled numbers. It is stored as JSON in scalers/.
type encoder struct {
	Format        string           `json:"format"`
	Side          string           `json:"side"`
	Normalize     string           `json:"normalize"`
	HandleUnknown string           `json:"handle_unknown"`
	OneHot        []oneHot         `json:"one_hot"`
	Scalers       []standardScaler `json:"standard_scalers"`

	offsets []int32 // start of each one-hot block
	width   int
}

const encoderFormat = "recoflow.encoder/v1"

// fitEncoder learns the categories and scaling of one side from its
// entities, weighting each by w (its number of training ratings, so the
// statistics are those of the training rows, as a scikit-learn
// ColumnTransformer fitted on the joined table would give). Entities with
// weight 0 contribute nothing. Scale is the population standard deviation,
// or 1 when that is 0.
func fitEncoder(side string, catNames, numNames []string, cats [][]string, nums [][]float64, w []int) *encoder {
	e := &encoder{
		Format:        encoderFormat,
		Side:          side,
		Normalize:     "trim+lowercase",
		HandleUnknown: "ignore",
	}
	for c, name := range catNames {
		seen := make(map[string]bool)
		for k := range cats {
			if w[k] == 0 {
				continue
			}
			if v := normalize(cats[k][c]); v != "" {
				seen[v] = true
			}
		}
		vocab := make([]string, 0, len(seen))
		for v := range seen {
			vocab = append(vocab, v)
		}
		slices.Sort(vocab)
		e.OneHot = append(e.OneHot, oneHot{Feature: name, Categories: vocab})
	}
	for j, name := range numNames {
		var sw, sx float64
		for k := range nums {
			sw += float64(w[k])
			sx += float64(w[k]) * nums[k][j]
		}
		mean := 0.0
		if sw > 0 {
			mean = sx / sw
		}
		var sv float64
		for k := range nums {
			d := nums[k][j] - mean
			sv += float64(w[k]) * d * d
		}
		scale := 1.0
		if sw > 0 {
			if s := math.Sqrt(sv / sw); s > 0 && !math.IsInf(s, 0) {
				scale = s
			}
		}
		e.Scalers = append(e.Scalers, standardScaler{Feature: name, Mean: mean, Scale: scale})
	}
	if err := e.init(catNames, numNames); err != nil {
		panic(err) // fitted encoders are consistent by construction
	}
	return e
}

// init checks a fitted or loaded encoder against the features of its side
// and builds its lookup tables.
func (e *encoder) init(catNames, numNames []string) error {
	if e.Format != encoderFormat {
		return fmt.Errorf("%s encoder: format %q, want %q", e.Side, e.Format, encoderFormat)
	}
	if len(e.OneHot) != len(catNames) || len(e.Scalers) != len(numNames) {
		return fmt.Errorf("%s encoder: %d one-hot and %d numeric features, want %d and %d", e.Side, len(e.OneHot), len(e.Scalers), len(catNames), len(numNames))
	}
	e.offsets = make([]int32, len(e.OneHot))
	width := 0
	for c := range e.OneHot {
		oh := &e.OneHot[c]
		if oh.Feature != catNames[c] {
			return fmt.Errorf("%s encoder: one-hot feature %d is %q, want %q", e.Side, c+1, oh.Feature, catNames[c])
		}
		oh.index = make(map[string]int32, len(oh.Categories))
		for i, v := range oh.Categories {
			if v != normalize(v) || v == "" {
				return fmt.Errorf("%s encoder: %s category %q is not normalized", e.Side, oh.Feature, v)
			}
			if _, dup := oh.index[v]; dup {
				return fmt.Errorf("%s encoder: %s category %q appears twice", e.Side, oh.Feature, v)
			}
			oh.index[v] = int32(i)
		}
		e.offsets[c] = int32(width)
		width += len(oh.Categories)
	}
	for j, s := range e.Scalers {
		if s.Feature != numNames[j] {
			return fmt.Errorf("%s encoder: numeric feature %d is %q, want %q", e.Side, j+1, s.Feature, numNames[j])
		}
		if !isFinite(s.Mean) || !isFinite(s.Scale) || s.Scale <= 0 {
			return fmt.Errorf("%s encoder: scaler of %s has mean %v and scale %v, want finite numbers and scale > 0", e.Side, s.Feature, s.Mean, s.Scale)
		}
	}
	e.width = width + len(e.Scalers)
	return nil
}

// encode maps raw features to a sparse tower input. Unknown or empty
// categories are left out; a non-finite number is encoded as 0 (the
// training mean).
func (e *encoder) encode(cats []string, nums []float64) input {
	var x input
	for c, v := range cats {
		if i, ok := e.OneHot[c].index[normalize(v)]; ok {
			x.idx[x.n] = e.offsets[c] + i
			x.val[x.n] = 1
			x.n++
		}
	}
	base := int32(e.width - len(e.Scalers))
	for j, v := range nums {
		s := e.Scalers[j]
		z := 0.0
		if isFinite(v) {
			if z = (v - s.Mean) / s.Scale; !isFinite(z) {
				z = 0
			}
		}
		x.idx[x.n] = base + int32(j)
		x.val[x.n] = z
		x.n++
	}
	return x
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
