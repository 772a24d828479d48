package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/model"
)

// Feature is one user or item feature of a model's dataset spec, as
// requests name it.
type Feature struct {
	// Name is the feature's name in the spec (its column, or its name
	// when the spec gives one).
	Name string
	// Kind is the spec's kind: dataset.KindCategorical,
	// KindMultiCategorical, KindNumeric or KindText.
	Kind string
	// Delimiter separates the categories of a multi-categorical value.
	Delimiter string
	// slot is the feature's index in model.Features.Cats, or in Nums for a
	// numeric one.
	slot int
}

// Numeric reports whether the feature takes a number.
func (f Feature) Numeric() bool { return f.Kind == dataset.KindNumeric }

// FeatureSchema is the features of one side (users or items) of a model's
// dataset spec, by name: it turns named values into the model.Features a
// model's tower takes (categorical, multi-categorical and text values in
// Cats, numbers in Nums, each in the spec's order). It is immutable and
// safe for concurrent use.
type FeatureSchema struct {
	features   []Feature
	byName     map[string]int
	cats, nums int
}

// NewFeatureSchema returns the schema of one side of a spec (with its
// defaults filled, as dataset.Spec.WithDefaults gives it).
func NewFeatureSchema(e *dataset.Entity) *FeatureSchema {
	s := &FeatureSchema{byName: map[string]int{}}
	for _, f := range e.Features {
		ft := Feature{Name: f.FeatureName(), Kind: f.Kind}
		if f.Kind == dataset.KindMultiCategorical {
			ft.Delimiter = f.Delimiter
		}
		if ft.Numeric() {
			ft.slot = s.nums
			s.nums++
		} else {
			ft.slot = s.cats
			s.cats++
		}
		s.byName[ft.Name] = len(s.features)
		s.features = append(s.features, ft)
	}
	return s
}

// Features returns the side's features, in the spec's order.
func (s *FeatureSchema) Features() []Feature { return append([]Feature(nil), s.features...) }

