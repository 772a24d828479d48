package model

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The lab's data: the classicmodels dump and its ratings (DESIGN.md §3).
const (
	classicSQL     = "../../shared/data/classicmodels/mysqlsampledatabase.sql"
	classicRatings = "../../shared/data/classicmodels/ratings.csv"
)

// classicDataset joins the real ratings with the customers and products of
// the classicmodels dump, as the ETL does, values as they are.
func classicDataset(t testing.TB) *Dataset {
	t.Helper()
	sql, err := os.ReadFile(classicSQL)
	if err != nil {
		t.Skipf("classicmodels data not available: %v", err)
	}
	customers, err := sqlInsertRows(string(sql), "customers")
	if err != nil {
		t.Fatal(err)
	}
	products, err := sqlInsertRows(string(sql), "products")
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("number %q: %v", s, err)
		}
		return f
	}
	users := map[string]UserFeatures{}
	for _, c := range customers { // customerNumber … city(7) … country(10) … creditLimit(12)
		users[c[0]] = UserFeatures{City: c[7], Country: c[10], CreditLimit: num(c[12])}
	}
	items := map[string]ItemFeatures{}
	for _, p := range products { // productCode, name, productLine(2), productScale(3), …, qty(6), buyPrice(7), MSRP(8)
		items[p[0]] = ItemFeatures{ProductLine: p[2], ProductScale: p[3], QuantityInStock: num(p[6]), BuyPrice: num(p[7]), MSRP: num(p[8])}
	}
	f, err := os.Open(classicRatings)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDataset()
	for _, r := range rows[1:] {
		u, ok1 := users[r[0]]
		it, ok2 := items[r[1]]
		if !ok1 || !ok2 {
			t.Fatalf("rating %v: unknown customer or product", r)
		}
		if err := d.Add(Rating{UserID: r[0], User: u, ItemID: r[1], Item: it, Value: num(r[2])}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// sqlInsertRows returns the value tuples of the INSERT statement into table
// of a mysqldump script, each value as text (NULL as "").
func sqlInsertRows(sql, table string) ([][]string, error) {
	marker := "into `" + table + "`"
	i := strings.Index(sql, marker)
	if i < 0 {
		return nil, fmt.Errorf("no INSERT into %s", table)
	}
	s := sql[i:]
	i = strings.Index(s, " values ")
	if i < 0 {
		return nil, fmt.Errorf("INSERT into %s: no values", table)
	}
	s = s[i+len(" values "):]
	var rows [][]string
	var row []string
	var val strings.Builder
	inTuple, inString, quoted := false, false, false
	for k := 0; k < len(s); k++ {
		ch := s[k]
		switch {
		case inString:
			switch {
			case ch == '\\' && k+1 < len(s):
				k++
				val.WriteByte(s[k])
			case ch == '\'' && k+1 < len(s) && s[k+1] == '\'':
				k++
				val.WriteByte('\'')
			case ch == '\'':
				inString = false
			default:
				val.WriteByte(ch)
			}
		case !inTuple:
			switch ch {
			case '(':
				inTuple, row = true, nil
				val.Reset()
			case ';':
				return rows, nil
			}
		case ch == '\'':
			inString, quoted = true, true
		case ch == ',' || ch == ')':
			v := val.String()
			if !quoted {
				if v = strings.TrimSpace(v); v == "NULL" {
					v = ""
				}
			}
			row = append(row, v)
			val.Reset()
			quoted = false
			if ch == ')' {
				rows = append(rows, row)
				inTuple = false
			}
		default:
			val.WriteByte(ch)
		}
	}
	return nil, fmt.Errorf("INSERT into %s: no terminating ';'", table)
}
