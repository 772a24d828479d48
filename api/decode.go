package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
)

// readBody reads the whole request body, at most maxBytes, and checks that
// it is one JSON value.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, *apiError) {
	data, ae := readRawBody(w, r, maxBytes)
	if ae != nil {
		return nil, ae
	}
	return data, checkJSON(data)
}

// readRawBody reads the whole request body, at most maxBytes, and checks
// that it is not empty.
func readRawBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, *apiError) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", "the request body is larger than %d bytes", tooLarge.Limit)
		}
		return nil, errorf(http.StatusBadRequest, CodeMalformedJSON, "", "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf(http.StatusBadRequest, CodeMalformedJSON, "", "the request body is empty: want JSON")
	}
	return data, nil
}

// checkJSON answers a 400 naming the position unless data is one JSON
// value.
func checkJSON(data []byte) *apiError {
	if json.Valid(data) {
		return nil
	}
	var v json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "malformed JSON at byte %d: %v", syn.Offset, err)
		}
		return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "malformed JSON: %v", err)
	}
	return nil
}

// embeddingBody reads, in one pass and without reflection, the body that
// POST /items_from_user almost always gets: {"embedding":[x,…]} and
// nothing else, the numbers in JSON's grammar and within float32's range
// (each parsed as embedding.Parse parses it, so that both paths give the
// same vector). It reports false for anything else — another field, a
// string, a syntax error — which the general path then reads, and
// rejects, as it always has.
func embeddingBody(data []byte) ([]float32, bool) {
	s := string(data)
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil, false
	}
	i = skipSpace(s, i+1)
	if !strings.HasPrefix(s[i:], `"embedding"`) {
		return nil, false
	}
	i = skipSpace(s, i+len(`"embedding"`))
	if i >= len(s) || s[i] != ':' {
		return nil, false
	}
	i = skipSpace(s, i+1)
	if i >= len(s) || s[i] != '[' {
		return nil, false
	}
	v := make([]float32, 0, 32)
	for {
		i = skipSpace(s, i+1)
		end := jsonNumberEnd(s, i)
		if end < 0 {
			return nil, false
		}
		f, err := strconv.ParseFloat(s[i:end], 32)
		if err != nil {
			return nil, false
		}
		v = append(v, float32(f))
		i = skipSpace(s, end)
		if i >= len(s) {
			return nil, false
		}
		if s[i] == ']' {
			break
		}
		if s[i] != ',' {
			return nil, false
		}
	}
	i = skipSpace(s, i+1)
	if i >= len(s) || s[i] != '}' {
		return nil, false
	}
	return v, skipSpace(s, i+1) == len(s)
}