// Names returns the features' names, in the spec's order.
func (s *FeatureSchema) Names() []string {
	out := make([]string, len(s.features))
	for i, f := range s.features {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the feature named name, and whether the side has it.
func (s *FeatureSchema) Lookup(name string) (Feature, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Feature{}, false
	}
	return s.features[i], true
}

// Empty returns features with no value given: every categorical one ""
// (ignored by the encoders) and every number NaN (counted as the training
// mean).
func (s *FeatureSchema) Empty() model.Features {
	f := model.Features{Cats: make([]string, s.cats), Nums: make([]float64, s.nums)}
	for i := range f.Nums {
		f.Nums[i] = math.NaN()
	}
	return f
}

// Fits reports whether f has as many values as the schema's features.
func (s *FeatureSchema) Fits(f model.Features) bool {
	return len(f.Cats) == s.cats && len(f.Nums) == s.nums
}

// SetText sets the value of a categorical, multi-categorical or text
// feature in f (from Empty). A multi-categorical value is written as in
// its column: categories separated by the delimiter (SetList takes a
// list). A numeric feature is an error naming it.
func (s *FeatureSchema) SetText(f *model.Features, ft Feature, text string) error {
	if ft.Numeric() {
		return fmt.Errorf("feature %s is numeric: want a number, not text", ft.Name)
	}
	f.Cats[ft.slot] = text
	return nil
}

// SetNumber sets the value of a numeric feature in f (from Empty); any
// other kind is an error naming the feature.
func (s *FeatureSchema) SetNumber(f *model.Features, ft Feature, x float64) error {
	if !ft.Numeric() {
		return fmt.Errorf("feature %s is %s: want text, not a number", ft.Name, ft.Kind)
	}
	f.Nums[ft.slot] = x
	return nil
}

// SetList sets a multi-categorical (or other non-numeric) feature from a
// list of categories, joined by the feature's delimiter. A category that
// holds the delimiter, which would read as two, is an error naming it.
func (s *FeatureSchema) SetList(f *model.Features, ft Feature, values []string) error {
	if ft.Numeric() {
		return fmt.Errorf("feature %s is numeric: want a number, not a list", ft.Name)
	}
	if ft.Kind != dataset.KindMultiCategorical {
		return fmt.Errorf("feature %s is %s: want one string, not a list", ft.Name, ft.Kind)
	}
	for i, v := range values {
		if strings.Contains(v, ft.Delimiter) {
			return fmt.Errorf("feature %s: category %d %q holds the delimiter %q", ft.Name, i, v, ft.Delimiter)
		}
	}
	f.Cats[ft.slot] = strings.Join(values, ft.Delimiter)
	return nil
}

// FeaturesKey returns f as a string of its own that identifies it (a
// cache key): the texts length-prefixed, the numbers by their bits, so
// that even a NaN finds itself.
func FeaturesKey(f *model.Features) string {
	n := 0
	for _, c := range f.Cats {
		n += len(c) + 4
	}
	b := make([]byte, 0, n+17*len(f.Nums)+2)
	for _, c := range f.Cats {
		b = strconv.AppendInt(b, int64(len(c)), 10)
		b = append(b, ':')
		b = append(b, c...)
	}
	b = append(b, '|')
	for _, x := range f.Nums {
		b = strconv.AppendUint(b, math.Float64bits(x), 16)
		b = append(b, ',')
	}
	return string(b)
}

// labSpec is the built-in spec with its defaults, whose user features
// (city, country, creditLimit) are UserFeatures'.
var labSpec = func() dataset.Spec { c := dataset.Classic(); return c.WithDefaults() }()

// UserSchema returns the user features of the engine's model, by name: its
// dataset spec's, or the built-in spec's (city, country, creditLimit) for
// a model of the lab's dataset.
func (e *Engine) UserSchema() *FeatureSchema { return e.users }

// ItemSchema is UserSchema for the items: its dataset spec's item
// features, or the lab's (productLine, productScale, quantityInStock,
// buyPrice, MSRP, as model.ItemFeatures names them in JSON) for a model
// of the lab's dataset.
func (e *Engine) ItemSchema() *FeatureSchema { return e.items }

// IsSpecModel reports whether the engine's model was trained on a dataset
// spec other than the built-in one: its users and items then take the
// spec's features (Request.Features, UserEmbeddingOf), not UserFeatures.
func (e *Engine) IsSpecModel() bool { return e.spec }

// UserEmbeddingOf returns the embedding of a user given by id and
// features in the model's generic form (UserSchema): the user tower's
// embedding of f, plus the user's learned id vector when the model was
// trained on interactions of id ("" or an id it does not know: the
// features alone). Features that do not fit the schema give an error
// wrapping ErrInvalid. It does not block.
func (e *Engine) UserEmbeddingOf(id string, f model.Features) ([]float32, error) {
	if !e.users.Fits(f) {
		return nil, e.misfit(f)
	}
	return e.model.EmbedKnownUserFeatures(e.knownUserID(id), f), nil
}

// ItemEmbeddingOf is UserEmbeddingOf for an item given by id and features
// in the model's generic form (ItemSchema): the item tower's embedding of
// f, plus the item's learned id vector when the model was trained on
// interactions of id ("" or an id it does not know: the features alone).
// For a model of the lab's dataset, f holds the lab's item features
// (productLine, productScale, quantityInStock, buyPrice, MSRP). It does
// not block.
func (e *Engine) ItemEmbeddingOf(id string, f model.Features) ([]float32, error) {
	if !e.items.Fits(f) {
		return nil, e.misfitSide("item", e.items, f)
	}
	if id != "" && !e.model.KnowsItem(id) {
		id = ""
	}
	return e.model.EmbedKnownItemFeatures(id, f), nil
}

// SimilarToItem returns the k items nearest to an item given by id and
// features, nearest first, skipping the ids in exclude. An id the store
// holds is answered as SimilarItems answers it (the item itself excluded,
// f unused); otherwise the item is the model's embedding of its features
// (ItemEmbeddingOf: with the id's learned vector when the model has one)
// and nothing but exclude is skipped; an id neither the store nor the
// model knows, given without features, is an error wrapping
// ErrUnknownItem, as for SimilarItems. Features that do not fit the
// schema, a k outside 1..MaxK, or a non-finite embedding give an error
// wrapping ErrInvalid; a store that cannot answer, or a zero embedding,
// the popular fallback as for ItemsForUser.
func (e *Engine) SimilarToItem(ctx context.Context, id string, f model.Features, k int, exclude ...string) (Answer, error) {
	if err := e.checkK(k); err != nil {
		return Answer{}, err
	}
	if !e.items.Fits(f) {
		return Answer{}, e.misfitSide("item", e.items, f)
	}
	if id != "" {
		a, err := e.SimilarItems(ctx, id, k, exclude...)
		if !errors.Is(err, ErrUnknownItem) || (blank(f) && !e.model.KnowsItem(id)) {
			return a, err // nothing else to embed: unknown as for SimilarItems
		}
	}
	v, err := e.ItemEmbeddingOf(id, f)
	if err != nil {
		return Answer{}, err
	}
	return e.ItemsForUser(ctx, v, k, exclude...)
}

// blank reports whether f has no value given (as Empty gives it).
func blank(f model.Features) bool {
	for _, c := range f.Cats {
		if c != "" {
			return false
		}
	}
	for _, x := range f.Nums {
		if !math.IsNaN(x) {
			return false
		}
	}
	return true
}

func (e *Engine) misfit(f model.Features) error { return e.misfitSide("user", e.users, f) }

func (e *Engine) misfitSide(side string, s *FeatureSchema, f model.Features) error {
	return fmt.Errorf("%w: %s features of %d categorical and %d numeric values; model %s takes %d and %d (%s)",
		ErrInvalid, side, len(f.Cats), len(f.Nums), versionName(e.model.Version()), s.cats, s.nums, strings.Join(s.Names(), ", "))
}

// schemas sets the engine's feature schemas from its model's spec.
func (e *Engine) schemas() {
	s, _ := e.model.Spec()
	if s == nil || model.IsBuiltIn(s) {
		e.users, e.items = NewFeatureSchema(&labSpec.Users), NewFeatureSchema(&labSpec.Items)
		return
	}
	d := s.WithDefaults()
	e.users, e.items, e.spec = NewFeatureSchema(&d.Users), NewFeatureSchema(&d.Items), true
}
