package dataset

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Validate checks s on its own, before any source is opened: every
// required key is set, every kind, id type, scaling and overflow is one
// the spec knows, settings apply to the kind they are given for, and the
// training data's column names are distinct. Defaults need not be filled.
// The error is an *Error listing every problem with its key path.
func (s *Spec) Validate() error {
	var ps problems
	if s.Version != 1 {
		if s.Version == 0 {
			ps.add("version", "missing; want 1")
		} else {
			ps.add("version", "%d is not a spec version this recoflow reads; want 1", s.Version)
		}
	}
	s.validateInteractions(&ps)
	s.Users.validate("users", &ps)
	s.Items.validate("items", &ps)
	s.validateColumns(&ps)
	s.validateLake(&ps)
	s.validateStream(&ps)
	return ps.err(s.origin)
}

func required(ps *problems, path, value, what string) bool {
	if strings.TrimSpace(value) == "" {
		ps.add(path, "missing; want %s", what)
		return false
	}
	return true
}

func choice(ps *problems, path, value string, valid []string, what string) bool {
	if value == "" {
		ps.add(path, "missing; want %s", oneOf(valid))
		return false
	}
	if !slices.Contains(valid, value) {
		ps.add(path, "unknown %s %q%s (want %s)", what, value, suggest(value, valid), oneOf(valid))
		return false
	}
	return true
}

func (s *Spec) validateInteractions(ps *problems) {
	in := &s.Interactions
	switch {
	case in.Table == "" && strings.TrimSpace(in.Query) == "":
		ps.add("interactions", "want a table or a query (neither is set)")
	case in.Table != "" && in.Query != "":
		ps.add("interactions.query", "set either table or query, not both")
	case in.Query != "":
		q := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(in.Query), ";"))
		if first, _, _ := strings.Cut(q, " "); !strings.EqualFold(first, "select") && !strings.EqualFold(first, "with") {
			ps.add("interactions.query", "want one SELECT statement, got one starting %q", first)
		} else if strings.Contains(q, ";") {
			ps.add("interactions.query", "want one SELECT statement; it holds a ';'")
		}
	}
	required(ps, "interactions.user_key", in.UserKey, "the column with the user's id")
	required(ps, "interactions.item_key", in.ItemKey, "the column with the item's id")
	fb := &in.Feedback
	if !choice(ps, "interactions.feedback.kind", fb.Kind, FeedbackKinds, "feedback kind") {
		return
	}
	switch fb.Kind {
	case FeedbackExplicit:
		required(ps, "interactions.feedback.column", fb.Column, "the column with the rating")
		switch {
		case fb.Scale == nil:
			ps.add("interactions.feedback.scale", "missing; explicit feedback wants its scale, e.g. {min: 1, max: 5}")
		case !(fb.Scale.Min < fb.Scale.Max) || math.IsInf(fb.Scale.Min, 0) || math.IsInf(fb.Scale.Max, 0):
			ps.add("interactions.feedback.scale", "min %g must be below max %g", fb.Scale.Min, fb.Scale.Max)
		}
	case FeedbackCount:
		if fb.Column != "" {
			ps.add("interactions.feedback.column", "a count needs no column (each row counts once); use kind %q to weigh rows by a column", FeedbackQuantity)
		}
	case FeedbackQuantity:
		required(ps, "interactions.feedback.column", fb.Column, "the column with the quantity")
	case FeedbackWeight:
		required(ps, "interactions.feedback.column", fb.Column, "the column with the event type")
		if len(fb.Weights) == 0 {
			ps.add("interactions.feedback.weights", "missing; kind weight wants each event type's weight, e.g. {view: 1, cart: 3, purchase: 5}")
		}
		for _, k := range sortedKeys(fb.Weights) {
			if w := fb.Weights[k]; !(w > 0) || math.IsInf(w, 0) {
				ps.add("interactions.feedback.weights."+k, "weight %g; want a positive number", w)
			}
		}
	}
	if fb.Kind != FeedbackExplicit && fb.Scale != nil {
		ps.add("interactions.feedback.scale", "a scale applies only to kind %q", FeedbackExplicit)
	}
	if fb.Kind != FeedbackWeight && len(fb.Weights) > 0 {
		ps.add("interactions.feedback.weights", "weights apply only to kind %q", FeedbackWeight)
	}
}

