package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/recoflow/recoflow/source"
)

// Quote returns ident as a double-quoted SQLite identifier.
func (Dialect) Quote(ident string) string { return quote(ident) }

// Describe reads sqlite_schema and the table_info and foreign_key_list
// pragmas (as table-valued functions, with the table name as a parameter).
// A TEXT column that recoflow declared with a /* DECIMAL(p,s) */ or
// /* DATE */ comment (see columnType) is reported with that type.
func (Dialect) Describe(ctx context.Context, db *sql.DB) ([]source.TableInfo, error) {
	rows, err := db.QueryContext(ctx, "SELECT name, COALESCE(sql, '') FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
	if err != nil {
		return nil, err
	}
	type entry struct{ name, ddl string }
	var entries []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.name, &e.ddl); err != nil {
			rows.Close()
			return nil, err
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	tables := make([]source.TableInfo, 0, len(entries))
	for _, e := range entries {
		t, err := describeTable(ctx, db, e.name, e.ddl)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", e.name, err)
		}
		tables = append(tables, t)
	}
	// A foreign key that names no column refers to the primary key.
	for i := range tables {
		for j := range tables[i].ForeignKeys {
			fk := &tables[i].ForeignKeys[j]
			if len(fk.RefColumns) > 0 && fk.RefColumns[0] != "" {
				continue
			}
			for _, r := range tables {
				if r.Name == fk.Ref {
					fk.RefColumns = append([]string(nil), r.PrimaryKey...)
				}
			}
		}
	}
	return tables, nil
}

func describeTable(ctx context.Context, db *sql.DB, name, ddl string) (source.TableInfo, error) {
	t := source.TableInfo{Name: name}
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, name)
	if err != nil {
		return t, err
	}
	pk := map[int]string{}
	for rows.Next() {
		var (
			c       source.ColumnInfo
			notNull bool
			pkPos   int
		)
		if err := rows.Scan(&c.Name, &c.DeclaredType, &notNull, &pkPos); err != nil {
			rows.Close()
			return t, err
		}
		c.Nullable = !notNull
		if declared := commentedType(ddl, c.Name); declared != "" {
			c.DeclaredType = declared
		}
		if pkPos > 0 {
			pk[pkPos] = c.Name
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, err
	}
	for i := 1; i <= len(pk); i++ {
		t.PrimaryKey = append(t.PrimaryKey, pk[i])
	}

	rows, err = db.QueryContext(ctx, `SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name)
	if err != nil {
		return t, err
	}
	defer rows.Close()
	last := -1
	for rows.Next() {
		var (
			id       int
			ref, col string
			to       sql.NullString
		)
		if err := rows.Scan(&id, &ref, &col, &to); err != nil {
			return t, err
		}
		if id != last {
			t.ForeignKeys = append(t.ForeignKeys, source.ForeignKey{Ref: ref})
			last = id
		}
		fk := &t.ForeignKeys[len(t.ForeignKeys)-1]
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, to.String)
	}
	return t, rows.Err()
}

// typeComment finds recoflow's declaration of a column kept as TEXT: the
// quoted name, TEXT, and a comment holding the real type.
var typeComment = regexp.MustCompile(`(?i)^\s+TEXT\s*/\*\s*(DECIMAL\s*\(\s*\d+\s*,\s*\d+\s*\)|DATE)\s*\*/`)

// commentedType returns the type in the comment of column name's
// declaration in ddl ("DECIMAL(10,2)", "DATE"), or "".
func commentedType(ddl, name string) string {
	q := quote(name)
	for i := 0; ; {
		j := strings.Index(ddl[i:], q)
		if j < 0 {
			return ""
		}
		j += i
		if m := typeComment.FindStringSubmatch(ddl[j+len(q):]); m != nil {
			return m[1]
		}
		i = j + len(q)
	}
}
