// Package source is recoflow's view of the shop's relational database: the
// classicmodels schema plus the lab's ratings table.
//
// A source is a database/sql handle plus the dialect that knows how the
// backend differs (DDL, bulk loading, error wording). The backends live in
// subpackages — source/mysql (MySQL 8, MariaDB 10.11) and source/sqlite (pure
// Go, the embedded default) — and are the only packages that import a driver.
// internal/connect picks one from a URL.
//
// The schema is described once, here, as data (Schema, Lookup): the nine
// tables with their columns, keys and indexes. Each dialect renders it as
// DDL for its backend, and DB's methods create, drop, count and bulk-load
// those tables without the caller writing any SQL:
//
//	db, err := sqlite.Open(ctx, "shop.db", true)
//	err = db.CreateTables(ctx, source.Schema())
//	n, err := db.Load(ctx, source.Ratings, rows)
//
// Any other database can be described without reading a row: DB.Describe
// lists its tables with their columns, declared types (classified by
// ClassOf), primary and foreign keys, from information_schema or SQLite's
// pragmas, and DB.Quote quotes identifiers the backend's way. Dataset specs
// (package dataset) are checked and drafted from it.
//
// Values are exchanged in the same form on every backend: integers as
// int64, text as string, DECIMAL(10,2) as its exact decimal text
// ("21000.00"), DATE as "YYYY-MM-DD", NULL as nil. (SQLite stores decimals
// and dates as TEXT, so they read back exactly as they went in.)
package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"
)

// ErrUnreachable wraps failures to connect to or authenticate with a source.
var ErrUnreachable = errors.New("source database unreachable")

// ErrNotExist is wrapped by errors saying that the database (a SQLite file,
// a MySQL database) does not exist and was not to be created. Its text reads
// well after a noun: "sqlite source x.db: file does not exist".
var ErrNotExist = errors.New("does not exist")

// Table names of the schema.
const (
	ProductLines = "productlines"
	Products     = "products"
	Offices      = "offices"
	Employees    = "employees"
	Customers    = "customers"
	Orders       = "orders"
	OrderDetails = "orderdetails"
	Payments     = "payments"
	Ratings      = "ratings"
)

// Type is the SQL type of a column, independent of the backend.
type Type int

// Column types. Each dialect maps them to its own types.
const (
	Int        Type = iota + 1 // INT (32-bit)
	SmallInt                   // SMALLINT (16-bit)
	VarChar                    // VARCHAR(Size)
	Text                       // TEXT
	MediumText                 // MEDIUMTEXT
	Decimal                    // DECIMAL(Size, Scale), exchanged as decimal text
	Date                       // DATE, exchanged as "YYYY-MM-DD"
	Blob                       // MEDIUMBLOB
)

// Column is one column of a table.
type Column struct {
	Name     string
	Type     Type
	Size     int // length of a VarChar, precision of a Decimal
	Scale    int // digits after the point of a Decimal
	Nullable bool
}

// ForeignKey is a reference from Columns to RefColumns of table Ref.
type ForeignKey struct {
	Columns    []string
	Ref        string
	RefColumns []string
}

// Table describes one table of the schema.
type Table struct {
	Name        string
	Columns     []Column
	PrimaryKey  []string
	Indexes     [][]string // secondary indexes, one column list each
	ForeignKeys []ForeignKey
}

// ColumnNames returns the names of t's columns in order.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

func col(name string, t Type, size int) Column { return Column{Name: name, Type: t, Size: size} }
func nullable(c Column) Column                 { c.Nullable = true; return c }
func money(name string) Column                 { return Column{Name: name, Type: Decimal, Size: 10, Scale: 2} }

