package source

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Class is the broad kind of a column's values, whatever the backend calls
// its type: what a dataset spec checks a column against.
type Class int

// Column classes.
const (
	ClassOther   Class = iota // a type recoflow does not interpret (or SQLite's untyped column)
	ClassInteger              // INT, BIGINT, SMALLINT, TINYINT, INTEGER, BOOLEAN
	ClassDecimal              // DECIMAL, NUMERIC (exact)
	ClassFloat                // FLOAT, DOUBLE, REAL
	ClassText                 // CHAR, VARCHAR, TEXT, CLOB, ENUM, SET, JSON
	ClassTime                 // DATE, DATETIME, TIMESTAMP, TIME, YEAR
	ClassBinary               // BLOB, BINARY, VARBINARY
)

var classNames = [...]string{"other", "integer", "decimal", "float", "text", "time", "binary"}

// String returns the class's name: "integer", "text", …
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Numeric reports whether values of the class are numbers.
func (c Class) Numeric() bool { return c == ClassInteger || c == ClassDecimal || c == ClassFloat }

// ClassOf classifies a declared SQL type such as "int(11)", "VARCHAR(50)",
// "decimal(10,2) unsigned" or SQLite's "INTEGER". Matching is on the type's
// name, case-insensitively; SQLite's affinity rule (a name containing INT is
// an integer) is applied last, so "POINT" stays other but "BIGINT" does not.
func ClassOf(declared string) Class {
	full := strings.ToLower(strings.TrimSpace(declared))
	t := full
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "":
		return ClassOther
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "bool", "boolean", "bit", "int2", "int4", "int8":
		return ClassInteger
	case "decimal", "numeric", "dec", "fixed", "number":
		return ClassDecimal
	case "float", "double", "real", "float4", "float8":
		return ClassFloat
	case "char", "varchar", "nchar", "nvarchar", "character", "text", "tinytext", "mediumtext", "longtext",
		"clob", "enum", "set", "json", "string", "varying":
		return ClassText
	case "date", "datetime", "timestamp", "time", "year":
		return ClassTime
	case "blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary":
		return ClassBinary
	}
	t = full
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = t[:i]
	}
	switch {
	case strings.Contains(t, "int"):
		return ClassInteger
	case strings.Contains(t, "char"), strings.Contains(t, "text"), strings.Contains(t, "clob"):
		return ClassText
	case strings.Contains(t, "blob"):
		return ClassBinary
	case strings.Contains(t, "doub"), strings.Contains(t, "floa"), strings.Contains(t, "real"):
		return ClassFloat
	}
	return ClassOther
}

// ColumnInfo is one column of a table as the database describes it.
type ColumnInfo struct {
	Name string
	// DeclaredType is the type as declared, e.g. "varchar(50)" or
	// "DECIMAL(10,2)". For recoflow's own SQLite tables, which keep decimals
	// and dates as exact TEXT, it is the declared decimal or date type.
	DeclaredType string
	Class        Class
	Nullable     bool
}

// TableInfo describes one table (or view) of a database: what a dataset
// spec is checked against and drafted from.
type TableInfo struct {
	Name        string
	Columns     []ColumnInfo
	PrimaryKey  []string
	ForeignKeys []ForeignKey
}

// Column returns t's column called name (matched exactly).
func (t *TableInfo) Column(name string) (ColumnInfo, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return ColumnInfo{}, false
}

// ColumnNames returns the names of t's columns in order.
func (t *TableInfo) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Catalog is the description of every table of a database, sorted by name.
type Catalog struct {
	Tables []TableInfo
}

// Table returns the table called name (matched exactly).
func (c *Catalog) Table(name string) (*TableInfo, bool) {
	for i := range c.Tables {
		if c.Tables[i].Name == name {
			return &c.Tables[i], true
		}
	}
	return nil, false
}

// Describe lists every table and view of the database with its columns,
// their types, the primary key and the foreign keys, through the backend's
// catalogue (information_schema, SQLite's pragmas). It reads no row of any
// table.
func (db *DB) Describe(ctx context.Context) (Catalog, error) {
	tables, err := db.Dialect.Describe(ctx, db.SQL)
	if err != nil {
		return Catalog{}, fmt.Errorf("describe %s: %w", db, err)
	}
	slices.SortFunc(tables, func(a, b TableInfo) int { return strings.Compare(a.Name, b.Name) })
	for i := range tables {
		for j := range tables[i].Columns {
			c := &tables[i].Columns[j]
			if c.Class == ClassOther {
				c.Class = ClassOf(c.DeclaredType)
			}
		}
	}
	return Catalog{Tables: tables}, nil
}

// Quote returns ident quoted as an identifier of the backend, safe to put
// into SQL text whatever it holds (spaces, reserved words, quotes).
func (db *DB) Quote(ident string) string { return db.Dialect.Quote(ident) }

// QueryColumns returns the columns a SELECT statement produces, with their
// types, without reading a row: it runs the statement wrapped as
// SELECT * FROM (query) AS q WHERE 1 = 0. The query is the operator's own
// SQL (a dataset spec's); it must be one SELECT without a trailing
// semicolon.
func (db *DB) QueryColumns(ctx context.Context, query string) ([]ColumnInfo, error) {
	q := strings.TrimSpace(query)
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	rows, err := db.SQL.QueryContext(ctx, "SELECT * FROM ("+q+") AS "+db.Quote("recoflow_q")+" WHERE 1 = 0")
	if err != nil {
		return nil, fmt.Errorf("run the query on %s: %w", db, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("columns of the query on %s: %w", db, err)
	}
	out := make([]ColumnInfo, len(types))
	for i, ct := range types {
		nullable, ok := ct.Nullable()
		out[i] = ColumnInfo{Name: ct.Name(), DeclaredType: ct.DatabaseTypeName(), Class: ClassOf(ct.DatabaseTypeName()), Nullable: nullable || !ok}
	}
	return out, rows.Err()
}