// skipSpace returns the index of the first byte of s at or after i that is
// not JSON whitespace.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// jsonNumberEnd returns the end of the JSON number that starts s[i:]
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), or -1 when there is none.
func jsonNumberEnd(s string, i int) int {
	digits := func(i int) int {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return -1
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		i = digits(i)
	default:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// jsonKind names the type of a JSON value, from its first byte.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// array splits a JSON array into its elements.
func array(raw json.RawMessage, path, what string) ([]json.RawMessage, *apiError) {
	var elems []json.RawMessage
	if jsonKind(raw) != "an array" || json.Unmarshal(raw, &elems) != nil {
		if path == "" {
			return nil, errorf(http.StatusBadRequest, CodeInvalidBody, "", "the body must be a JSON array of %s, not %s", what, jsonKind(raw))
		}
		return nil, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s must be an array of %s, not %s", path, what, jsonKind(raw))
	}
	return elems, nil
}

// object is a decoded JSON object whose fields are read one by one, so
// that every error names its field.
type object struct {
	path   string
	fields map[string]json.RawMessage
}

func asObject(raw json.RawMessage, path string) (object, *apiError) {
	o := object{path: path}
	if jsonKind(raw) != "an object" || json.Unmarshal(raw, &o.fields) != nil {
		if path == "" {
			return o, errorf(http.StatusBadRequest, CodeInvalidBody, "", "the body must be a JSON object, not %s", jsonKind(raw))
		}
		return o, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s must be an object, not %s", path, jsonKind(raw))
	}
	return o, nil
}

// lookup returns the first of names present, and the name found.
func (o object) lookup(names ...string) (json.RawMessage, string, bool) {
	for _, n := range names {
		if v, ok := o.fields[n]; ok {
			return v, n, true
		}
	}
	return nil, names[0], false
}

func (o object) has(name string) bool { _, ok := o.fields[name]; return ok }

func (o object) missing(name string) *apiError {
	f := joinPath(o.path, name)
	return errorf(http.StatusBadRequest, CodeMissingField, f, "missing field %s", f)
}

func (o object) wrongType(name, want string, raw json.RawMessage) *apiError {
	f := joinPath(o.path, name)
	return errorf(http.StatusBadRequest, CodeInvalidField, f, "%s must be %s, not %s", f, want, jsonKind(raw))
}

// str reads a required string field.
func (o object) str(name string) (string, *apiError) {
	raw, _, ok := o.lookup(name)
	if !ok {
		return "", o.missing(name)
	}
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", o.wrongType(name, "a string", raw)
	}
	return s, nil
}

// number reads a required number field under any of names (the first is
// the one errors name). A string holding a decimal number is accepted too,
// as the lab's events carry numbers either way.
func (o object) number(names ...string) (float64, *apiError) {
	raw, name, ok := o.lookup(names...)
	if !ok {
		return 0, o.missing(names[0])
	}
	f := joinPath(o.path, name)
	var x float64
	switch jsonKind(raw) {
	case "a number":
		if err := json.Unmarshal(raw, &x); err != nil {
			return 0, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s: %s is not a usable number", f, raw)
		}
	case "a string":
		var s string
		json.Unmarshal(raw, &s)
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s must be a number, not the string %q", f, abbreviate(s))
		}
		x = v
	default:
		return 0, o.wrongType(name, "a number", raw)
	}
	return x, nil
}

// integer reads an optional integer field; def when absent.
func (o object) integer(name string, def int) (int, *apiError) {
	raw, ok := o.fields[name]
	if !ok {
		return def, nil
	}
	var n json.Number
	if jsonKind(raw) != "a number" || json.Unmarshal(raw, &n) != nil {
		return 0, o.wrongType(name, "an integer", raw)
	}
	v, err := strconv.Atoi(n.String())
	if err != nil {
		f := joinPath(o.path, name)
		return 0, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s must be an integer, not %s", f, n)
	}
	return v, nil
}

// strings reads an optional array of strings.
func (o object) strings(name string) ([]string, *apiError) {
	raw, ok := o.fields[name]
	if !ok || jsonKind(raw) == "null" {
		return nil, nil
	}
	var elems []json.RawMessage
	if jsonKind(raw) != "an array" || json.Unmarshal(raw, &elems) != nil {
		return nil, o.wrongType(name, "an array of strings", raw)
	}
	out := make([]string, len(elems))
	for i, el := range elems {
		if jsonKind(el) != "a string" || json.Unmarshal(el, &out[i]) != nil {
			f := joinPath(o.path, name)
			return nil, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s[%d] must be a string, not %s", f, i, jsonKind(el))
		}
	}
	return out, nil
}

// vector reads an embedding: an array of numbers, or a string in pgvector
// text form "[0.1,0.2,…]" (as the lab's CSV files and tables hold them).
func (o object) vector(name string) ([]float32, *apiError) {
	raw, _, ok := o.lookup(name)
	if !ok {
		return nil, o.missing(name)
	}
	f := joinPath(o.path, name)
	switch jsonKind(raw) {
	case "an array":
		if onlyNumbers(raw) {
			// The fast path: valid JSON made of numbers only is a list
			// of numbers in pgvector text form.
			if v, err := embedding.Parse(string(raw)); err == nil {
				return v, nil
			}
		}
		var nums []json.RawMessage
		json.Unmarshal(raw, &nums)
		v := make([]float32, len(nums))
		for i, n := range nums {
			var x float64
			if jsonKind(n) != "a number" || json.Unmarshal(n, &x) != nil {
				return nil, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s[%d] must be a number, not %s", f, i, jsonKind(n))
			}
			if math.Abs(x) > math.MaxFloat32 {
				return nil, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s[%d] = %v is out of the float32 range", f, i, x)
			}
			v[i] = float32(x)
		}
		return v, nil
	case "a string":
		var s string
		json.Unmarshal(raw, &s)
		v, err := embedding.Parse(s)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s: %v", f, err)
		}
		return v, nil
	default:
		return nil, o.wrongType(name, "an array of numbers", raw)
	}
}