// Schema returns the nine tables — the eight of the classicmodels dump,
// with its column names, keys and foreign keys, plus the lab's ratings — in
// an order where every table comes after the tables it references. Drop them
// in the reverse order. ratings has no foreign keys: a rating may name a
// customer or product that does not exist.
//
// The result is a fresh copy; callers may modify it.
func Schema() []Table {
	return []Table{
		{
			Name: ProductLines,
			Columns: []Column{
				col("productLine", VarChar, 50),
				nullable(col("textDescription", VarChar, 4000)),
				nullable(col("htmlDescription", MediumText, 0)),
				nullable(col("image", Blob, 0)),
			},
			PrimaryKey: []string{"productLine"},
		},
		{
			Name: Products,
			Columns: []Column{
				col("productCode", VarChar, 15),
				col("productName", VarChar, 70),
				col("productLine", VarChar, 50),
				col("productScale", VarChar, 10),
				col("productVendor", VarChar, 50),
				col("productDescription", Text, 0),
				col("quantityInStock", SmallInt, 0),
				money("buyPrice"),
				money("MSRP"),
			},
			PrimaryKey:  []string{"productCode"},
			Indexes:     [][]string{{"productLine"}},
			ForeignKeys: []ForeignKey{{[]string{"productLine"}, ProductLines, []string{"productLine"}}},
		},
		{
			Name: Offices,
			Columns: []Column{
				col("officeCode", VarChar, 10),
				col("city", VarChar, 50),
				col("phone", VarChar, 50),
				col("addressLine1", VarChar, 50),
				nullable(col("addressLine2", VarChar, 50)),
				nullable(col("state", VarChar, 50)),
				col("country", VarChar, 50),
				col("postalCode", VarChar, 15),
				col("territory", VarChar, 10),
			},
			PrimaryKey: []string{"officeCode"},
		},
		{
			Name: Employees,
			Columns: []Column{
				col("employeeNumber", Int, 0),
				col("lastName", VarChar, 50),
				col("firstName", VarChar, 50),
				col("extension", VarChar, 10),
				col("email", VarChar, 100),
				col("officeCode", VarChar, 10),
				nullable(col("reportsTo", Int, 0)),
				col("jobTitle", VarChar, 50),
			},
			PrimaryKey: []string{"employeeNumber"},
			Indexes:    [][]string{{"reportsTo"}, {"officeCode"}},
			ForeignKeys: []ForeignKey{
				{[]string{"reportsTo"}, Employees, []string{"employeeNumber"}},
				{[]string{"officeCode"}, Offices, []string{"officeCode"}},
			},
		},
		{
			Name: Customers,
			Columns: []Column{
				col("customerNumber", Int, 0),
				col("customerName", VarChar, 50),
				col("contactLastName", VarChar, 50),
				col("contactFirstName", VarChar, 50),
				col("phone", VarChar, 50),
				col("addressLine1", VarChar, 50),
				nullable(col("addressLine2", VarChar, 50)),
				col("city", VarChar, 50),
				nullable(col("state", VarChar, 50)),
				nullable(col("postalCode", VarChar, 15)),
				col("country", VarChar, 50),
				nullable(col("salesRepEmployeeNumber", Int, 0)),
				nullable(money("creditLimit")),
			},
			PrimaryKey:  []string{"customerNumber"},
			Indexes:     [][]string{{"salesRepEmployeeNumber"}},
			ForeignKeys: []ForeignKey{{[]string{"salesRepEmployeeNumber"}, Employees, []string{"employeeNumber"}}},
		},
		{
			Name: Orders,
			Columns: []Column{
				col("orderNumber", Int, 0),
				col("orderDate", Date, 0),
				col("requiredDate", Date, 0),
				nullable(col("shippedDate", Date, 0)),
				col("status", VarChar, 15),
				nullable(col("comments", Text, 0)),
				col("customerNumber", Int, 0),
			},
			PrimaryKey:  []string{"orderNumber"},
			Indexes:     [][]string{{"customerNumber"}},
			ForeignKeys: []ForeignKey{{[]string{"customerNumber"}, Customers, []string{"customerNumber"}}},
		},
		{
			Name: OrderDetails,
			Columns: []Column{
				col("orderNumber", Int, 0),
				col("productCode", VarChar, 15),
				col("quantityOrdered", Int, 0),
				money("priceEach"),
				col("orderLineNumber", SmallInt, 0),
			},
			PrimaryKey: []string{"orderNumber", "productCode"},
			Indexes:    [][]string{{"productCode"}},
			ForeignKeys: []ForeignKey{
				{[]string{"orderNumber"}, Orders, []string{"orderNumber"}},
				{[]string{"productCode"}, Products, []string{"productCode"}},
			},
		},
		{
			Name: Payments,
			Columns: []Column{
				col("customerNumber", Int, 0),
				col("checkNumber", VarChar, 50),
				col("paymentDate", Date, 0),
				money("amount"),
			},
			PrimaryKey:  []string{"customerNumber", "checkNumber"},
			ForeignKeys: []ForeignKey{{[]string{"customerNumber"}, Customers, []string{"customerNumber"}}},
		},
		{
			Name: Ratings,
			Columns: []Column{
				col("customerNumber", Int, 0),
				col("productCode", VarChar, 15),
				col("productRating", Int, 0),
			},
			PrimaryKey: []string{"customerNumber", "productCode"},
		},
	}
}

