package seed_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/seed"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
)

// The training join of DESIGN.md §4.
const joinCount = `SELECT COUNT(*) FROM ratings r
JOIN products p ON p.productCode = r.productCode
JOIN customers c ON c.customerNumber = r.customerNumber`

func scalar[T any](t *testing.T, db *source.DB, query string, args ...any) T {
	t.Helper()
	var v T
	if err := db.SQL.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func TestClassicmodels(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			ctx := context.Background()
			var calls int
			var last [2]int64
			stats, err := seed.Classicmodels(ctx, db, seed.Options{Progress: func(done, total int64) {
				calls++
				if done < last[0] {
					t.Errorf("progress went back from %d to %d", last[0], done)
				}
				last = [2]int64{done, total}
			}})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{
				"customers": 122, "employees": 23, "offices": 7, "orderdetails": 2996, "orders": 326,
				"payments": 273, "productlines": 7, "products": 110, "ratings": 2532,
			}
			var total int64
			for table, n := range want {
				total += n
				if got, err := db.CountRows(ctx, table); err != nil || got != n {
					t.Errorf("%s has %d rows (%v), want %d", table, got, err, n)
				}
				if got := stats.Count(table); got != n {
					t.Errorf("stats say %d rows for %s, want %d", got, table, n)
				}
			}
			if stats.Rows != total || last != [2]int64{total, total} || calls < 1 {
				t.Errorf("stats.Rows = %d, last progress %v after %d calls; want %d", stats.Rows, last, calls, total)
			}
			if n := scalar[int](t, db, "SELECT COUNT(DISTINCT customerNumber) FROM ratings"); n != 98 {
				t.Errorf("ratings cover %d customers, want 98", n)
			}
			if n := scalar[int](t, db, "SELECT COUNT(DISTINCT productCode) FROM ratings"); n != 109 {
				t.Errorf("ratings cover %d products, want 109", n)
			}
			if n := scalar[int](t, db, joinCount); n != 2532 {
				t.Errorf("ratings ⋈ products ⋈ customers has %d rows, want 2532", n)
			}

			var city, country, credit string
			var state sql.NullString
			if err := db.SQL.QueryRowContext(ctx, "SELECT city, state, country, creditLimit FROM customers WHERE customerNumber = ?", 103).
				Scan(&city, &state, &country, &credit); err != nil {
				t.Fatal(err)
			}
			if city != "Nantes" || state.Valid || country != "France" || credit != "21000.00" {
				t.Errorf("customer 103 = %q %v %q %q, want Nantes NULL France 21000.00", city, state, country, credit)
			}
			if got := scalar[string](t, db, "SELECT country FROM customers WHERE customerNumber = ?", 167); got != "Norway  " {
				t.Errorf("customer 167 country = %q, want the source's trailing spaces", got)
			}
			if got := scalar[string](t, db, "SELECT buyPrice FROM products WHERE productCode = ?", "S10_1678"); got != "48.81" {
				t.Errorf("S10_1678 buyPrice = %q, want 48.81", got)
			}
			if got := scalar[string](t, db, "SELECT orderDate FROM orders WHERE orderNumber = ?", 10100); got != "2003-01-06" {
				t.Errorf("order 10100 date = %q, want 2003-01-06", got)
			}
			if got := scalar[int](t, db, "SELECT productRating FROM ratings WHERE customerNumber = ? AND productCode = ?", 103, "S18_2625"); got != 1 {
				t.Errorf("rating of 103 for S18_2625 = %d, want 1", got)
			}
			if got := scalar[string](t, db, "SELECT customerName FROM customers WHERE customerNumber = ?", 172); got != "La Corne D'abondance, Co." {
				t.Errorf("customer 172 = %q", got)
			}
		})
	}
}

