package seedtest

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/source"
)

// SourceAcceptance is the contract every source backend passes: the schema
// is created, listed, counted and dropped; bulk loads store exactly the rows
// given — awkward text included — and fail loudly on a rejected row, a
// failing producer or a row of the wrong width. open returns a fresh empty
// database per call.
func SourceAcceptance(t *testing.T, open func(testing.TB) *source.DB) {
	t.Run("schema", func(t *testing.T) {
		db := open(t)
		ctx := testContext(t)
		if got, err := db.Existing(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Existing on an empty database = %v, %v", got, err)
		}
		if err := db.CreateTables(ctx, source.Schema()); err != nil {
			t.Fatal(err)
		}
		got, err := db.Existing(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tc := range got {
			names = append(names, tc.Table)
			if tc.Rows != 0 {
				t.Errorf("new table %s has %d rows", tc.Table, tc.Rows)
			}
		}
		if !slices.Equal(names, source.SchemaNames()) {
			t.Errorf("Existing = %v, want %v", names, source.SchemaNames())
		}
		if err := db.CreateTables(ctx, source.Schema()[:1]); err == nil {
			t.Error("creating an existing table succeeded")
		}
		if _, err := db.CountRows(ctx, "mysql.user"); err == nil {
			t.Error("CountRows accepted a table outside the schema")
		}
		reverse := source.SchemaNames()
		slices.Reverse(reverse)
		if err := db.DropTables(ctx, reverse...); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Existing(ctx); err != nil || len(got) != 0 {
			t.Errorf("Existing after DropTables = %v, %v", got, err)
		}
		if err := db.DropTables(ctx, reverse...); err != nil {
			t.Errorf("dropping missing tables: %v", err)
		}
	})

	t.Run("round trip of awkward values", func(t *testing.T) {
		db := open(t)
		ctx := testContext(t)
		createAll(t, db)
		awkward := []string{
			"plain", "tab\there", "new\nline", "cr\r\nlf", `back\slash`, `\N`, "NULL", "",
			"Luleå Århus Genève", "trailing  ", " leading", `quote ' and "double"`, "nul\x00byte", "ends with \\",
		}
		var want [][]any
		for i, s := range awkward {
			var state any = s
			if i%3 == 0 {
				state = nil
			}
			want = append(want, []any{int64(100 + i), truncate(s+" Co.", 50), "Last", s, "555", "1 Main St", nil,
				"City", state, "01-012", "France", nil, fmt.Sprintf("%d.%02d", 1000*i, i)})
		}
		n, err := db.Load(ctx, source.Customers, rowsOf(want))
		if err != nil || n != int64(len(want)) {
			t.Fatalf("Load = %d, %v; want %d rows", n, err, len(want))
		}
		got := readAll(t, db, "SELECT customerNumber, customerName, contactLastName, contactFirstName, phone, addressLine1, addressLine2, "+
			"city, state, postalCode, country, salesRepEmployeeNumber, creditLimit FROM customers ORDER BY customerNumber")
		if len(got) != len(want) {
			t.Fatalf("read %d rows back, want %d", len(got), len(want))
		}
		for i := range want {
			for j := range want[i] {
				if w := text(want[i][j]); show(got[i][j]) != show(w) {
					t.Errorf("row %d column %d = %s, want %s", i, j, show(got[i][j]), show(w))
				}
			}
		}
	})

	t.Run("bulk load in key order", func(t *testing.T) {
		db := open(t)
		ctx := testContext(t)
		createAll(t, db)
		const customers, perCustomer = 300, 100
		rows := func(yield func([]any, error) bool) {
			row := make([]any, 3) // reused on purpose: loaders must copy
			for c := range customers {
				for p := range perCustomer {
					row[0], row[1], row[2] = int64(c), fmt.Sprintf("S18_%04d", p), int64(1+(c+p)%5)
					if !yield(row, nil) {
						return
					}
				}
			}
		}
		n, err := db.Load(ctx, source.Ratings, rows)
		if err != nil || n != customers*perCustomer {
			t.Fatalf("Load = %d, %v; want %d", n, err, customers*perCustomer)
		}
		var count, sum int64
		var last string
		if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*), SUM(productRating), MAX(productCode) FROM ratings").Scan(&count, &sum, &last); err != nil {
			t.Fatal(err)
		}
		var wantSum int64
		for c := range customers {
			for p := range perCustomer {
				wantSum += int64(1 + (c+p)%5)
			}
		}
		if count != customers*perCustomer || sum != wantSum || last != "S18_0099" {
			t.Errorf("ratings: count %d sum %d max code %s; want %d %d S18_0099", count, sum, last, customers*perCustomer, wantSum)
		}
	})

	t.Run("failures", func(t *testing.T) {
		db := open(t)
		ctx := testContext(t)
		createAll(t, db)
		dup := [][]any{{int64(1), "S10_1678", int64(3)}, {int64(1), "S10_1678", int64(4)}}
		if _, err := db.Load(ctx, source.Ratings, rowsOf(dup)); err == nil {
			t.Error("loading a duplicate key succeeded")
		} else {
			t.Logf("duplicate key (as expected): %v", err)
		}
		boom := errors.New("producer failed")
		failing := func(yield func([]any, error) bool) {
			if yield([]any{int64(2), "S10_1678", int64(3)}, nil) {
				yield(nil, boom)
			}
		}
		if _, err := db.Load(ctx, source.Ratings, failing); !errors.Is(err, boom) {
			t.Errorf("Load with a failing producer = %v, want it to wrap %v", err, boom)
		}
		if _, err := db.Load(ctx, source.Ratings, rowsOf([][]any{{int64(3), "S10_1678"}})); err == nil ||
			!strings.Contains(err.Error(), "2 values for 3 columns") {
			t.Errorf("Load of a short row = %v", err)
		}
		if n, err := db.Load(ctx, source.Payments, rowsOf(nil)); n != 0 || err != nil {
			t.Errorf("empty Load = %d, %v", n, err)
		}
		if _, err := db.Load(ctx, "users", rowsOf(nil)); err == nil {
			t.Error("Load into a table outside the schema succeeded")
		}
	})
}

func createAll(t testing.TB, db *source.DB) {
	t.Helper()
	if err := db.CreateTables(testContext(t), source.Schema()); err != nil {
		t.Fatal(err)
	}
}

func rowsOf(rows [][]any) source.Rows {
	return func(yield func([]any, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// readAll runs query and returns every value as text, nil for NULL.
func readAll(t testing.TB, db *source.DB, query string) [][]*string {
	t.Helper()
	rows, err := db.SQL.QueryContext(testContext(t), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func text(v any) *string {
	if v == nil {
		return nil
	}
	s := fmt.Sprint(v)
	return &s
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
