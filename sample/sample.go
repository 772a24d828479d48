package sample

import (
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/mysqlsampledatabase.sql data/ratings.csv data/SOURCE.md
var files embed.FS

//go:embed data/mysqlsampledatabase.sql
var dump string

//go:embed data/ratings.csv
var ratingsCSV string

// Files returns the embedded files, byte-identical to their origin:
// mysqlsampledatabase.sql (the classicmodels dump), ratings.csv (the lab's
// ratings) and SOURCE.md (where both come from, checksums, licence notes).
func Files() fs.FS {
	sub, err := fs.Sub(files, "data")
	if err != nil { // cannot happen: "data" is a valid path
		panic(err)
	}
	return sub
}

// Dump returns the classicmodels MySQL dump (CRLF line endings, as
// published).
func Dump() string { return dump }

// RatingsCSV returns the lab's ratings as CSV with the header
// customerNumber,productCode,productRating.
func RatingsCSV() string { return ratingsCSV }

var parsedDump = sync.OnceValues(func() ([]Table, error) {
	return ParseDump([]byte(dump))
})

// Tables returns the eight classicmodels tables parsed from the dump, in
// the dump's order (customers, employees, offices, orderdetails, orders,
// payments, productlines, products). The result is the caller's to modify.
func Tables() ([]Table, error) {
	ts, err := parsedDump()
	if err != nil {
		return nil, fmt.Errorf("parse embedded classicmodels dump: %w", err)
	}
	out := make([]Table, len(ts))
	for i, t := range ts {
		out[i] = copyTable(t)
	}
	return out, nil
}

// TableData returns one table of the dump by name, e.g. "customers".
func TableData(name string) (Table, error) {
	ts, err := parsedDump()
	if err != nil {
		return Table{}, fmt.Errorf("parse embedded classicmodels dump: %w", err)
	}
	for _, t := range ts {
		if t.Name == name {
			return copyTable(t), nil
		}
	}
	return Table{}, fmt.Errorf("classicmodels dump has no table %q", name)
}

func copyTable(t Table) Table {
	c := Table{Name: t.Name, Columns: append([]string(nil), t.Columns...), Rows: make([][]any, len(t.Rows))}
	for i, r := range t.Rows {
		c.Rows[i] = append([]any(nil), r...)
	}
	return c
}

// Rating is one row of the lab's ratings table.
type Rating struct {
	CustomerNumber int
	ProductCode    string
	ProductRating  int // 1..5
}

var parsedRatings = sync.OnceValues(func() ([]Rating, error) {
	r := csv.NewReader(strings.NewReader(ratingsCSV))
	r.FieldsPerRecord = 3
	head, err := r.Read()
	if err != nil {
		return nil, err
	}
	if strings.Join(head, ",") != "customerNumber,productCode,productRating" {
		return nil, fmt.Errorf("unexpected header %q", head)
	}
	var out []Rating
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		c, err := strconv.Atoi(rec[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: customerNumber %q: %w", line, rec[0], err)
		}
		v, err := strconv.Atoi(rec[2])
		if err != nil || v < 1 || v > 5 {
			return nil, fmt.Errorf("line %d: productRating %q is not 1..5", line, rec[2])
		}
		out = append(out, Rating{CustomerNumber: c, ProductCode: rec[1], ProductRating: v})
	}
})

// Ratings returns the lab's 2,532 ratings in file order (by customer, then
// product code). The result is the caller's to modify.
func Ratings() ([]Rating, error) {
	rs, err := parsedRatings()
	if err != nil {
		return nil, fmt.Errorf("parse embedded ratings.csv: %w", err)
	}
	return append([]Rating(nil), rs...), nil
}

// Product is one product of the classicmodels catalog. Money is in dollars,
// exact to the cent as written in the dump.
type Product struct {
	Code            string // productCode, e.g. "S10_1678"
	Name            string
	Line            string // productLine, e.g. "Motorcycles"
	Scale           string // productScale, e.g. "1:10"
	Vendor          string
	Description     string
	QuantityInStock int
	BuyPrice        float64
	MSRP            float64
}

// Customer is one customer of classicmodels. Nullable columns are pointers.
type Customer struct {
	Number           int
	Name             string
	ContactLastName  string
	ContactFirstName string // may carry trailing spaces, as in the source
	Phone            string
	AddressLine1     string
	AddressLine2     *string
	City             string
	State            *string
	PostalCode       *string
	Country          string // may carry trailing spaces, as in the source
	SalesRep         *int   // salesRepEmployeeNumber
	CreditLimit      float64
}

// rowReader converts one dump row by column name, remembering the first
// error.
type rowReader struct {
	t   *Table
	row []any
	err error
}

func (r *rowReader) fail(col, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("table %s, column %s: want %s", r.t.Name, col, want)
	}
}

