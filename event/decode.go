package event

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Decode parses one record strictly (see the package comment for what it
// accepts). Every error is an *Error naming the field and the reason. The
// returned Event keeps a reference to data, and its strings may share
// data's memory: the caller must not modify data afterwards.
//
// Decode reads through the built-in spec's mapping (LabMapping): there is
// one reader of events, and Decode is the lab's view of its Record.
func Decode(data []byte) (*Event, error) {
	l := lab()
	r := &Record{}
	if err := l.m.DecodeTo(r, data); err != nil {
		return nil, err
	}
	e := &Event{
		SessionID:      r.SessionID,
		CustomerNumber: r.userNum,
		City:           r.UserFeatures[l.city].Text,
		Country:        r.UserFeatures[l.country].Text,
		CreditLimit:    r.UserFeatures[l.credit].Number,
		BrowseHistory:  make([]Item, len(r.Browsed)),
		raw:            data,
	}
	for i, b := range r.Browsed {
		e.BrowseHistory[i] = Item{ProductCode: b.ItemID, Quantity: b.Quantity, InShoppingCart: b.InCart}
	}
	return e, nil
}

// open starts reading data, which must be one JSON object: it checks the
// size limit and that an object comes first, and leaves d at its '{'.
// With close (nothing after the object), it is the one preamble of every
// reader of events.
func (d *decoder) open(data []byte) error {
	*d = decoder{buf: data}
	if len(data) > MaxSize {
		return &Error{Reason: fmt.Sprintf("record is %d bytes, more than the %d-byte limit", len(data), MaxSize)}
	}
	d.skipSpace()
	if d.eof() {
		return &Error{Reason: "empty record, want a JSON object"}
	}
	if d.buf[d.pos] != '{' {
		start := d.pos
		if err := d.skipValue(rootPath, 1); err != nil {
			return err
		}
		return &Error{Reason: describe(d.buf[start:d.pos]) + " is not a JSON object"}
	}
	return nil
}

// close checks that nothing but whitespace follows the object.
func (d *decoder) close() error {
	d.skipSpace()
	if !d.eof() {
		return d.syntax(rootPath, "unexpected %s after the object", d.describeNext())
	}
	return nil
}

// decoder is a hand-written reader of JSON for the event's shape: it checks
// the whole input is valid JSON while it decodes the known fields, and
// builds field paths only when it reports an error.
type decoder struct {
	buf     []byte
	pos     int
	scratch []byte // unescaped string contents
	key     bool   // the string being read is a field name
	escaped bool   // the last string read had escapes: its contents are in scratch
}

// path is a field's place in the record, rendered (String) only for an
// error: "", a top-level field, an item of an array field, or a field of
// such an item.
type path struct {
	name  string // the top-level field; "" for the record itself
	index int    // the item's index in name's array, or -1
	sub   string // the field in that item, or ""
}

// rootPath is the record itself.
var rootPath = path{index: -1}

func fieldPath(name string) path { return path{name: name, index: -1} }

func itemPath(array string, i int, name string) path { return path{name: array, index: i, sub: name} }

// String renders the path, e.g. "browse_history[2].quantity".
func (p path) String() string {
	if p.index < 0 {
		return p.name
	}
	s := p.name + "[" + strconv.Itoa(p.index) + "]"
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

func (d *decoder) eof() bool { return d.pos >= len(d.buf) }

func (d *decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) syntax(p path, format string, args ...any) error {
	return &Error{Field: p.String(), Reason: fmt.Sprintf("invalid JSON at byte %d: ", d.pos) + fmt.Sprintf(format, args...)}
}

func (d *decoder) fieldError(p path, format string, args ...any) error {
	return &Error{Field: p.String(), Reason: fmt.Sprintf(format, args...)}
}

// describeNext names the byte at d.pos for a syntax error.
func (d *decoder) describeNext() string {
	if d.eof() {
		return "end of record"
	}
	c := d.buf[d.pos]
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// describe renders a JSON value for an error: scalars as written (cut short
// when long), containers by kind.
func describe(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	const maxShown = 40
	if len(v) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return string(v[:cut]) + "…"
	}
	return string(v)
}

// shownValue is a value's text, described (describe) only when an error
// prints it.
type shownValue []byte

func (v shownValue) String() string { return describe(v) }

// expect consumes the byte c after optional whitespace.
func (d *decoder) expect(p path, c byte, what string) error {
	d.skipSpace()
	if d.eof() || d.buf[d.pos] != c {
		return d.syntax(p, "want %s, found %s", what, d.describeNext())
	}
	d.pos++
	return nil
}

// members walks the object at d.pos (after whitespace), calling fn for each
// member with the decoder at the start of the value; fn must consume the
// value. The key slice is valid only during the call.
func (d *decoder) members(p path, depth int, fn func(key []byte) error) error {
	if depth > MaxDepth {
		return d.syntax(p, "nested more than %d levels deep", MaxDepth)
	}
	if err := d.expect(p, '{', "'{'"); err != nil {
		return err
	}
	d.skipSpace()
	if !d.eof() && d.buf[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		d.skipSpace()
		if d.eof() || d.buf[d.pos] != '"' {
			return d.syntax(p, "want a field name, found %s", d.describeNext())
		}
		d.key = true
		key, err := d.str(p)
		d.key = false
		if err != nil {
			return err
		}
		if err := d.expect(p, ':', "':'"); err != nil {
			return err
		}
		d.skipSpace()
		if err := fn(key); err != nil {
			return err
		}
		d.skipSpace()
		if d.eof() {
			return d.syntax(p, "unterminated object")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.syntax(p, "want ',' or '}', found %s", d.describeNext())
		}
	}
}

// wrongType consumes the value at d.pos (checking its syntax) and reports
// that it is not what was wanted.
func (d *decoder) wrongType(p path, depth int, want string) error {
	start := d.pos
	if err := d.skipValue(p, depth); err != nil {
		return err
	}
	return d.fieldError(p, "%s is not %s", describe(d.buf[start:d.pos]), want)
}

func (d *decoder) string(p path) (string, error) {
	if d.eof() || d.buf[d.pos] != '"' {
		return "", d.wrongType(p, 2, "a string")
	}
	s, err := d.str(p)
	if err != nil {
		return "", err
	}
	return d.text(s), nil
}

// text returns the contents of the string just read (by str) as a Go
// string: one that shares buf's memory when the string had no escapes (a
// decoded record keeps its bytes, which the caller must not modify), else
// a copy of scratch.
func (d *decoder) text(s []byte) string {
	if d.escaped {
		return string(s)
	}
	return bytesString(s)
}

// bytesString is b as a string sharing its memory; b must not change
// afterwards.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// keyPath is the path of the top-level field named key (a field name just
// read), for a value that is not mapped.
func (d *decoder) keyPath(key []byte) path { return fieldPath(d.text(key)) }

func (d *decoder) nonEmptyString(p path) (string, error) {
	s, err := d.string(p)
	if err == nil && s == "" {
		err = d.fieldError(p, "is empty")
	}
	return s, err
}

func (d *decoder) boolean(p path) (bool, error) {
	switch {
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	}
	return false, d.wrongType(p, 4, "true or false")
}

// literal consumes word if it comes next.
func (d *decoder) literal(word string) bool {
	if len(d.buf)-d.pos < len(word) || string(d.buf[d.pos:d.pos+len(word)]) != word {
		return false
	}
	d.pos += len(word)
	return true
}

// numberText consumes a JSON number if one comes next; ok is false (and
// nothing consumed) when the next value is not a number.
func (d *decoder) numberText(p path) (text []byte, ok bool, err error) {
	if d.eof() || (d.buf[d.pos] != '-' && (d.buf[d.pos] < '0' || d.buf[d.pos] > '9')) {
		return nil, false, nil
	}
	start := d.pos
	if err := d.number(p); err != nil {
		return nil, true, err
	}
	return d.buf[start:d.pos], true, nil
}

// wholeNumber reads a JSON number that must be a whole number in
// [0, max]; with fromString it may instead be a string of decimal digits.
func (d *decoder) wholeNumber(p path, max int64, fromString bool) (int64, error) {
	start := d.pos
	if fromString && !d.eof() && d.buf[d.pos] == '"' {
		s, err := d.str(p)
		if err != nil {
			return 0, err
		}
		shown := shownValue(d.buf[start:d.pos])
		if len(s) == 0 {
			return 0, d.fieldError(p, "%s is not a whole number", shown)
		}
		var n int64
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, d.fieldError(p, "%s is not a whole number", shown)
			}
			if n > (max-int64(c-'0'))/10 {
				return 0, d.fieldError(p, "%s is more than %d", shown, max)
			}
			n = n*10 + int64(c-'0')
		}
		return n, nil
	}
	text, ok, err := d.numberText(p)
	if err != nil {
		return 0, err
	}
	if !ok {
		want := "a whole number"
		if fromString {
			want = "a whole number or a string of digits"
		}
		return 0, d.wrongType(p, 4, want)
	}
	shown := shownValue(text)
	if n, err := strconv.ParseInt(bytesString(text), 10, 64); err == nil {
		switch {
		case n < 0:
			return 0, d.fieldError(p, "%s is negative", shown)
		case n > max:
			return 0, d.fieldError(p, "%s is more than %d", shown, max)
		}
		return n, nil
	}
	// A fraction or an exponent: judge the value as a float64.
	f, err := strconv.ParseFloat(bytesString(text), 64)
	switch {
	case err != nil && text[0] == '-': // beyond float64, negative
		return 0, d.fieldError(p, "%s is negative", shown)
	case err != nil:
		return 0, d.fieldError(p, "%s is more than %d", shown, max)
	case f != math.Trunc(f):
		return 0, d.fieldError(p, "%s is not a whole number", shown)
	case f < 0:
		return 0, d.fieldError(p, "%s is negative", shown)
	case f > float64(max) || f >= 1<<63:
		return 0, d.fieldError(p, "%s is more than %d", shown, max)
	}
	return int64(f), nil
}