func (e *Entity) validate(side string, ps *problems) {
	required(ps, side+".table", e.Table, "the table of "+side)
	required(ps, side+".id", e.ID, "the id column of "+side)
	choice(ps, side+".id_type", e.IDType, IDTypes, "id type")
	seen := map[string]string{}
	for i, f := range e.Features {
		p := fmt.Sprintf("%s.features[%d]", side, i)
		if required(ps, p+".column", f.Column, "a column of "+e.Table) {
			if prev, dup := seen[f.Column]; dup {
				ps.add(p+".column", "column %q is already %s", f.Column, prev)
			}
			seen[f.Column] = p
			if f.Column == e.ID {
				ps.add(p+".column", "%q is the id column of %s; it is not also a feature", f.Column, side)
			}
		}
		if !choice(ps, p+".kind", f.Kind, Kinds, "kind") {
			continue
		}
		cat := f.Kind == KindCategorical || f.Kind == KindMultiCategorical
		if !cat && f.MaxCategories != 0 {
			ps.add(p+".max_categories", "applies only to kinds %q and %q", KindCategorical, KindMultiCategorical)
		}
		if !cat && f.Overflow != "" {
			ps.add(p+".overflow", "applies only to kinds %q and %q", KindCategorical, KindMultiCategorical)
		}
		if f.Kind != KindMultiCategorical && f.Delimiter != "" {
			ps.add(p+".delimiter", "applies only to kind %q", KindMultiCategorical)
		}
		if f.Kind != KindNumeric && f.Scaling != "" {
			ps.add(p+".scaling", "applies only to kind %q", KindNumeric)
		}
		if f.Kind != KindText && f.MaxTokens != 0 {
			ps.add(p+".max_tokens", "applies only to kind %q", KindText)
		}
		if f.MaxCategories < 0 {
			ps.add(p+".max_categories", "%d; want 0 (no cap) or more", f.MaxCategories)
		}
		if cat && f.Overflow != "" {
			if choice(ps, p+".overflow", f.Overflow, Overflows, "overflow") && f.MaxCategories == 0 {
				ps.add(p+".overflow", "%q needs max_categories (the cap the other categories overflow)", f.Overflow)
			}
		}
		if f.Kind == KindMultiCategorical && f.Delimiter != "" && strings.TrimSpace(f.Delimiter) == "" && f.Delimiter != "\t" {
			ps.add(p+".delimiter", "%q; want a visible separator such as \"|\" or \",\"", f.Delimiter)
		}
		if f.Kind == KindNumeric && f.Scaling != "" {
			choice(ps, p+".scaling", f.Scaling, Scalings, "scaling")
		}
		if f.MaxTokens < 0 {
			ps.add(p+".max_tokens", "%d; want a positive vocabulary size", f.MaxTokens)
		}
		if f.Name != "" && !validName(f.Name) {
			ps.add(p+".name", "%q; want letters, digits, '_' or '-'", f.Name)
		}
	}
	for i, c := range e.Passthrough {
		p := fmt.Sprintf("%s.passthrough[%d]", side, i)
		if !required(ps, p, c, "a column of "+e.Table) {
			continue
		}
		if prev, dup := seen[c]; dup {
			ps.add(p, "column %q is already %s", c, prev)
		}
		seen[c] = p
	}
}

func validName(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			return false
		}
	}
	return s != ""
}

// column is one column of the training data and the key that names it.
type column struct {
	name, path string
}