// Lookup returns the schema's table called name.
func Lookup(name string) (Table, bool) {
	for _, t := range Schema() {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Rows is a stream of rows for a bulk load, each with one value per column
// of the table, in column order. A value is nil (NULL), an int64, int or
// int32, a string or []byte, or a float64; decimals and dates are text (see
// the package comment). The row slice may be reused by the producer after
// yield returns. A producer that fails yields (nil, err) and stops; the
// load then fails with that error.
type Rows = iter.Seq2[[]any, error]

// Dialect describes what differs between source backends. Implementations
// are stateless and safe for concurrent use.
type Dialect interface {
	// Name is the backend's short name: "mysql" or "sqlite".
	Name() string
	// CreateTable returns the statements that create t and its indexes, to
	// be run in order. Identifiers come from t, which comes from code.
	CreateTable(t *Table) []string
	// TablesQuery returns a query, without parameters, that lists the
	// names of the tables in the database, one per row.
	TablesQuery() string
	// Load inserts every row of rows into t with the backend's fastest
	// safe path and returns how many rows were stored. It blocks until the
	// rows are exhausted, an error occurs, or ctx is cancelled. Rows are
	// committed in large batches, so on error some may already be stored.
	// A row the database rejects (a duplicate key, a value that does not
	// fit) is an error, never silently dropped.
	Load(ctx context.Context, db *sql.DB, t *Table, rows Rows) (int64, error)
	// Quote returns ident quoted as an identifier of the backend.
	Quote(ident string) string
	// Describe reads the database's catalogue: every table and view with
	// its columns (name, declared type, nullability; Class may be left
	// ClassOther for DB.Describe to fill from the declared type), primary
	// key and foreign keys. It reads no table's rows; every statement is
	// parameterised.
	Describe(ctx context.Context, db *sql.DB) ([]TableInfo, error)
}

// DB is an open source database.
type DB struct {
	// SQL is the connection pool. Every statement run on it is parameterised.
	SQL *sql.DB
	// Dialect says which backend this is.
	Dialect Dialect
	// Address names the database for messages: host and database, or the
	// file path. It never holds a password.
	Address string
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.SQL.Close() }

// String returns the redacted address.
func (db *DB) String() string { return db.Dialect.Name() + " " + db.Address }

// TableNames returns the names of all tables in the database (not only the
// schema's), in no particular order.
func (db *DB) TableNames(ctx context.Context) ([]string, error) {
	rows, err := db.SQL.QueryContext(ctx, db.Dialect.TablesQuery())
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", db, err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	return names, nil
}

// schemaTable returns the schema table called name, or an error: only
// those names are ever put into SQL text.
func schemaTable(name string) (Table, error) {
	t, ok := Lookup(name)
	if !ok {
		return Table{}, fmt.Errorf("table %q is not part of the source schema", name)
	}
	return t, nil
}

// CountRows returns the number of rows of the schema table called name.
func (db *DB) CountRows(ctx context.Context, name string) (int64, error) {
	t, err := schemaTable(name)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.Name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s in %s: %w", t.Name, db, err)
	}
	return n, nil
}

// Existing returns, for every schema table present in the database, its
// row count, in schema order. Names are matched case-insensitively, as
// MySQL may on some systems.
func (db *DB) Existing(ctx context.Context) ([]TableCount, error) {
	names, err := db.TableNames(ctx)
	if err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for _, n := range names {
		present[strings.ToLower(n)] = true
	}
	var out []TableCount
	for _, t := range Schema() {
		if !present[t.Name] {
			continue
		}
		n, err := db.CountRows(ctx, t.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, TableCount{Table: t.Name, Rows: n})
	}
	return out, nil
}

// TableCount is a table name with its number of rows.
type TableCount struct {
	Table string
	Rows  int64
}

// CreateTables creates the given tables (normally Schema()) in order. A
// table that already exists is an error.
func (db *DB) CreateTables(ctx context.Context, tables []Table) error {
	for i := range tables {
		for _, stmt := range db.Dialect.CreateTable(&tables[i]) {
			if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create table %s in %s: %w", tables[i].Name, db, err)
			}
		}
	}
	return nil
}

// DropTables drops the named schema tables that exist, in the order given
// (referencing tables first: the reverse of Schema's order). Dropping a
// table that does not exist is not an error.
func (db *DB) DropTables(ctx context.Context, names ...string) error {
	for _, name := range names {
		t, err := schemaTable(name)
		if err != nil {
			return err
		}
		if _, err := db.SQL.ExecContext(ctx, "DROP TABLE IF EXISTS "+t.Name); err != nil {
			return fmt.Errorf("drop table %s in %s: %w", t.Name, db, err)
		}
	}
	return nil
}

// Load bulk-inserts rows into the schema table called name with the
// dialect's fast path (see Dialect.Load) and returns the number of rows
// stored.
func (db *DB) Load(ctx context.Context, name string, rows Rows) (int64, error) {
	t, err := schemaTable(name)
	if err != nil {
		return 0, err
	}
	n, err := db.Dialect.Load(ctx, db.SQL, &t, rows)
	if err != nil {
		return n, fmt.Errorf("load %s into %s: %w", t.Name, db, err)
	}
	return n, nil
}

// SchemaNames returns the names of the schema's tables in creation order.
func SchemaNames() []string {
	s := Schema()
	names := make([]string, len(s))
	for i, t := range s {
		names[i] = t.Name
	}
	return names
}
