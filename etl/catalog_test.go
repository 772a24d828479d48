package etl_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// sourceCatalog reads the customers and products tables straight from the
// source, in key order, formatted for comparison.
func sourceCatalog(t *testing.T, db *sql.DB) (customers, products []string) {
	t.Helper()
	rows, err := db.Query(`SELECT customerNumber, city, state, postalCode, country, creditLimit FROM customers ORDER BY customerNumber`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c training.Customer
		var state, postal sql.NullString
		var credit float64
		if err := rows.Scan(&c.CustomerNumber, &c.City, &state, &postal, &c.Country, &credit); err != nil {
			t.Fatal(err)
		}
		if state.Valid {
			c.State = &state.String
		}
		if postal.Valid {
			c.PostalCode = &postal.String
		}
		c.CreditLimit = cents(credit)
		customers = append(customers, formatCustomer(c))
	}
	rows.Close()
	rows, err = db.Query(`SELECT productCode, productName, productLine, productScale, quantityInStock, buyPrice, MSRP FROM products ORDER BY productCode`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p training.Product
		var buy, msrp float64
		if err := rows.Scan(&p.ProductCode, &p.ProductName, &p.ProductLine, &p.ProductScale, &p.QuantityInStock, &buy, &msrp); err != nil {
			t.Fatal(err)
		}
		p.BuyPrice, p.MSRP = cents(buy), cents(msrp)
		products = append(products, formatProduct(p))
	}
	rows.Close()
	return customers, products
}

func formatCustomer(c training.Customer) string {
	return fmt.Sprintf("{%d %q %s %s %q %d}", c.CustomerNumber, c.City, strp(c.State), strp(c.PostalCode), c.Country, c.CreditLimit)
}

func formatProduct(p training.Product) string {
	return fmt.Sprintf("{%q %q %q %q %d %d %d}", p.ProductCode, p.ProductName, p.ProductLine, p.ProductScale, p.QuantityInStock, p.BuyPrice, p.MSRP)
}

