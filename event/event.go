package event

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/recoflow/recoflow/internal/jsonout"
)

// Limits of Decode.
const (
	// MaxSize is the largest record Decode accepts, in bytes. Kinesis caps a
	// record at 1 MiB too.
	MaxSize = 1 << 20
	// MaxQuantity is the largest quantity of a browsed item.
	MaxQuantity = 1_000_000_000
	// MaxDepth is the deepest nesting of arrays and objects, counting the
	// record itself, that Decode accepts (in unknown fields).
	MaxDepth = 64
)

// Names of the fields the output adds to the input object; an input that
// already has one at its top level is rejected (see the package comment).
const (
	FieldRecommendedItems = "recommended_items"
	FieldSimilarItems     = "similar_items"
)

// Event is one shopper-activity record of the lab's stream. The fields are
// the lab's; Raw holds the record exactly as it arrived, unknown fields
// included.
type Event struct {
	SessionID      string  // session_id
	CustomerNumber int64   // customer_number; may be a shopper the shop's database has never seen
	City           string  // city, as sent (not trimmed)
	Country        string  // country, as sent (not trimmed)
	CreditLimit    float64 // credit_limit
	BrowseHistory  []Item  // browse_history, in the order sent: oldest first

	raw []byte
}

// Item is one entry of a browse history.
type Item struct {
	ProductCode    string // product_code
	Quantity       int    // quantity, whether it came as a string or a number
	InShoppingCart bool   // in_shopping_cart
}

// Error says what is wrong with a record and where. Every error Decode
// returns is an *Error.
type Error struct {
	// Field is the path of the offending field, e.g.
	// "browse_history[2].quantity"; empty when the record as a whole is
	// wrong (not an object, too big, trailing data).
	Field string
	// Reason says what is wrong, e.g. `"7x" is not a whole number`.
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Raw returns the record's original bytes, as given to Decode (nil for an
// Event built in code). The caller must not modify them.
func (e *Event) Raw() []byte { return e.raw }

// Pick returns the browsed item to find similar products for: the most
// recent item in the shopping cart, or else the most recent item browsed.
// Browse histories are oldest first, so "most recent" is the last one. The
// lab picks at random; picking this way makes results repeatable. ok is false
// when the history is empty.
func Pick(e *Event) (item Item, ok bool) {
	h := e.BrowseHistory
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].InShoppingCart {
			return h[i], true
		}
	}
	if len(h) == 0 {
		return Item{}, false
	}
	return h[len(h)-1], true
}

// Member is a field to add to the record's object: a name and its value,
// which must be valid JSON.
type Member struct {
	Name  string
	Value []byte
}

// AppendWith appends to dst the record's JSON object with members added
// after its last field, and returns the extended buffer: the output record
// is "the input object unchanged, plus fields". The original bytes are copied
// as they are, except that surrounding whitespace is dropped and a record
// spread over several lines is compacted to one line (whitespace between
// tokens removed), so that the result is one line of newline-delimited JSON.
// For an Event not made by Decode, the object is built from the fields.
func (e *Event) AppendWith(dst []byte, members ...Member) []byte {
	obj := bytes.TrimSpace(e.raw)
	if obj == nil {
		obj = e.appendFields(nil)
	}
	start := len(dst)
	if bytes.IndexByte(obj, '\n') >= 0 || bytes.IndexByte(obj, '\r') >= 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, obj); err == nil { // Decode validated it, so this never fails
			obj = b.Bytes()
		}
	}
	dst = append(dst, obj...)
	if len(members) == 0 {
		return dst
	}
	dst = dst[:len(dst)-1]                            // drop '}'
	empty := len(bytes.TrimSpace(dst[start+1:])) == 0 // "{}" has no member to follow
	for _, m := range members {
		if !empty {
			dst = append(dst, ',')
		}
		empty = false
		dst = jsonout.AppendString(dst, m.Name)
		dst = append(dst, ':')
		dst = append(dst, m.Value...)
	}
	return append(dst, '}')
}

// MarshalJSON returns the record: its original bytes (compacted to one line)
// when it came from Decode, or else its fields in the lab's order, with
// quantities as numbers.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendWith(nil), nil
}

// UnmarshalJSON decodes a record with Decode, keeping a copy of data.
func (e *Event) UnmarshalJSON(data []byte) error {
	d, err := Decode(bytes.Clone(data))
	if err != nil {
		return err
	}
	*e = *d
	return nil
}

func (e *Event) appendFields(dst []byte) []byte {
	dst = append(dst, `{"session_id":`...)
	dst = jsonout.AppendString(dst, e.SessionID)
	dst = append(dst, `,"customer_number":`...)
	dst = strconv.AppendInt(dst, e.CustomerNumber, 10)
	dst = append(dst, `,"city":`...)
	dst = jsonout.AppendString(dst, e.City)
	dst = append(dst, `,"country":`...)
	dst = jsonout.AppendString(dst, e.Country)
	dst = append(dst, `,"credit_limit":`...)
	dst = strconv.AppendFloat(dst, e.CreditLimit, 'f', -1, 64)
	dst = append(dst, `,"browse_history":[`...)
	for i, it := range e.BrowseHistory {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"product_code":`...)
		dst = jsonout.AppendString(dst, it.ProductCode)
		dst = append(dst, `,"quantity":`...)
		dst = strconv.AppendInt(dst, int64(it.Quantity), 10)
		dst = append(dst, `,"in_shopping_cart":`...)
		dst = strconv.AppendBool(dst, it.InShoppingCart)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}
