package model

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/recoflow/recoflow/dataset"
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

func (f UserFeatures) categorical() []string { return []string{f.City, f.Country} }
func (f UserFeatures) numeric() []float64    { return []float64{f.CreditLimit} }
func (f ItemFeatures) categorical() []string { return []string{f.ProductLine, f.ProductScale} }
func (f ItemFeatures) numeric() []float64 {
	return []float64{f.QuantityInStock, f.BuyPrice, f.MSRP}
}

// features returns f in the generic form, in the lab schema's order.
func (f UserFeatures) features() Features {
	return Features{Cats: f.categorical(), Nums: f.numeric()}
}

// features returns f in the generic form, in the lab schema's order.
func (f ItemFeatures) features() Features {
	return Features{Cats: f.categorical(), Nums: f.numeric()}
}

// input is one tower input as a sparse vector: the positions of the
// one-hot (or multi-hot) inputs that are set, then the scaled numbers. n is
// len(idx).
type input struct {
	n   int
	idx []int32
	val []float64
}

func (x *input) add(i int32, v float64) {
	x.idx = append(x.idx, i)
	x.val = append(x.val, v)
	x.n++
}

// normalize is the encoders' text cleaning: strip surrounding white space,
// then lower-case.
func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// oneHot encodes one text feature as a block of 0/1 inputs, one per category
// seen in training (sorted). A multi-categorical feature (Kind
// multi_categorical) splits its value on Delimiter and sets one input per
// category (multi-hot); a text feature (Kind text) does the same with its
// word tokens. With Other, one more input takes every category not in
// Categories; with HashBuckets, HashBuckets more inputs take them, by the
// FNV-1a hash of the normalized category. Without either, such categories
// are ignored. The lab's encoders have neither, and no Kind.
type oneHot struct {
	Feature     string   `json:"feature"`
	Kind        string   `json:"kind,omitempty"`
	Delimiter   string   `json:"delimiter,omitempty"`
	Categories  []string `json:"categories"`
	Other       bool     `json:"other,omitempty"`
	HashBuckets int      `json:"hash_buckets,omitempty"`

	index map[string]int32
}

// width is the number of inputs of the block.
func (oh *oneHot) width() int {
	w := len(oh.Categories) + oh.HashBuckets
	if oh.Other {
		w++
	}
	return w
}

// values splits a raw value into its normalized categories: one for a
// categorical feature, each delimited one for a multi-categorical
// feature, the word tokens for text. Empty ones are left out.
func (oh *oneHot) values(raw string) []string {
	switch oh.Kind {
	case dataset.KindMultiCategorical:
		var out []string
		for _, p := range strings.Split(raw, oh.Delimiter) {
			if v := normalize(p); v != "" {
				out = append(out, v)
			}
		}
		return out
	case dataset.KindText:
		return tokens(raw)
	}
	if v := normalize(raw); v != "" {
		return []string{v}
	}
	return nil
}

// tokens splits text into lower-case runs of letters and digits.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// standardScaler maps x to (x - Mean) / Scale; with Log, log(1 + x) takes
// the place of x (a negative x counts as missing).
type standardScaler struct {
	Feature string  `json:"feature"`
	Log     bool    `json:"log,omitempty"`
	Mean    float64 `json:"mean"`
	Scale   float64 `json:"scale"`
}