func (r *rowReader) value(col string) any {
	i := r.t.Column(col)
	if i < 0 {
		if r.err == nil {
			r.err = fmt.Errorf("table %s has no column %s", r.t.Name, col)
		}
		return nil
	}
	return r.row[i]
}

func (r *rowReader) str(col string) string {
	s, ok := r.value(col).(string)
	if !ok {
		r.fail(col, "a string")
	}
	return s
}

func (r *rowReader) nullStr(col string) *string {
	v := r.value(col)
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		r.fail(col, "a string or NULL")
	}
	return &s
}

func (r *rowReader) int(col string) int {
	n, ok := r.value(col).(int64)
	if !ok {
		r.fail(col, "an integer")
	}
	return int(n)
}

func (r *rowReader) nullInt(col string) *int {
	v := r.value(col)
	if v == nil {
		return nil
	}
	n, ok := v.(int64)
	if !ok {
		r.fail(col, "an integer or NULL")
	}
	i := int(n)
	return &i
}

func (r *rowReader) money(col string) float64 {
	s, ok := r.value(col).(string)
	f, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil {
		r.fail(col, "a quoted decimal")
	}
	return f
}

var parsedProducts = sync.OnceValues(func() ([]Product, error) {
	t, err := TableData("products")
	if err != nil {
		return nil, err
	}
	out := make([]Product, 0, len(t.Rows))
	for _, row := range t.Rows {
		r := rowReader{t: &t, row: row}
		p := Product{
			Code: r.str("productCode"), Name: r.str("productName"), Line: r.str("productLine"),
			Scale: r.str("productScale"), Vendor: r.str("productVendor"), Description: r.str("productDescription"),
			QuantityInStock: r.int("quantityInStock"), BuyPrice: r.money("buyPrice"), MSRP: r.money("MSRP"),
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, p)
	}
	return out, nil
})

// Products returns the 110 products of the catalog in productCode order.
// The result is the caller's to modify.
func Products() ([]Product, error) {
	ps, err := parsedProducts()
	if err != nil {
		return nil, err
	}
	return append([]Product(nil), ps...), nil
}

var parsedCustomers = sync.OnceValues(func() ([]Customer, error) {
	t, err := TableData("customers")
	if err != nil {
		return nil, err
	}
	out := make([]Customer, 0, len(t.Rows))
	for _, row := range t.Rows {
		r := rowReader{t: &t, row: row}
		c := Customer{
			Number: r.int("customerNumber"), Name: r.str("customerName"),
			ContactLastName: r.str("contactLastName"), ContactFirstName: r.str("contactFirstName"),
			Phone: r.str("phone"), AddressLine1: r.str("addressLine1"), AddressLine2: r.nullStr("addressLine2"),
			City: r.str("city"), State: r.nullStr("state"), PostalCode: r.nullStr("postalCode"),
			Country: r.str("country"), SalesRep: r.nullInt("salesRepEmployeeNumber"),
			CreditLimit: r.money("creditLimit"),
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, c)
	}
	return out, nil
})

// Customers returns the 122 customers in customerNumber order. The result
// is the caller's to modify.
func Customers() ([]Customer, error) {
	cs, err := parsedCustomers()
	if err != nil {
		return nil, err
	}
	out := make([]Customer, len(cs))
	for i, c := range cs {
		c.AddressLine2, c.State, c.PostalCode, c.SalesRep = clonePtr(c.AddressLine2), clonePtr(c.State), clonePtr(c.PostalCode), clonePtr(c.SalesRep)
		out[i] = c
	}
	return out, nil
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ProductLines returns the seven product lines in the dump's order.
func ProductLines() ([]string, error) {
	t, err := TableData("productlines")
	if err != nil {
		return nil, err
	}
	i := t.Column("productLine")
	out := make([]string, 0, len(t.Rows))
	for _, row := range t.Rows {
		s, ok := row[i].(string)
		if !ok {
			return nil, fmt.Errorf("table productlines, column productLine: want a string")
		}
		out = append(out, s)
	}
	return out, nil
}
