package etl

import (
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/training"
)

// joinQuery is the training join. LEFT JOINs keep ratings whose customer or
// product is missing, so they can be rejected with a reason instead of
// silently disappearing; ordering by the ratings primary key lets the
// database stream rows without sorting and lets the writer finish one
// partition before starting the next.
const joinQuery = `SELECT r.customerNumber, r.productCode, r.productRating,
 c.customerNumber, c.city, c.state, c.postalCode, c.country, c.creditLimit,
 p.productCode, p.productLine, p.productScale, p.quantityInStock, p.buyPrice, p.MSRP
FROM ratings r
LEFT JOIN customers c ON c.customerNumber = r.customerNumber
LEFT JOIN products p ON p.productCode = r.productCode
ORDER BY r.customerNumber, r.productCode`

// JoinQuery returns the SQL the ETL runs against the source, for
// benchmarks that time the database alone on the same work.
func JoinQuery() string { return joinQuery }

// requiredColumns are the source columns the join and the catalogue read,
// per table.
var requiredColumns = []struct {
	table   string
	columns []string
}{
	{"ratings", []string{"customerNumber", "productCode", "productRating"}},
	{"customers", []string{"customerNumber", "city", "state", "postalCode", "country", "creditLimit"}},
	{"products", []string{"productCode", "productName", "productLine", "productScale", "quantityInStock", "buyPrice", "MSRP"}},
}

// scanRow holds one raw row of the join. Byte slices alias the driver's
// buffers and are valid only until the next Next.
type scanRow struct {
	rCustomer, rProduct, rRating                   sql.RawBytes
	cCustomer, city                                sql.RawBytes
	state, postalCode                              sql.Null[sql.RawBytes]
	country, credit                                sql.RawBytes
	pProduct, line, scale, quantity, buyPrice, msr sql.RawBytes
}

func (s *scanRow) dest() []any {
	return []any{&s.rCustomer, &s.rProduct, &s.rRating,
		&s.cCustomer, &s.city, &s.state, &s.postalCode, &s.country, &s.credit,
		&s.pProduct, &s.line, &s.scale, &s.quantity, &s.buyPrice, &s.msr}
}

// Reject is a row kept out of the training data, with the reason.
type Reject struct {
	// Table is "customers" or "products" for a row of the catalogue;
	// empty for a rating.
	Table          string  `json:"table,omitempty"`
	CustomerNumber *string `json:"customerNumber"`
	ProductCode    *string `json:"productCode"`
	ProductRating  *string `json:"productRating"`
	Reason         string  `json:"reason"`
	// Kind is a short stable category of Reason, for counting.
	Kind string `json:"kind"`
}

func rawPtr(b sql.RawBytes) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// interner returns one shared string for equal byte slices. The text
// columns repeat heavily (cities, countries, product lines and scales,
// product codes), so interning saves most per-row allocations. It is
// bounded: past maxInterned distinct values it stops adding.
type interner map[string]string

const maxInterned = 1 << 16