// trainingColumns returns the columns of the training data s describes, in
// order: the user's id, features and passthrough columns, the item's, the
// feedback and the timestamp.
func (s *Spec) trainingColumns() []column {
	var cols []column
	side := func(e *Entity, name string) {
		if e.ID != "" {
			cols = append(cols, column{e.ID, name + ".id"})
		}
		for i, f := range e.Features {
			switch {
			case f.Name != "":
				cols = append(cols, column{f.Name, fmt.Sprintf("%s.features[%d].name", name, i)})
			case f.Column != "":
				cols = append(cols, column{f.Column, fmt.Sprintf("%s.features[%d].column", name, i)})
			}
		}
		for i, c := range e.Passthrough {
			cols = append(cols, column{c, fmt.Sprintf("%s.passthrough[%d]", name, i)})
		}
	}
	side(&s.Users, "users")
	side(&s.Items, "items")
	if c := s.Interactions.Feedback.Column; c != "" {
		cols = append(cols, column{c, "interactions.feedback.column"})
	}
	if c := s.Interactions.Timestamp; c != "" {
		cols = append(cols, column{c, "interactions.timestamp"})
	}
	return cols
}

// validateColumns checks that the training data's column names are
// distinct: the users' and items' tables are joined into one row.
func (s *Spec) validateColumns(ps *problems) {
	seen := map[string]string{}
	for _, c := range s.trainingColumns() {
		if prev, dup := seen[c.name]; dup {
			ps.add(c.path, "%q is also %s, and the training data needs distinct column names; give one a distinct name (features take name: …)", c.name, strings.TrimSuffix(strings.TrimSuffix(prev, ".column"), ".name"))
			continue
		}
		seen[c.name] = c.path
	}
}

// validDataset is a lake prefix: one path segment, not hidden.
var validDataset = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// reservedPrefixes are the lake prefixes recoflow writes other data under.
var reservedPrefixes = []string{"ml-artifacts", "recommendations", "recommendations-errors"}

func (s *Spec) validateLake(ps *problems) {
	if d := s.Lake.Dataset; d != "" {
		switch {
		case !validDataset.MatchString(d) || len(d) > 200:
			ps.add("lake.dataset", "%q; want one path segment of letters, digits, '_', '-' or '.', not starting with '_' or '.'", d)
		case slices.Contains(reservedPrefixes, d):
			ps.add("lake.dataset", "%q is where recoflow keeps other data; choose another name", d)
		}
	}
	if p := s.Lake.Partition; p != "" {
		var names []string
		for _, c := range s.trainingColumns() {
			names = append(names, c.name)
		}
		if !slices.Contains(names, p) {
			ps.add("lake.partition", "%q is not a column of the training data%s", p, suggest(p, names))
		}
	}
}

func (s *Spec) validateStream(ps *problems) {
	st := s.Stream
	if st == nil {
		return
	}
	required(ps, "stream.user_id", st.UserID, "the event field with the user's id")
	required(ps, "stream.browsed_items", st.BrowsedItems, "the event field with the list of browsed items")
	required(ps, "stream.item_id", st.ItemID, "the field of a browsed item with the item's id")
	var names []string
	for _, f := range s.Users.Features {
		names = append(names, f.FeatureName())
	}
	for _, k := range sortedKeys(st.UserFeatures) {
		p := "stream.user_features." + k
		if !slices.Contains(names, k) {
			ps.add(p, "%q is not a feature of users%s", k, suggest(k, names))
		}
		required(ps, p, st.UserFeatures[k], "the event field that carries it")
	}
	top := map[string]string{}
	for _, f := range []struct{ path, field string }{{"stream.session", st.Session}, {"stream.user_id", st.UserID}, {"stream.browsed_items", st.BrowsedItems}} {
		if f.field == "" {
			continue
		}
		if prev, dup := top[f.field]; dup {
			ps.add(f.path, "event field %q is already %s", f.field, prev)
		}
		top[f.field] = f.path
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