// transform is x as the scaler standardizes it: x, or log(1 + x); NaN for
// a value that has none.
func (s *standardScaler) transform(x float64) float64 {
	if !s.Log {
		return x
	}
	if !(x >= 0) {
		return math.NaN()
	}
	return math.Log1p(x)
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

// features returns the number of features the encoder encodes (the fan-in
// the towers are initialized for).
func (e *encoder) features() int { return len(e.OneHot) + len(e.Scalers) }

// fitEncoder learns the categories and scaling of one side (described by
// s) from its entities, weighting each by w (its number of training
// ratings, so the statistics are those of the training rows, as a
// scikit-learn ColumnTransformer fitted on the joined table would give).
// Entities with weight 0 contribute nothing; so do missing (non-finite)
// numbers. Scale is the population standard deviation, or 1 when that is
// 0. A capped categorical feature keeps its MaxCategories most weighty
// categories (ties by name) and sends the rest to an "other" input or to
// hash buckets, as s says.
func fitEncoder(side string, s *sideSchema, cats [][]string, nums [][]float64, w []int) *encoder {
	e := &encoder{
		Format:        encoderFormat,
		Side:          side,
		Normalize:     "trim+lowercase",
		HandleUnknown: "ignore",
	}
	for c, cf := range s.cats {
		oh := oneHot{Feature: cf.name, Delimiter: cf.delim}
		if cf.kind != dataset.KindCategorical {
			oh.Kind = cf.kind
		}
		seen := make(map[string]float64)
		for k := range cats {
			if w[k] == 0 {
				continue
			}
			for _, v := range oh.values(cats[k][c]) {
				seen[v] += float64(w[k])
			}
		}
		vocab := make([]string, 0, len(seen))
		for v := range seen {
			vocab = append(vocab, v)
		}
		if cf.max > 0 && len(vocab) > cf.max {
			slices.SortFunc(vocab, func(a, b string) int {
				return cmp.Or(cmp.Compare(seen[b], seen[a]), strings.Compare(a, b))
			})
			vocab = vocab[:cf.max]
			switch cf.overflow {
			case dataset.OverflowHash:
				oh.HashBuckets = cf.max
			case dataset.OverflowOther:
				oh.Other = true
			}
		}
		slices.Sort(vocab)
		oh.Categories = vocab
		e.OneHot = append(e.OneHot, oh)
	}
	for j, nf := range s.nums {
		sc := standardScaler{Feature: nf.name, Log: nf.log}
		var sw, sx float64
		for k := range nums {
			x := sc.transform(nums[k][j])
			if !isFinite(x) {
				continue
			}
			sw += float64(w[k])
			sx += float64(w[k]) * x
		}
		mean := 0.0
		if sw > 0 {
			mean = sx / sw
		}
		var sv float64
		for k := range nums {
			x := sc.transform(nums[k][j])
			if !isFinite(x) {
				continue
			}
			d := x - mean
			sv += float64(w[k]) * d * d
		}
		scale := 1.0
		if sw > 0 {
			if s := math.Sqrt(sv / sw); s > 0 && !math.IsInf(s, 0) {
				scale = s
			}
		}
		sc.Mean, sc.Scale = mean, scale
		e.Scalers = append(e.Scalers, sc)
	}
	if err := e.init(s); err != nil {
		panic(err) // fitted encoders are consistent by construction
	}
	return e
}

// init checks a fitted or loaded encoder against the features of its side
// and builds its lookup tables.
func (e *encoder) init(s *sideSchema) error {
	if e.Format != encoderFormat {
		return fmt.Errorf("%s encoder: format %q, want %q", e.Side, e.Format, encoderFormat)
	}
	if len(e.OneHot) != len(s.cats) || len(e.Scalers) != len(s.nums) {
		return fmt.Errorf("%s encoder: %d one-hot and %d numeric features, want %d and %d", e.Side, len(e.OneHot), len(e.Scalers), len(s.cats), len(s.nums))
	}
	e.offsets = make([]int32, len(e.OneHot))
	width := 0
	for c := range e.OneHot {
		oh := &e.OneHot[c]
		cf := s.cats[c]
		if oh.Feature != cf.name {
			return fmt.Errorf("%s encoder: one-hot feature %d is %q, want %q", e.Side, c+1, oh.Feature, cf.name)
		}
		kind := oh.Kind
		if kind == "" {
			kind = dataset.KindCategorical
		}
		if kind != cf.kind || oh.Delimiter != cf.delim {
			return fmt.Errorf("%s encoder: feature %s is %s (delimiter %q), want %s (delimiter %q)", e.Side, oh.Feature, kind, oh.Delimiter, cf.kind, cf.delim)
		}
		if kind == dataset.KindMultiCategorical && oh.Delimiter == "" {
			return fmt.Errorf("%s encoder: multi-categorical feature %s has no delimiter", e.Side, oh.Feature)
		}
		if oh.HashBuckets < 0 || oh.HashBuckets > 1<<20 || (oh.Other && oh.HashBuckets > 0) {
			return fmt.Errorf("%s encoder: feature %s: %d hash buckets (other: %v), want 0 to %d and not both", e.Side, oh.Feature, oh.HashBuckets, oh.Other, 1<<20)
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
		width += oh.width()
	}
	for j, sc := range e.Scalers {
		if sc.Feature != s.nums[j].name || sc.Log != s.nums[j].log {
			return fmt.Errorf("%s encoder: numeric feature %d is %q (log scaling %v), want %q (log scaling %v)", e.Side, j+1, sc.Feature, sc.Log, s.nums[j].name, s.nums[j].log)
		}
		if !isFinite(sc.Mean) || !isFinite(sc.Scale) || sc.Scale <= 0 {
			return fmt.Errorf("%s encoder: scaler of %s has mean %v and scale %v, want finite numbers and scale > 0", e.Side, sc.Feature, sc.Mean, sc.Scale)
		}
	}
	e.width = width + len(e.Scalers)
	return nil
}

// encode maps raw features to a sparse tower input. Unknown or empty
// categories are left out (or go to the "other" input or a hash bucket,
// when the feature has them); a category repeated in a multi-valued value
// counts once. A missing or non-finite number is encoded as 0 (the
// training mean).
func (e *encoder) encode(cats []string, nums []float64) input {
	x := input{idx: make([]int32, 0, len(cats)+len(nums)), val: make([]float64, 0, len(cats)+len(nums))}
	for c, v := range cats {
		oh := &e.OneHot[c]
		if oh.Kind == "" {
			// The lab's path: one category, no overflow.
			if i, ok := oh.index[normalize(v)]; ok {
				x.add(e.offsets[c]+i, 1)
			} else if oh.Other && normalize(v) != "" {
				x.add(e.offsets[c]+int32(len(oh.Categories)), 1)
			} else if oh.HashBuckets > 0 && normalize(v) != "" {
				x.add(e.offsets[c]+int32(len(oh.Categories))+bucket(normalize(v), oh.HashBuckets), 1)
			}
			continue
		}
		start := len(x.idx)
		for _, cat := range oh.values(v) {
			var i int32
			if k, ok := oh.index[cat]; ok {
				i = k
			} else if oh.Other {
				i = int32(len(oh.Categories))
			} else if oh.HashBuckets > 0 {
				i = int32(len(oh.Categories)) + bucket(cat, oh.HashBuckets)
			} else {
				continue
			}
			i += e.offsets[c]
			if !slices.Contains(x.idx[start:], i) {
				x.add(i, 1)
			}
		}
	}
	base := int32(e.width - len(e.Scalers))
	for j, v := range nums {
		s := &e.Scalers[j]
		z := 0.0
		if v = s.transform(v); isFinite(v) {
			if z = (v - s.Mean) / s.Scale; !isFinite(z) {
				z = 0
			}
		}
		x.add(base+int32(j), z)
	}
	return x
}

// bucket is the hash bucket of a normalized category: FNV-1a, modulo n.
func bucket(v string, n int) int32 {
	h := fnv.New32a()
	h.Write([]byte(v))
	return int32(h.Sum32() % uint32(n))
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
