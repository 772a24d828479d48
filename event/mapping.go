package event

import (
	"fmt"
	"math"
	"strconv"

	"github.com/recoflow/recoflow/dataset"
)

// Mapping says how the fields of a stream event map onto a dataset spec's
// session, user id, user features and browsed items: the spec's stream
// section (its defaults when the spec has none), with the types of the
// spec's ids and user features. NewMapping builds one; Mapping.Decode reads
// an event through it as strictly as Decode reads the lab's. A Mapping is
// immutable and safe for concurrent use.
type Mapping struct {
	top      []topField // session, user id, user features, browsed items: the order "missing" is reported in
	item     []itemField
	features []string // the mapped user features' names, in the spec's order
	browsed  string   // the browsed items' field, for error paths
	session  bool     // a session field is mapped
	quantity bool     // a quantity field is mapped
}

// Kinds of a mapped field's value.
const (
	valSession  = iota // a non-empty string
	valIntID           // a non-negative whole number, kept as its decimal text
	valStringID        // a non-empty string
	valNumber          // a non-negative number (a numeric user feature)
	valString          // a string, may be empty (a categorical or text user feature)
	valBrowsed         // the array of browsed items
	valQuantity        // a whole number or a string of digits, at most MaxQuantity
	valInCart          // true or false
)

type topField struct {
	name    string // the event field
	kind    int
	feature int // index in Record.UserFeatures (valNumber, valString)
}

type itemField struct {
	name string
	kind int
}

// maxMapped is the most top-level fields a Mapping may map (one bit each).
const maxMapped = 64

// NewMapping builds the Mapping of spec s: its stream section, or the
// default one (dataset.Spec.WithDefaults) when s has none. s must be
// valid (dataset.Spec.Validate). Ids are read as the spec's id types say:
// an integer id is a non-negative whole JSON number and becomes its decimal
// text, a string id a non-empty JSON string. A numeric user feature is a
// non-negative JSON number; any other kind is a JSON string (a
// multi-categorical one delimited as in its column). The error names the
// spec key at fault, e.g. "stream.user_features.age: ...".
func NewMapping(s *dataset.Spec) (*Mapping, error) {
	d := s.WithDefaults()
	st := d.Stream
	m := &Mapping{browsed: st.BrowsedItems, session: st.Session != "", quantity: st.Quantity != ""}
	used := map[string]string{FieldRecommendedItems: "reserved for the output", FieldSimilarItems: "reserved for the output"}
	addTop := func(key, field string, kind, feature int) error {
		if field == "" {
			return fmt.Errorf("dataset spec: %s: missing; want an event field", key)
		}
		if prev, dup := used[field]; dup {
			return fmt.Errorf("dataset spec: %s: event field %q is already %s", key, field, prev)
		}
		used[field] = key
		m.top = append(m.top, topField{name: field, kind: kind, feature: feature})
		return nil
	}
	idKind := func(key, idType string) (int, error) {
		switch idType {
		case dataset.IDInteger:
			return valIntID, nil
		case dataset.IDString:
			return valStringID, nil
		}
		return 0, fmt.Errorf("dataset spec: %s: unknown id type %q", key, idType)
	}
	if m.session {
		if err := addTop("stream.session", st.Session, valSession, 0); err != nil {
			return nil, err
		}
	}
	kind, err := idKind("users.id_type", d.Users.IDType)
	if err != nil {
		return nil, err
	}
	if err := addTop("stream.user_id", st.UserID, kind, 0); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, f := range d.Users.Features {
		name := f.FeatureName()
		known[name] = true
		field, ok := st.UserFeatures[name]
		if !ok {
			continue
		}
		kind := valString
		if f.Kind == dataset.KindNumeric {
			kind = valNumber
		}
		if err := addTop("stream.user_features."+name, field, kind, len(m.features)); err != nil {
			return nil, err
		}
		m.features = append(m.features, name)
	}
	for name := range st.UserFeatures {
		if !known[name] {
			return nil, fmt.Errorf("dataset spec: stream.user_features.%s: %q is not a feature of users", name, name)
		}
	}
	if err := addTop("stream.browsed_items", st.BrowsedItems, valBrowsed, 0); err != nil {
		return nil, err
	}
	if len(m.top) > maxMapped {
		return nil, fmt.Errorf("dataset spec: stream: %d event fields mapped, more than %d", len(m.top), maxMapped)
	}

	kind, err = idKind("items.id_type", d.Items.IDType)
	if err != nil {
		return nil, err
	}
	inItem := map[string]string{}
	for _, f := range []struct {
		key, field string
		kind       int
		optional   bool
	}{
		{"stream.item_id", st.ItemID, kind, false},
		{"stream.quantity", st.Quantity, valQuantity, true},
		{"stream.in_cart", st.InCart, valInCart, true},
	} {
		if f.field == "" {
			if f.optional {
				continue
			}
			return nil, fmt.Errorf("dataset spec: %s: missing; want the field of a browsed item with the item's id", f.key)
		}
		if prev, dup := inItem[f.field]; dup {
			return nil, fmt.Errorf("dataset spec: %s: browsed-item field %q is already %s", f.key, f.field, prev)
		}
		inItem[f.field] = f.key
		m.item = append(m.item, itemField{name: f.field, kind: f.kind})
	}
	return m, nil
}

