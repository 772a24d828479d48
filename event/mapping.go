package event

import (
	"fmt"
	"math"
	"strconv"
	"sync"

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
// lab's event format, which Decode reads through it. It is built once and
// shared (a Mapping is immutable).
func LabMapping() *Mapping { return lab().m }

// labView is the lab's Mapping with where Decode finds the lab's user
// features in a Record.
type labView struct {
	m                     *Mapping
	city, country, credit int // indices in Record.UserFeatures
}

var lab = sync.OnceValue(func() labView {
	s := dataset.Classic()
	m, err := NewMapping(&s)
	if err != nil {
		panic("event: the built-in spec's stream mapping: " + err.Error()) // a bug: the built-in spec is tested
	}
	l := labView{m: m, city: -1, country: -1, credit: -1}
	for i, name := range m.features {
		switch name {
		case "city":
			l.city = i
		case "country":
			l.country = i
		case "creditLimit":
			l.credit = i
		}
	}
	if l.city < 0 || l.country < 0 || l.credit < 0 {
		panic(fmt.Sprintf("event: the built-in spec's stream mapping carries user features %q, not city, country and creditLimit", m.features))
	}
	return l
})

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

	raw     []byte
	userNum int64           // an integer user id's value
	feats   [4]FeatureValue // UserFeatures' storage when they are few, saving an allocation
	items   [8]Browsed      // Browsed's storage for a short list
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
// keeps a reference to data, and its strings may share data's memory: the
// caller must not modify data afterwards.
func (m *Mapping) Decode(data []byte) (*Record, error) {
	r := &Record{}
	if err := m.DecodeTo(r, data); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeTo is Decode into r, which it overwrites (a slice of Records
// decodes a batch in one allocation). On an error r holds no record.
func (m *Mapping) DecodeTo(r *Record, data []byte) error {
	*r = Record{raw: data}
	switch n := len(m.features); {
	case n > len(r.feats):
		r.UserFeatures = make([]FeatureValue, n)
	case n > 0:
		r.UserFeatures = r.feats[:n:n]
	}
	var d decoder
	err := d.open(data)
	if err == nil {
		err = m.record(&d, r)
	}
	if err == nil {
		err = d.close()
	}
	if err != nil {
		*r = Record{}
	}
	return err
}

func (m *Mapping) record(d *decoder, r *Record) error {
	var seen uint64
	next := 0 // the field expected next: events mostly come in the mapping's order
	err := d.members(rootPath, 1, func(key []byte) error {
		i := -1
		if next < len(m.top) && string(key) == m.top[next].name {
			i = next
		} else {
			for j := range m.top {
				if string(key) == m.top[j].name {
					i = j
					break
				}
			}
		}
		if i < 0 {
			switch string(key) {
			case FieldRecommendedItems, FieldSimilarItems:
				return d.fieldError(fieldPath(string(key)), "reserved for the output, not accepted in input")
			}
			return d.skipValue(d.keyPath(key), 2)
		}
		next = i + 1
		f := &m.top[i]
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
			r.UserID, r.userNum, err = d.intID(p)
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
			r.Browsed, err = m.history(d, r.items[:0])
		}
		return err
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

// intID reads an integer id: a non-negative whole number, returned as its
// decimal text too (the record's own digits when written plainly).
func (d *decoder) intID(p path) (string, int64, error) {
	start := d.pos
	n, err := d.wholeNumber(p, math.MaxInt64, false)
	if err != nil {
		return "", 0, err
	}
	if text := d.buf[start:d.pos]; plainDigits(text) {
		return bytesString(text), n, nil
	}
	return strconv.FormatInt(n, 10), n, nil
}

// plainDigits reports whether a JSON number's text is its value's decimal
// digits as strconv.FormatInt writes them: digits only, which JSON allows
// with no leading zero but in "0".
func plainDigits(text []byte) bool {
	for _, c := range text {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(text) > 0
}

// history reads the browsed items into items (appending).
func (m *Mapping) history(d *decoder, items []Browsed) ([]Browsed, error) {
	p := fieldPath(m.browsed)
	if d.eof() || d.buf[d.pos] != '[' {
		return nil, d.wrongType(p, 2, "an array")
	}
	d.pos++
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
	at := itemPath(m.browsed, i, "")
	if d.eof() || d.buf[d.pos] != '{' {
		return it, d.wrongType(at, 3, "an object")
	}
	var seen uint
	next := 0
	err := d.members(at, 3, func(key []byte) error {
		b := -1
		if next < len(m.item) && string(key) == m.item[next].name {
			b = next
		} else {
			for j := range m.item {
				if string(key) == m.item[j].name {
					b = j
					break
				}
			}
		}
		if b < 0 {
			return d.skipValue(itemPath(m.browsed, i, d.text(key)), 4)
		}
		next = b + 1
		f := &m.item[b]
		p := itemPath(m.browsed, i, f.name)
		if seen&(1<<b) != 0 {
			return d.fieldError(p, "given twice")
		}
		seen |= 1 << b
		var err error
		switch f.kind {
		case valIntID:
			it.ItemID, _, err = d.intID(p)
		case valStringID:
			it.ItemID, err = d.nonEmptyString(p)
		case valQuantity:
			it.Quantity, err = d.quantity(p)
		case valInCart:
			it.InCart, err = d.boolean(p)
		}
		return err
	})
	if err != nil {
		return it, err
	}
	if all := uint(1)<<len(m.item) - 1; seen != all {
		for b, f := range m.item {
			if seen&(1<<b) == 0 {
				return it, d.fieldError(itemPath(m.browsed, i, f.name), "missing")
			}
		}
	}
	return it, nil
}