func (in interner) str(b []byte) string {
	if s, ok := in[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

func (in interner) nullable(n sql.Null[sql.RawBytes]) *string {
	if !n.Valid {
		return nil
	}
	s := in.str(n.V)
	return &s
}

// convert validates a scanned row and fills out. It returns a non-nil
// Reject when the row cannot be training data.
func (s *scanRow) convert(out *training.Record, in interner) *Reject {
	reject := func(kind, format string, args ...any) *Reject {
		return &Reject{
			CustomerNumber: rawPtr(s.rCustomer), ProductCode: rawPtr(s.rProduct), ProductRating: rawPtr(s.rRating),
			Kind: kind, Reason: fmt.Sprintf(format, args...),
		}
	}
	switch {
	case s.rCustomer == nil:
		return reject("null_key", "ratings.customerNumber is NULL")
	case s.rProduct == nil:
		return reject("null_key", "ratings.productCode is NULL")
	case s.rRating == nil:
		return reject("null_rating", "ratings.productRating is NULL")
	}
	cust, err := parseInt32(s.rCustomer)
	if err != nil {
		return reject("bad_value", "ratings.customerNumber %q: %v", s.rCustomer, err)
	}
	rating, err := parseInt32(s.rRating)
	if err != nil {
		return reject("bad_value", "ratings.productRating %q: %v", s.rRating, err)
	}
	if rating < 1 || rating > 5 {
		return reject("rating_out_of_range", "productRating %d is outside 1..5", rating)
	}
	if s.cCustomer == nil {
		return reject("unknown_customer", "customer %d does not exist in customers", cust)
	}
	if s.pProduct == nil {
		return reject("unknown_product", "product %q does not exist in products", s.rProduct)
	}
	for _, req := range []struct {
		name string
		v    sql.RawBytes
	}{{"customers.city", s.city}, {"customers.country", s.country}, {"customers.creditLimit", s.credit},
		{"products.productLine", s.line}, {"products.productScale", s.scale}, {"products.quantityInStock", s.quantity},
		{"products.buyPrice", s.buyPrice}, {"products.MSRP", s.msr}} {
		if req.v == nil {
			return reject("null_value", "%s is NULL", req.name)
		}
	}
	credit, err := parseDecimal2(s.credit)
	if err != nil {
		return reject("bad_value", "customers.creditLimit %q: %v", s.credit, err)
	}
	buy, err := parseDecimal2(s.buyPrice)
	if err != nil {
		return reject("bad_value", "products.buyPrice %q: %v", s.buyPrice, err)
	}
	msrp, err := parseDecimal2(s.msr)
	if err != nil {
		return reject("bad_value", "products.MSRP %q: %v", s.msr, err)
	}
	qty, err := parseInt32(s.quantity)
	if err != nil {
		return reject("bad_value", "products.quantityInStock %q: %v", s.quantity, err)
	}
	out.CustomerNumber = cust
	r := &out.Row
	r.City = in.str(s.city)
	r.State = in.nullable(s.state)
	r.PostalCode = in.nullable(s.postalCode)
	r.Country = in.str(s.country)
	r.CreditLimit = credit
	r.ProductCode = in.str(s.rProduct)
	r.ProductLine = in.str(s.line)
	r.ProductScale = in.str(s.scale)
	r.QuantityInStock = qty
	r.BuyPrice = buy
	r.MSRP = msrp
	r.ProductRating = rating
	return nil
}

// parseInt32 parses a whole number that fits in 32 bits. SQLite may hand
// back integral values as floats ("7.0"), which are accepted when exact.
func parseInt32(b []byte) (int32, error) {
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 10, 32)
	if err == nil {
		return int32(n), nil
	}
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, fmt.Errorf("does not fit in a 32-bit integer")
	}
	f, ferr := strconv.ParseFloat(s, 64)
	if ferr != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("not a whole number")
	}
	if f < math.MinInt32 || f > math.MaxInt32 {
		return 0, fmt.Errorf("does not fit in a 32-bit integer")
	}
	return int32(f), nil
}

// maxDecimal10_2 is the first unscaled value that does not fit DECIMAL(10,2).
const maxDecimal10_2 = 1e10

// parseDecimal2 parses a decimal number into hundredths (DECIMAL(10,2)
// unscaled). Plain decimal text ("21000.00", "-3.5") is parsed exactly;
// other forms ("2.1e+06", as SQLite may produce) via float64 and rounded.
// More than two fractional digits are rounded half away from zero.
func parseDecimal2(b []byte) (int64, error) {
	s := strings.TrimSpace(string(b))
	if v, ok := parsePlainDecimal2(s); ok {
		if v <= -maxDecimal10_2 || v >= maxDecimal10_2 {
			return 0, fmt.Errorf("does not fit DECIMAL(10,2)")
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a decimal number")
	}
	v := math.Round(f * 100)
	if v <= -maxDecimal10_2 || v >= maxDecimal10_2 {
		return 0, fmt.Errorf("does not fit DECIMAL(10,2)")
	}
	return int64(v), nil
}

func parsePlainDecimal2(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || frac == "") || len(intPart) > 15 {
		return 0, false
	}
	var v int64
	for _, c := range []byte(intPart) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	var cents int64
	for i, c := range []byte(frac) {
		if c < '0' || c > '9' {
			return 0, false
		}
		switch {
		case i < 2:
			cents = cents*10 + int64(c-'0')
		case i == 2 && c >= '5':
			cents++ // round half away from zero on the third digit
		}
	}
	if len(frac) == 1 {
		cents *= 10
	}
	v = v*100 + cents
	if neg {
		v = -v
	}
	return v, true
}
