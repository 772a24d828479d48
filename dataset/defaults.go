package dataset

import (
	"maps"
	"slices"
	"strings"
	"unicode"
)

// WithDefaults returns a copy of s with every optional setting filled:
//   - name: the interactions table's name ("interactions" for a query);
//   - features: overflow "other" when capped, delimiter "|", scaling
//     "standard", max_tokens 10000;
//   - lake.dataset: the name with "_ml_training" appended, made a safe path
//     segment; lake.partition: the users' id column;
//   - stream: the lab's field names — session_id, browse_history,
//     quantity, in_shopping_cart — and the users' id, the user features
//     and the items' id in snake_case (customerNumber → customer_number).
//
// s should be valid (Validate); the copy shares nothing with s.
func (s *Spec) WithDefaults() Spec {
	d := s.clone()
	if d.Name == "" {
		d.Name = d.Interactions.Table
		if d.Name == "" {
			d.Name = "interactions"
		}
	}
	for _, e := range []*Entity{&d.Users, &d.Items} {
		for i := range e.Features {
			f := &e.Features[i]
			switch f.Kind {
			case KindCategorical, KindMultiCategorical:
				if f.MaxCategories > 0 && f.Overflow == "" {
					f.Overflow = OverflowOther
				}
				if f.Kind == KindMultiCategorical && f.Delimiter == "" {
					f.Delimiter = DefaultDelimiter
				}
			case KindNumeric:
				if f.Scaling == "" {
					f.Scaling = ScalingStandard
				}
			case KindText:
				if f.MaxTokens == 0 {
					f.MaxTokens = DefaultMaxTokens
				}
			}
		}
	}
	if d.Lake.Dataset == "" {
		d.Lake.Dataset = pathSegment(d.Name) + "_ml_training"
	}
	if d.Lake.Partition == "" {
		d.Lake.Partition = d.Users.ID
	}
	if d.Stream == nil {
		st := &Stream{
			Session:      "session_id",
			UserID:       SnakeCase(d.Users.ID),
			BrowsedItems: "browse_history",
			ItemID:       SnakeCase(d.Items.ID),
			Quantity:     "quantity",
			InCart:       "in_shopping_cart",
		}
		for _, f := range d.Users.Features {
			if st.UserFeatures == nil {
				st.UserFeatures = map[string]string{}
			}
			st.UserFeatures[f.FeatureName()] = SnakeCase(f.FeatureName())
		}
		d.Stream = st
	}
	return d
}

// clone returns a deep copy of s.
func (s *Spec) clone() Spec {
	d := *s
	if s.Interactions.Feedback.Scale != nil {
		sc := *s.Interactions.Feedback.Scale
		d.Interactions.Feedback.Scale = &sc
	}
	d.Interactions.Feedback.Weights = maps.Clone(s.Interactions.Feedback.Weights)
	for _, e := range []*Entity{&d.Users, &d.Items} {
		e.Features = slices.Clone(e.Features)
		e.Passthrough = slices.Clone(e.Passthrough)
	}
	if s.Stream != nil {
		st := *s.Stream
		st.UserFeatures = maps.Clone(s.Stream.UserFeatures)
		d.Stream = &st
	}
	return d
}

// SnakeCase turns a column name into the lab's event-field style:
// customerNumber → customer_number, "Credit Limit" → credit_limit, MSRP →
// msrp.
func SnakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsUpper(r):
			prevLower := i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]))
			nextLower := i > 0 && i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1])
			if (prevLower || nextLower) && b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// pathSegment makes name a safe lake path segment: runs of anything but
// letters, digits, '_', '-' and '.' become '_'.
func pathSegment(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.') {
			b.WriteRune(r)
		} else if !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_.")
	if s == "" {
		return "interactions"
	}
	return s
}