// LabMapping returns the Mapping of the built-in classicmodels spec: the
// lab's event format, which it reads exactly as Decode does.
func LabMapping() *Mapping {
	s := dataset.Classic()
	m, err := NewMapping(&s)
	if err != nil {
		panic("event: the built-in spec's stream mapping: " + err.Error()) // a bug: the built-in spec is tested
	}
	return m
}

// UserFeatures returns the names of the user features an event carries, in
// the spec's order: the order of Record.UserFeatures.
func (m *Mapping) UserFeatures() []string { return append([]string(nil), m.features...) }

// Record is one stream event read through a Mapping: the lab's Event made
// general.
type Record struct {
	// SessionID is the session's id; empty when the mapping has no session
	// field.
	SessionID string
	// UserID is the user's id as text: an integer id as its decimal digits.
	// The user may be one the shop's database has never seen.
	UserID string
	// UserFeatures holds the mapped user features, in the order of
	// Mapping.UserFeatures.
	UserFeatures []FeatureValue
	// Browsed is the list of browsed items, in the order sent: oldest first.
	Browsed []Browsed

	raw   []byte
	feats [4]FeatureValue // UserFeatures' storage when they are few, saving an allocation
}

// FeatureValue is the value of one user feature in an event.
type FeatureValue struct {
	Name string // the feature's name in the spec
	// Numeric says the feature is numeric: its value is Number; otherwise
	// it is Text (as sent, not trimmed).
	Numeric bool
	Number  float64
	Text    string
}

// Browsed is one browsed item of a Record.
type Browsed struct {
	ItemID string // the item's id as text: an integer id as its decimal digits
	// Quantity is the item's quantity, whether it came as a string or a
	// number; 1 when the mapping has no quantity field.
	Quantity int
	// InCart says the item is in the shopping cart; false when the mapping
	// has no in-cart field.
	InCart bool
}

// Feature returns the value of the user feature named name, and whether the
// event carries it.
func (r *Record) Feature(name string) (FeatureValue, bool) {
	for _, f := range r.UserFeatures {
		if f.Name == name {
			return f, true
		}
	}
	return FeatureValue{}, false
}

// Raw returns the record's original bytes, as given to Mapping.Decode (nil
// for a Record built in code). The caller must not modify them.
func (r *Record) Raw() []byte { return r.raw }

// Pick returns the browsed item to find similar items for, as the package
// function Pick does for the lab's Event: the most recent item in the cart,
// or else the most recent item browsed. ok is false when nothing was
// browsed.
func (r *Record) Pick() (item Browsed, ok bool) {
	h := r.Browsed
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].InCart {
			return h[i], true
		}
	}
	if len(h) == 0 {
		return Browsed{}, false
	}
	return h[len(h)-1], true
}

// AppendWith appends to dst the record's JSON object with members added,
// as Event.AppendWith does: the input object unchanged (compacted to one
// line), plus fields. A Record built in code has no object: its output is
// the members alone.
func (r *Record) AppendWith(dst []byte, members ...Member) []byte {
	raw := r.raw
	if raw == nil {
		raw = []byte("{}")
	}
	e := Event{raw: raw}
	return e.AppendWith(dst, members...)
}

// Decode parses one event through the mapping, with the rules of the
// package function Decode (see the package comment) applied to the mapped
// fields: one JSON object of at most MaxSize bytes, valid JSON and UTF-8
// throughout; every mapped field required, never null, never given twice;
// unknown fields accepted and ignored; recommended_items and similar_items
// rejected at the top level. Every error is an *Error naming the field path
// with the event's own names (e.g. "viewed[2].movie"). The returned Record
// keeps a reference to data.
func (m *Mapping) Decode(data []byte) (*Record, error) {
	if len(data) > MaxSize {
		return nil, &Error{Reason: fmt.Sprintf("record is %d bytes, more than the %d-byte limit", len(data), MaxSize)}
	}
	d := decoder{buf: data}
	d.skipSpace()
	if d.eof() {
		return nil, &Error{Reason: "empty record, want a JSON object"}
	}
	if d.buf[d.pos] != '{' {
		start := d.pos
		if err := d.skipValue(rootPath, 1); err != nil {
			return nil, err
		}
		return nil, &Error{Reason: describe(d.buf[start:d.pos]) + " is not a JSON object"}
	}
	r := &Record{raw: data}
	switch n := len(m.features); {
	case n > len(r.feats):
		r.UserFeatures = make([]FeatureValue, n)
	case n > 0:
		r.UserFeatures = r.feats[:n:n]
	}
	if err := m.record(&d, r); err != nil {
		return nil, err
	}
	d.skipSpace()
	if !d.eof() {
		return nil, d.syntax(rootPath, "unexpected %s after the object", d.describeNext())
	}
	return r, nil
}

