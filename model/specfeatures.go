package model

import (
	"slices"
	"strings"

	"github.com/recoflow/recoflow/dataset"
)

// Features are one user's or item's raw feature values in the generic
// form a dataset spec gives them: Cats holds the text of each categorical,
// multi-categorical and text feature, Nums each numeric feature (NaN when
// missing), both in the order of the spec's feature list. A
// multi-categorical value is kept as written ("Action|Comedy"); the
// encoder splits it.
type Features struct {
	Cats []string
	Nums []float64
}

// equal reports whether f and g hold the same values (NaN equal to NaN).
func (f Features) equal(g Features) bool {
	if !slices.Equal(f.Cats, g.Cats) || len(f.Nums) != len(g.Nums) {
		return false
	}
	for i, x := range f.Nums {
		y := g.Nums[i]
		if x != y && !(x != x && y != y) {
			return false
		}
	}
	return true
}

// clone returns a copy of f that shares no memory with it.
func (f Features) clone() Features {
	c := Features{Cats: make([]string, len(f.Cats)), Nums: slices.Clone(f.Nums)}
	for i, s := range f.Cats {
		c.Cats[i] = strings.Clone(s)
	}
	return c
}

// catFeature is one categorical, multi-categorical or text feature of a
// side.
type catFeature struct {
	name, kind string
	delim      string // multi_categorical only
	max        int    // cap on categories (tokens for text); 0: none
	overflow   string // dataset.OverflowOther or OverflowHash, with max (not text)
}

// numFeature is one numeric feature of a side.
type numFeature struct {
	name string
	log  bool
}

// sideSchema is the features of the users or the items, as the encoders
// see them: the categorical ones then the numeric ones, each in spec order.
type sideSchema struct {
	cats []catFeature
	nums []numFeature
}

func (s *sideSchema) catNames() []string {
	out := make([]string, len(s.cats))
	for i, c := range s.cats {
		out[i] = c.name
	}
	return out
}

func (s *sideSchema) numNames() []string {
	out := make([]string, len(s.nums))
	for i, n := range s.nums {
		out[i] = n.name
	}
	return out
}

// schemaOf returns the features of one side of a spec (with its defaults
// filled).
func schemaOf(e *dataset.Entity) *sideSchema {
	s := &sideSchema{}
	for _, f := range e.Features {
		switch f.Kind {
		case dataset.KindNumeric:
			s.nums = append(s.nums, numFeature{name: f.FeatureName(), log: f.Scaling == dataset.ScalingLog})
		case dataset.KindText:
			s.cats = append(s.cats, catFeature{name: f.FeatureName(), kind: f.Kind, max: f.MaxTokens})
		default:
			cf := catFeature{name: f.FeatureName(), kind: f.Kind, max: f.MaxCategories, overflow: f.Overflow}
			if f.Kind == dataset.KindMultiCategorical {
				cf.delim = f.Delimiter
			}
			s.cats = append(s.cats, cf)
		}
	}
	return s
}

// The lab's sides: the built-in spec's features (city, country,
// creditLimit; productLine, productScale, quantityInStock, buyPrice,
// MSRP), which UserFeatures and ItemFeatures carry.
var (
	labUsers = &sideSchema{
		cats: []catFeature{{name: "city", kind: dataset.KindCategorical}, {name: "country", kind: dataset.KindCategorical}},
		nums: []numFeature{{name: "creditLimit"}},
	}
	labItems = &sideSchema{
		cats: []catFeature{{name: "productLine", kind: dataset.KindCategorical}, {name: "productScale", kind: dataset.KindCategorical}},
		nums: []numFeature{{name: "quantityInStock"}, {name: "buyPrice"}, {name: "MSRP"}},
	}
)

// labUser returns f, of a lab dataset, as UserFeatures.
func (f Features) labUser() UserFeatures {
	return UserFeatures{City: f.Cats[0], Country: f.Cats[1], CreditLimit: f.Nums[0]}
}

// labItem returns f, of a lab dataset, as ItemFeatures.
func (f Features) labItem() ItemFeatures {
	return ItemFeatures{ProductLine: f.Cats[0], ProductScale: f.Cats[1], QuantityInStock: f.Nums[0], BuyPrice: f.Nums[1], MSRP: f.Nums[2]}
}
