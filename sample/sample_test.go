package sample

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"
)

func TestEmbeddedFilesAreTheOriginals(t *testing.T) {
	data, err := fs.ReadFile(Files(), "mysqlsampledatabase.sql")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	// SHA-256 recorded in data/SOURCE.md.
	const want = "94cdaf7167f74f3c08d30d78774ad5345e15c009e23abfc0f1125f278533a10c"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("dump SHA-256 = %s, want %s (the file must stay byte-identical)", got, want)
	}
	if len(data) != 210202 || string(data) != Dump() {
		t.Errorf("dump is %d bytes, want 210202 and equal to Dump()", len(data))
	}
	if !strings.Contains(Dump(), "\r\n") {
		t.Error("dump lost its CRLF line endings")
	}
	notes, err := fs.ReadFile(Files(), "SOURCE.md")
	if err != nil || !strings.Contains(string(notes), want) {
		t.Errorf("SOURCE.md missing or without the checksum: %v", err)
	}
}

func TestTableCounts(t *testing.T) {
	tables, err := Tables()
	if err != nil {
		t.Fatal(err)
	}
	// Counts from data/SOURCE.md.
	want := []struct {
		name string
		rows int
	}{
		{"customers", 122}, {"employees", 23}, {"offices", 7}, {"orderdetails", 2996},
		{"orders", 326}, {"payments", 273}, {"productlines", 7}, {"products", 110},
	}
	if len(tables) != len(want) {
		t.Fatalf("got %d tables, want %d", len(tables), len(want))
	}
	for i, w := range want {
		if tables[i].Name != w.name || len(tables[i].Rows) != w.rows {
			t.Errorf("table %d = %s with %d rows, want %s with %d", i, tables[i].Name, len(tables[i].Rows), w.name, w.rows)
		}
	}
	if _, err := TableData("nope"); err == nil {
		t.Error("TableData(nope) succeeded")
	}
}

func TestKnownValues(t *testing.T) {
	customers, err := Customers()
	if err != nil {
		t.Fatal(err)
	}
	byNumber := map[int]Customer{}
	for _, c := range customers {
		byNumber[c.Number] = c
	}
	c103 := byNumber[103]
	if c103.City != "Nantes" || c103.Country != "France" || c103.CreditLimit != 21000 || c103.State != nil ||
		c103.PostalCode == nil || *c103.PostalCode != "44000" || c103.ContactFirstName != "Carine " {
		t.Errorf("customer 103 = %+v", c103)
	}
	if got := byNumber[172].Name; got != "La Corne D'abondance, Co." {
		t.Errorf("customer 172 name = %q (backslash-escaped quote)", got)
	}
	if got := byNumber[167].Country; got != "Norway  " {
		t.Errorf("customer 167 country = %q, want the source's trailing spaces", got)
	}
	if got := byNumber[144].City; got != "Luleå" {
		t.Errorf("customer 144 city = %q, want UTF-8 Luleå", got)
	}
	if c := byNumber[211]; c.PostalCode != nil {
		t.Errorf("customer 211 postalCode = %q, want NULL", *c.PostalCode)
	}

	products, err := Products()
	if err != nil {
		t.Fatal(err)
	}
	if len(products) != 110 {
		t.Fatalf("%d products, want 110", len(products))
	}
	p := products[0]
	if p.Code != "S10_1678" || p.Name != "1969 Harley Davidson Ultimate Chopper" || p.Line != "Motorcycles" ||
		p.Scale != "1:10" || p.QuantityInStock != 7933 || p.BuyPrice != 48.81 || p.MSRP != 95.70 {
		t.Errorf("first product = %+v", p)
	}
	for _, p := range products {
		if p.Code == "S700_2610" && !strings.Contains(p.Description, "31 1/2\" Length") {
			t.Errorf("S700_2610 description lost its escaped quote: %q", p.Description)
		}
		if p.Code == "S700_1138" && !strings.Contains(p.Description, "Many extras.\r\nThe") {
			t.Errorf("S700_1138 description lost its \\r\\n escape: %q", p.Description)
		}
	}
	lines, err := ProductLines()
	if err != nil || len(lines) != 7 || lines[0] != "Classic Cars" {
		t.Errorf("ProductLines = %q, %v", lines, err)
	}
}

func TestRatings(t *testing.T) {
	ratings, err := Ratings()
	if err != nil {
		t.Fatal(err)
	}
	if len(ratings) != 2532 {
		t.Fatalf("%d ratings, want 2532", len(ratings))
	}
	customers, products := map[int]bool{}, map[string]bool{}
	var hist [6]int
	for _, r := range ratings {
		customers[r.CustomerNumber] = true
		products[r.ProductCode] = true
		hist[r.ProductRating]++
	}
	if len(customers) != 98 || len(products) != 109 {
		t.Errorf("ratings cover %d customers and %d products, want 98 and 109", len(customers), len(products))
	}
	if want := [6]int{0, 224, 562, 859, 632, 255}; hist != want {
		t.Errorf("rating histogram = %v, want %v", hist, want)
	}
	if r := ratings[0]; r != (Rating{103, "S10_2016", 3}) {
		t.Errorf("first rating = %+v", r)
	}
	// Every rating names a catalog product.
	catalog, _ := Products()
	known := map[string]bool{}
	for _, p := range catalog {
		known[p.Code] = true
	}
	for code := range products {
		if !known[code] {
			t.Errorf("rated product %s is not in the catalog", code)
		}
	}
}

func TestResultsAreCopies(t *testing.T) {
	a, _ := TableData("offices")
	a.Rows[0][1] = "changed"
	b, _ := TableData("offices")
	if b.Rows[0][1] == "changed" {
		t.Error("TableData returned shared rows")
	}
}