func TestRefusesNonEmptySourceAndReplaces(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := seedtest.Classicmodels(t, b)
			ctx := context.Background()
			_, err := seed.Generated(ctx, db, seed.GenOptions{Ratings: 1000})
			var ne *seed.NotEmptyError
			if !errors.As(err, &ne) || !errors.Is(err, seed.ErrNotEmpty) {
				t.Fatalf("seeding a seeded source: %v, want a NotEmptyError", err)
			}
			for _, w := range []string{"customers (122 rows)", "ratings (2532 rows)", "--replace", db.String()} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if n, _ := db.CountRows(ctx, source.Ratings); n != 2532 {
				t.Errorf("refused seed changed ratings: %d rows", n)
			}

			stats, err := seed.Generated(ctx, db, seed.GenOptions{Ratings: 1000, Seed: 1, Options: seed.Options{Replace: true}})
			if err != nil {
				t.Fatal(err)
			}
			for table, n := range map[string]int64{"ratings": 1000, "customers": 50, "products": 110, "orders": 0, "orderdetails": 0, "employees": 23} {
				if got, _ := db.CountRows(ctx, table); got != n || stats.Count(table) != n {
					t.Errorf("after replace %s has %d rows (stats %d), want %d", table, got, stats.Count(table), n)
				}
			}
			// A table that exists but is empty still refuses.
			if err := db.DropTables(ctx, "ratings", "payments", "orderdetails", "orders", "customers", "employees", "offices", "products"); err != nil {
				t.Fatal(err)
			}
			if _, err := seed.Classicmodels(ctx, db, seed.Options{}); err == nil || !strings.Contains(err.Error(), "productlines (7 rows)") {
				t.Errorf("seeding over a lone productlines table: %v", err)
			}
		})
	}
}

// digest hashes every row of the generated tables in key order.
func digest(t *testing.T, db *source.DB) uint64 {
	t.Helper()
	return digestQueries(t, db,
		"SELECT * FROM products ORDER BY productCode",
		"SELECT * FROM customers ORDER BY customerNumber",
		"SELECT * FROM ratings ORDER BY customerNumber, productCode")
}