// onlyNumbers reports whether a valid JSON array holds nothing but numbers
// (no strings, objects, nested arrays or literals).
func onlyNumbers(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	for _, c := range raw[1 : len(raw)-1] {
		switch {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E', c == ',', c == ' ', c == '\t', c == '\n', c == '\r':
		default:
			return false
		}
	}
	return true
}

// userFeatures reads the lab's user object {"city","country","creditlimit"}.
// creditlimit may also be spelled credit_limit (the events' name) or
// creditLimit (the dataset's).
func userFeatures(o object) (model.UserFeatures, *apiError) {
	var u model.UserFeatures
	var e *apiError
	if u.City, e = o.str("city"); e != nil {
		return u, e
	}
	if u.Country, e = o.str("country"); e != nil {
		return u, e
	}
	names := []string{"creditlimit", "credit_limit", "creditLimit"}
	if u.CreditLimit, e = o.number(names...); e != nil {
		return u, e
	}
	if math.Abs(u.CreditLimit) > MaxCreditLimit {
		_, name, _ := o.lookup(names...)
		f := joinPath(o.path, name)
		return u, errorf(http.StatusBadRequest, CodeInvalidField, f, "%s = %g is out of range: want %g to %g", f, u.CreditLimit, -MaxCreditLimit, MaxCreditLimit)
	}
	return u, nil
}

// MaxCreditLimit bounds the absolute value of a user's creditlimit in every
// request (POST /user_embeddings, /v1/recommendations and its batch form).
// A larger value is rejected with a 400 naming the field: far beyond any
// credit limit, it would only push the user tower's float32 output to
// infinity, which JSON cannot carry.
const MaxCreditLimit = 1e15

// MaxFeatureNumber bounds, for the same reason, every other numeric
// feature a request gives: a spec model's user and item features, and the
// lab's item features on POST /v1/items/similar.
const MaxFeatureNumber = MaxCreditLimit

// embedUser embeds u, or answers a 400 naming the user object at path when
// the model gives a non-finite embedding for it (a number in range that the
// model still scales out of float32).
func embedUser(e *recommend.Engine, u model.UserFeatures, path string) ([]float32, *apiError) {
	v := e.UserEmbedding(u)
	for _, x := range v {
		if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
			return nil, errorf(http.StatusBadRequest, CodeInvalidField, path,
				"%s: model version %s gives a non-finite embedding for these features (creditlimit %g)", path, e.Model().Version(), u.CreditLimit)
		}
	}
	return v, nil
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// query parses the query string strictly: a malformed one is an error,
// where r.URL.Query would drop the bad pairs.
func query(r *http.Request) (url.Values, *apiError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeInvalidParameter, "", "malformed query string: %v", err)
	}
	return q, nil
}

// limit reads the limit parameter: def when absent or empty, else an
// integer from 1 to max.
func limit(q url.Values, name string, def, max int) (int, *apiError) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, CodeInvalidParameter, name, "%s=%q is not an integer (want 1 to %d)", name, abbreviate(s), max)
	}
	return checkLimit(n, name, max)
}

func checkLimit(n int, name string, max int) (int, *apiError) {
	if n < 1 {
		return 0, errorf(http.StatusBadRequest, CodeInvalidParameter, name, "%s=%d: want at least 1", name, n)
	}
	if n > max {
		return 0, errorf(http.StatusBadRequest, CodeInvalidParameter, name, "%s=%d is above the maximum %d", name, n, max)
	}
	return n, nil
}

// fieldLimit checks a limit read from a body field (its path in field).
func fieldLimit(n int, field string, max int) (int, *apiError) {
	if n < 1 || n > max {
		return 0, errorf(http.StatusBadRequest, CodeInvalidField, field, "%s=%d: want 1 to %d", field, n, max)
	}
	return n, nil
}
