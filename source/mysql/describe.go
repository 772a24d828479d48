package mysql

import (
	"context"
	"database/sql"
	"strings"

	"github.com/recoflow/recoflow/source"
)

// Quote returns ident as a backquoted MySQL identifier.
func (Dialect) Quote(ident string) string { return quote(ident) }

// Describe reads information_schema for the connection's database
// (DATABASE()): COLUMNS for the columns, KEY_COLUMN_USAGE for the primary
// and foreign keys.
func (Dialect) Describe(ctx context.Context, db *sql.DB) ([]source.TableInfo, error) {
	var tables []source.TableInfo
	index := map[string]int{}
	table := func(name string) *source.TableInfo {
		i, ok := index[name]
		if !ok {
			i = len(tables)
			index[name] = i
			tables = append(tables, source.TableInfo{Name: name})
		}
		return &tables[i]
	}

	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, nullable string
		var c source.ColumnInfo
		if err := rows.Scan(&tname, &c.Name, &c.DeclaredType, &nullable); err != nil {
			rows.Close()
			return nil, err
		}
		c.Nullable = strings.EqualFold(nullable, "YES")
		t := table(tname)
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = db.QueryContext(ctx, `SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME,
  COALESCE(REFERENCED_TABLE_NAME, ''), COALESCE(REFERENCED_COLUMN_NAME, '')
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND (CONSTRAINT_NAME = ? OR REFERENCED_TABLE_NAME IS NOT NULL)
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`, "PRIMARY")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	lastFK := ""
	for rows.Next() {
		var tname, constraint, col, ref, refCol string
		if err := rows.Scan(&tname, &constraint, &col, &ref, &refCol); err != nil {
			return nil, err
		}
		t := table(tname)
		if ref == "" {
			t.PrimaryKey = append(t.PrimaryKey, col)
			continue
		}
		if key := tname + "\x00" + constraint; key != lastFK {
			t.ForeignKeys = append(t.ForeignKeys, source.ForeignKey{Ref: ref})
			lastFK = key
		}
		fk := &t.ForeignKeys[len(t.ForeignKeys)-1]
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, refCol)
	}
	return tables, rows.Err()
}