// TestCatalogExported checks contract C1: a run on the sample exports every
// customer and product, rated or not, committed by the run's manifest, and
// ReadCatalog reads them back exactly as the source holds them.
func TestCatalogExported(t *testing.T) {
	for _, lk := range []struct {
		name string
		open func(t *testing.T) lake.Bucket
	}{{"file", fileLake}, {"s3", s3Lake}} {
		t.Run(lk.name, func(t *testing.T) {
			ctx := context.Background()
			db := sqliteSource(t)
			seedClassic(t, db)
			b := lk.open(t)
			sum, err := etl.Run(ctx, db, b, etl.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Customers != 122 || sum.Products != 110 {
				t.Errorf("summary: %d customers, %d products; want 122 and 110", sum.Customers, sum.Products)
			}
			_, m := readDataset(t, b)
			if m.Catalog == nil {
				t.Fatal("manifest has no catalog")
			}
			wantCust := path.Join(training.CatalogDir, m.RunID, "customers.snappy.parquet")
			if m.Catalog.Customers != wantCust || m.Catalog.CustomerRows != 122 || m.Catalog.ProductRows != 110 {
				t.Errorf("manifest catalog %+v; want customers at %s, 122 customers and 110 products", *m.Catalog, wantCust)
			}
			// The files are where an outside reader finds them.
			for _, rel := range []string{m.Catalog.Customers, m.Catalog.Products} {
				if _, err := b.Attributes(ctx, path.Join(training.Dataset, rel)); err != nil {
					t.Errorf("catalogue file %s/%s: %v", training.Dataset, rel, err)
				}
			}
			cat, err := training.ReadCatalog(ctx, b, m)
			if err != nil {
				t.Fatal(err)
			}
			if cat == nil {
				t.Fatal("ReadCatalog gave no catalogue")
			}
			wantC, wantP := sourceCatalog(t, db.SQL)
			if len(cat.Customers) != 122 || len(cat.Products) != 110 || len(wantC) != 122 || len(wantP) != 110 {
				t.Fatalf("catalogue has %d customers and %d products (source %d, %d); want 122 and 110", len(cat.Customers), len(cat.Products), len(wantC), len(wantP))
			}
			for i, c := range cat.Customers {
				if g := formatCustomer(c); g != wantC[i] {
					t.Fatalf("customer %d differs:\n lake   %s\n source %s", i, g, wantC[i])
				}
			}
			for i, p := range cat.Products {
				if g := formatProduct(p); g != wantP[i] {
					t.Fatalf("product %d differs:\n lake   %s\n source %s", i, g, wantP[i])
				}
			}
			// The sample has customers without ratings and a product without any.
			rated := map[string]bool{}
			rows, _ := db.SQL.Query("SELECT DISTINCT productCode FROM ratings")
			for rows.Next() {
				var c string
				rows.Scan(&c)
				rated[c] = true
			}
			rows.Close()
			unrated := 0
			for _, p := range cat.Products {
				if !rated[p.ProductCode] {
					unrated++
				}
			}
			if unrated == 0 {
				t.Error("no unrated product in the catalogue; the sample has some (S18_3233)")
			}
		})
	}
}

// TestReadCatalogOldManifest: a manifest written before the catalogue
// existed gives no catalogue and no error.
func TestReadCatalogOldManifest(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	if _, err := etl.Run(ctx, db, b, etl.Options{}); err != nil {
		t.Fatal(err)
	}
	_, m := readDataset(t, b)
	// An old manifest, as an older recoflow wrote it.
	raw, _ := json.Marshal(m)
	var generic map[string]any
	json.Unmarshal(raw, &generic)
	delete(generic, "catalog")
	raw, _ = json.Marshal(generic)
	var old training.Manifest
	if err := json.Unmarshal(raw, &old); err != nil {
		t.Fatal(err)
	}
	cat, err := training.ReadCatalog(ctx, b, &old)
	if cat != nil || err != nil {
		t.Fatalf("ReadCatalog(old manifest) = %v, %v; want nil, nil", cat, err)
	}
}

// TestCatalogBadRows: a customer whose creditLimit is NULL is kept out of
// the catalogue with the reason under quarantine, and stops a run under fail.
func TestCatalogBadRows(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	// 125 has no ratings in the sample? Pick a customer without ratings so the join is unaffected.
	var cust int
	if err := db.SQL.QueryRow(`SELECT customerNumber FROM customers WHERE customerNumber NOT IN (SELECT customerNumber FROM ratings) ORDER BY customerNumber LIMIT 1`).Scan(&cust); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.Exec("UPDATE customers SET creditLimit = NULL WHERE customerNumber = ?", cust); err != nil {
		t.Fatal(err)
	}
	b := fileLake(t)
	sum, err := etl.Run(ctx, db, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Customers != 121 || sum.CatalogRejected != 1 || sum.Rows != 2532 {
		t.Errorf("summary: %d customers, %d catalogue rows rejected, %d rows; want 121, 1, 2532", sum.Customers, sum.CatalogRejected, sum.Rows)
	}
	rc, err := b.Get(ctx, sum.RejectsKey)
	if err != nil {
		t.Fatalf("rejects %q: %v", sum.RejectsKey, err)
	}
	var r etl.Reject
	json.NewDecoder(rc).Decode(&r)
	rc.Close()
	want := fmt.Sprintf("customer %d: customers.creditLimit is NULL", cust)
	if r.Table != "customers" || r.Reason != want {
		t.Errorf("reject %+v; want table customers, reason %q", r, want)
	}
	_, err = etl.Run(ctx, db, b, etl.Options{OnBadRows: etl.Fail})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("bad customers row (customerNumber=%d)", cust)) || !strings.Contains(err.Error(), "creditLimit is NULL") {
		t.Fatalf("error %v; want it to name the customers row and the NULL creditLimit", err)
	}
}