func (m *Mapping) record(d *decoder, r *Record) error {
	var seen uint64
	err := d.members(rootPath, 1, func(key []byte) error {
		for i := range m.top {
			f := &m.top[i]
			if string(key) != f.name {
				continue
			}
			p := fieldPath(f.name)
			if seen&(1<<i) != 0 {
				return d.fieldError(p, "given twice")
			}
			seen |= 1 << i
			var err error
			switch f.kind {
			case valSession:
				r.SessionID, err = d.nonEmptyString(p)
			case valIntID:
				var n int64
				if n, err = d.wholeNumber(p, math.MaxInt64, false); err == nil {
					r.UserID = strconv.FormatInt(n, 10)
				}
			case valStringID:
				r.UserID, err = d.nonEmptyString(p)
			case valNumber:
				fv := &r.UserFeatures[f.feature]
				fv.Name, fv.Numeric = m.features[f.feature], true
				fv.Number, err = d.nonNegative(p)
			case valString:
				fv := &r.UserFeatures[f.feature]
				fv.Name = m.features[f.feature]
				fv.Text, err = d.string(p)
			case valBrowsed:
				r.Browsed, err = m.history(d)
			}
			return err
		}
		switch string(key) {
		case FieldRecommendedItems, FieldSimilarItems:
			name := string(key)
			return d.fieldError(fieldPath(name), "reserved for the output, not accepted in input")
		}
		return d.skipValue(fieldPath(string(key)), 2)
	})
	if err != nil {
		return err
	}
	if all := uint64(1)<<len(m.top) - 1; seen != all {
		for i, f := range m.top {
			if seen&(1<<i) == 0 {
				return d.fieldError(fieldPath(f.name), "missing")
			}
		}
	}
	return nil
}

// itemPath is the package function itemPath for the mapping's browsed-items
// field.
func (m *Mapping) itemPath(i int, name string) path {
	return func() string {
		p := m.browsed + "[" + strconv.Itoa(i) + "]"
		if name != "" {
			p += "." + name
		}
		return p
	}
}

func (m *Mapping) history(d *decoder) ([]Browsed, error) {
	p := fieldPath(m.browsed)
	if d.eof() || d.buf[d.pos] != '[' {
		return nil, d.wrongType(p, 2, "an array")
	}
	d.pos++
	items := make([]Browsed, 0, 8)
	d.skipSpace()
	if !d.eof() && d.buf[d.pos] == ']' {
		d.pos++
		return items, nil
	}
	for {
		d.skipSpace()
		it, err := m.browsedItem(d, len(items))
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		d.skipSpace()
		if d.eof() {
			return nil, d.syntax(p, "unterminated array")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return items, nil
		default:
			return nil, d.syntax(p, "want ',' or ']', found %s", d.describeNext())
		}
	}
}

func (m *Mapping) browsedItem(d *decoder, i int) (Browsed, error) {
	var it Browsed
	if !m.quantity {
		it.Quantity = 1
	}
	if d.eof() || d.buf[d.pos] != '{' {
		return it, d.wrongType(m.itemPath(i, ""), 3, "an object")
	}
	var seen uint
	err := d.members(m.itemPath(i, ""), 3, func(key []byte) error {
		for b := range m.item {
			f := &m.item[b]
			if string(key) != f.name {
				continue
			}
			p := m.itemPath(i, f.name)
			if seen&(1<<b) != 0 {
				return d.fieldError(p, "given twice")
			}
			seen |= 1 << b
			var err error
			switch f.kind {
			case valIntID:
				var n int64
				if n, err = d.wholeNumber(p, math.MaxInt64, false); err == nil {
					it.ItemID = strconv.FormatInt(n, 10)
				}
			case valStringID:
				it.ItemID, err = d.nonEmptyString(p)
			case valQuantity:
				it.Quantity, err = d.quantity(p)
			case valInCart:
				it.InCart, err = d.boolean(p)
			}
			return err
		}
		return d.skipValue(m.itemPath(i, string(key)), 4)
	})
	if err != nil {
		return it, err
	}
	if all := uint(1)<<len(m.item) - 1; seen != all {
		for b, f := range m.item {
			if seen&(1<<b) == 0 {
				return it, d.fieldError(m.itemPath(i, f.name), "missing")
			}
		}
	}
	return it, nil
}