func (d *decoder) quantity(p path) (int, error) {
	n, err := d.wholeNumber(p, MaxQuantity, true)
	return int(n), err
}

func (d *decoder) nonNegative(p path) (float64, error) {
	text, ok, err := d.numberText(p)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, d.wrongType(p, 2, "a number")
	}
	f, err := strconv.ParseFloat(bytesString(text), 64)
	if err != nil {
		return 0, d.fieldError(p, "%s is out of range", describe(text))
	}
	if f < 0 {
		return 0, d.fieldError(p, "%s is negative", describe(text))
	}
	return f, nil
}

// number consumes a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) number(p path) error {
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.eof():
		return d.syntax(p, "number ends early")
	case d.buf[d.pos] == '0':
		d.pos++
	case d.buf[d.pos] >= '1' && d.buf[d.pos] <= '9':
		d.digits()
	default:
		return d.syntax(p, "want a digit, found %s", d.describeNext())
	}
	if !d.eof() && d.buf[d.pos] == '.' {
		d.pos++
		if d.digits() == 0 {
			return d.syntax(p, "want a digit after '.', found %s", d.describeNext())
		}
	}
	if !d.eof() && (d.buf[d.pos] == 'e' || d.buf[d.pos] == 'E') {
		d.pos++
		if !d.eof() && (d.buf[d.pos] == '+' || d.buf[d.pos] == '-') {
			d.pos++
		}
		if d.digits() == 0 {
			return d.syntax(p, "want a digit in the exponent, found %s", d.describeNext())
		}
	}
	return nil
}