// digestQueries hashes every row the queries return, in order, each as
// its columns' text (NULL as such).
func digestQueries(t *testing.T, db *source.DB, queries ...string) uint64 {
	t.Helper()
	h := fnv.New64a()
	for _, q := range queries {
		rows, err := db.SQL.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(h, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return h.Sum64()
}

func TestGeneratedIsDeterministicAcrossBackends(t *testing.T) {
	opts := seed.GenOptions{Ratings: 5000, Customers: 80, Products: 150, Seed: 2024}
	var first uint64
	for i, b := range append(seedtest.Backends, seedtest.Backends[0]) {
		t.Run(b.Name, func(t *testing.T) {
			d := digest(t, seedtest.Generated(t, b, opts))
			if i == 0 {
				first = d
			} else if d != first {
				t.Errorf("seed %d on %s gave different rows than on %s", opts.Seed, b.Name, seedtest.Backends[0].Name)
			}
		})
	}
	other := opts
	other.Seed++
	if d := digest(t, seedtest.Generated(t, seedtest.Backends[0], other)); d == first {
		t.Error("another seed gave the same rows")
	}
}

// TestGeneratedRatingsDependOnFeatures checks that the hidden taste shows
// in the data a model will see: mean ratings differ clearly across
// region × product line, and richer customers rate dearer products higher.
func TestGeneratedRatingsDependOnFeatures(t *testing.T) {
	db := seedtest.Generated(t, seedtest.Backends[0], seed.GenOptions{Ratings: 60_000, Seed: 11})
	rows, err := db.SQL.Query(`SELECT c.country, p.productLine, CAST(c.creditLimit AS REAL), CAST(p.MSRP AS REAL), r.productRating
FROM ratings r JOIN products p ON p.productCode = r.productCode JOIN customers c ON c.customerNumber = r.customerNumber`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type cell struct{ sum, n float64 }
	groups := map[[2]string]*cell{}
	var hist [6]int
	var richDear, richCheap, poorDear, poorCheap cell
	for rows.Next() {
		var country, line string
		var credit, msrp float64
		var r int
		if err := rows.Scan(&country, &line, &credit, &msrp, &r); err != nil {
			t.Fatal(err)
		}
		if r < 1 || r > 5 {
			t.Fatalf("rating %d outside 1..5", r)
		}
		hist[r]++
		k := [2]string{seed.RegionNames[seed.Region(country)], line}
		if groups[k] == nil {
			groups[k] = &cell{}
		}
		groups[k].sum += float64(r)
		groups[k].n++
		var c *cell
		switch {
		case credit > 110000 && msrp > 130:
			c = &richDear
		case credit > 110000 && msrp < 70:
			c = &richCheap
		case credit < 55000 && msrp > 130:
			c = &poorDear
		case credit < 55000 && msrp < 70:
			c = &poorCheap
		}
		if c != nil {
			c.sum += float64(r)
			c.n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("rating histogram 1..5: %v", hist[1:])
	mean := func(region, line string) float64 {
		c := groups[[2]string{region, line}]
		if c == nil || c.n < 200 {
			t.Fatalf("too few ratings for %s × %s", region, line)
		}
		return c.sum / c.n
	}
	for _, d := range []struct {
		hiRegion, hiLine, loRegion, loLine string
	}{
		{"North America", "Classic Cars", "North America", "Ships"},
		{"Western Europe", "Vintage Cars", "North America", "Vintage Cars"},
		{"Nordic", "Ships", "Western Europe", "Trucks and Buses"},
		{"Asia-Pacific", "Planes", "North America", "Planes"},
	} {
		hi, lo := mean(d.hiRegion, d.hiLine), mean(d.loRegion, d.loLine)
		t.Logf("%s × %s = %.2f vs %s × %s = %.2f", d.hiRegion, d.hiLine, hi, d.loRegion, d.loLine, lo)
		if hi-lo < 0.8 {
			t.Errorf("mean rating %s × %s = %.2f is not clearly above %s × %s = %.2f", d.hiRegion, d.hiLine, hi, d.loRegion, d.loLine, lo)
		}
	}
	// Price fit: the interaction of credit and price.
	interaction := (richDear.sum/richDear.n - richCheap.sum/richCheap.n) - (poorDear.sum/poorDear.n - poorCheap.sum/poorCheap.n)
	t.Logf("credit × price interaction: %.2f", interaction)
	if interaction < 0.3 {
		t.Errorf("richer customers do not prefer dearer products: interaction %.2f", interaction)
	}
	for r := 1; r <= 5; r++ {
		if hist[r] < 60_000/50 {
			t.Errorf("rating %d occurs only %d times; want every rating well represented", r, hist[r])
		}
	}
}

func TestFailedSeedDropsItsTables(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := seed.Generated(ctx, db, seed.GenOptions{Ratings: 200_000, Options: seed.Options{
				Progress: func(done, total int64) {
					if done > 20_000 {
						cancel()
					}
				},
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled seed returned %v", err)
			}
			if got, err := db.Existing(context.Background()); err != nil || len(got) != 0 {
				t.Errorf("after a cancelled seed the source holds %v (%v), want no tables", got, err)
			}
		})
	}
}

func TestBadSizes(t *testing.T) {
	db := seedtest.SQLite(t)
	_, err := seed.Generated(context.Background(), db, seed.GenOptions{Customers: 2, Products: 2, Ratings: 5})
	var se *seed.SizeError
	if !errors.As(err, &se) || se.Option != "ratings" {
		t.Fatalf("Generated with 5 ratings over 2×2 pairs: %v", err)
	}
	if got, _ := db.Existing(context.Background()); len(got) != 0 {
		t.Errorf("a refused seed created tables: %v", got)
	}
}