func (d *decoder) digits() int {
	start := d.pos
	for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

// str consumes the JSON string at d.pos (a '"') and returns its decoded
// contents, which alias buf or scratch and are valid until the next call.
// Invalid UTF-8 is an error; escaped lone surrogates become U+FFFD, as with
// encoding/json.
func (d *decoder) str(p path) ([]byte, error) {
	d.pos++ // opening quote
	d.escaped = false
	start := d.pos
	ascii := true
	for {
		for d.pos < len(d.buf) && plain[d.buf[d.pos]] {
			d.pos++
		}
		if d.eof() {
			return nil, d.syntax(p, "unterminated string")
		}
		c := d.buf[d.pos]
		switch {
		case c == '"':
			s := d.buf[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return nil, d.badUTF8(p, start, s)
			}
			return s, nil
		case c == '\\':
			return d.escapedStr(p, start, ascii)
		case c < 0x20:
			return nil, d.syntax(p, "control character 0x%02x in a string", c)
		case c >= 0x80:
			ascii = false
		}
		d.pos++
	}
}

// plain marks the bytes str passes over without a second look: printable
// ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// badUTF8 reports invalid UTF-8 in the string whose contents start at
// byte start of the record (decoded, s), naming the first invalid byte and
// its offset in the record. An invalid field name is named in the path
// (quoted, invalid bytes as \x escapes), after the object that holds it.
func (d *decoder) badUTF8(p path, start int, s []byte) error {
	// Escapes are ASCII and decode to valid UTF-8, so the first invalid
	// byte of the contents is also the first of the raw bytes.
	at := start
	for raw := d.buf[start:]; len(raw) > 0; {
		r, n := utf8.DecodeRune(raw)
		if r == utf8.RuneError && n <= 1 {
			break
		}
		raw, at = raw[n:], at+n
	}
	where := fmt.Sprintf("byte 0x%02x at byte %d", d.buf[at], at)
	if d.key {
		field := strconv.Quote(string(s))
		if parent := p.String(); parent != "" {
			field = parent + "." + field
		}
		return &Error{Field: field, Reason: "field name is not valid UTF-8: " + where}
	}
	return d.fieldError(p, "string is not valid UTF-8: %s", where)
}

// escapedStr finishes str for a string with escapes, from its first
// backslash at d.pos.
func (d *decoder) escapedStr(p path, start int, ascii bool) ([]byte, error) {
	out := append(d.scratch[:0], d.buf[start:d.pos]...)
	for {
		if d.eof() {
			return nil, d.syntax(p, "unterminated string")
		}
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.scratch = out
			d.escaped = true
			if !ascii && !utf8.Valid(out) {
				return nil, d.badUTF8(p, start, out)
			}
			return out, nil
		case c < 0x20:
			return nil, d.syntax(p, "control character 0x%02x in a string", c)
		case c != '\\':
			if c >= 0x80 {
				ascii = false
			}
			out = append(out, c)
			d.pos++
			continue
		}
		d.pos++ // backslash
		if d.eof() {
			return nil, d.syntax(p, "unterminated string")
		}
		e := d.buf[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return nil, d.syntax(p, "want 4 hex digits after \\u")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by \u and a low one is a pair.
				r2 := rune(-1)
				if len(d.buf)-d.pos >= 6 && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					var ok2 bool
					if r2, ok2 = d.hex4(); !ok2 {
						return nil, d.syntax(p, "want 4 hex digits after \\u")
					}
					if utf16.DecodeRune(r, r2) == utf8.RuneError {
						d.pos = save // not a pair: the second escape stands alone
						r2 = -1
					}
				}
				if r2 >= 0 {
					r = utf16.DecodeRune(r, r2)
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			d.pos--
			return nil, d.syntax(p, "invalid escape \\%c", e)
		}
	}
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.buf)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.buf[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

// skipValue consumes any JSON value at d.pos, checking its syntax. depth is
// the nesting level the value would be at.
func (d *decoder) skipValue(p path, depth int) error {
	if d.eof() {
		return d.syntax(p, "want a value, found end of record")
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.members(p, depth, func([]byte) error { return d.skipValue(p, depth+1) })
	case c == '[':
		if depth > MaxDepth {
			return d.syntax(p, "nested more than %d levels deep", MaxDepth)
		}
		d.pos++
		d.skipSpace()
		if !d.eof() && d.buf[d.pos] == ']' {
			d.pos++
			return nil
		}
		for {
			d.skipSpace()
			if err := d.skipValue(p, depth+1); err != nil {
				return err
			}
			d.skipSpace()
			if d.eof() {
				return d.syntax(p, "unterminated array")
			}
			switch d.buf[d.pos] {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return nil
			default:
				return d.syntax(p, "want ',' or ']', found %s", d.describeNext())
			}
		}
	case c == '"':
		_, err := d.str(p)
		return err
	case c == '-' || c >= '0' && c <= '9':
		return d.number(p)
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	default:
		return d.syntax(p, "want a value, found %s", d.describeNext())
	}
}
