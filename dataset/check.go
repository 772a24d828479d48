package dataset

import (
	"context"
	"fmt"
	"strings"

	"github.com/recoflow/recoflow/source"
)

// Check checks s against the source database before any row is read: the
// tables (or the interactions query) exist, every column the spec names is
// there, and each column's type suits its use — ids of the declared id type,
// join keys of the same type on both sides, numbers under numeric features
// and numeric feedback, text under multi_categorical and text features, a
// time (or Unix seconds) under the timestamp. It then selects the spec's
// columns from each table with a query that returns no row, with the
// backend's identifier quoting, so table and column names with spaces or
// reserved words are proven to work.
//
// Problems of the spec come back as an *Error naming the key path (and the
// spec file's line); failures to talk to the database are wrapped as they
// are. A column whose type the backend does not declare (SQLite allows
// that) passes every type check.
func Check(ctx context.Context, db *source.DB, s *Spec) error {
	cat, err := db.Describe(ctx)
	if err != nil {
		return err
	}
	c := &checker{db: db, cat: &cat, where: db.String()}
	var ps problems
	c.ps = &ps

	// The interactions.
	in := &s.Interactions
	var inCols []source.ColumnInfo
	inOK := false
	if in.Query != "" {
		cols, err := db.QueryColumns(ctx, in.Query)
		if err != nil {
			ps.add("interactions.query", "%v", err)
		} else {
			inCols, inOK = cols, true
		}
	} else if t := c.table("interactions.table", in.Table); t != nil {
		inCols, inOK = t.Columns, true
	}
	users := c.table("users.table", s.Users.Table)
	items := c.table("items.table", s.Items.Table)
	userID := c.column(users, "users.id", s.Users.ID)
	itemID := c.column(items, "items.id", s.Items.ID)
	c.idType("users", s.Users.IDType, users, userID)
	c.idType("items", s.Items.IDType, items, itemID)

	if inOK {
		what := "the interactions"
		if in.Table != "" {
			what = in.Table
		}
		find := func(path, name string) *source.ColumnInfo {
			if name == "" {
				return nil
			}
			for i := range inCols {
				if inCols[i].Name == name {
					return &inCols[i]
				}
			}
			names := make([]string, len(inCols))
			for i, col := range inCols {
				names[i] = col.Name
			}
			ps.add(path, "no column %q in %s%s", name, what, suggest(name, names))
			return nil
		}
		uk := find("interactions.user_key", in.UserKey)
		ik := find("interactions.item_key", in.ItemKey)
		c.joinable("interactions.user_key", uk, "users.id", userID)
		c.joinable("interactions.item_key", ik, "items.id", itemID)
		if fb := find("interactions.feedback.column", in.Feedback.Column); fb != nil {
			switch in.Feedback.Kind {
			case FeedbackExplicit, FeedbackQuantity:
				c.want("interactions.feedback.column", fb, "feedback of kind "+in.Feedback.Kind+" is a number", numeric)
			case FeedbackWeight:
				c.want("interactions.feedback.column", fb, "feedback of kind weight is an event type (text or a code)", textOrInteger)
			}
		}
		if ts := find("interactions.timestamp", in.Timestamp); ts != nil {
			ok := timeLike
			if db.Dialect.Name() == "sqlite" {
				ok = sqliteTimeLike // SQLite keeps times as ISO-8601 text
			}
			c.want("interactions.timestamp", ts, "a timestamp is a date or time (or an integer of Unix seconds)", ok)
		}
	}

	for _, side := range []struct {
		name string
		e    *Entity
		t    *source.TableInfo
	}{{"users", &s.Users, users}, {"items", &s.Items, items}} {
		if side.t == nil {
			continue
		}
		for i, f := range side.e.Features {
			p := fmt.Sprintf("%s.features[%d].column", side.name, i)
			col := c.column(side.t, p, f.Column)
			if col == nil {
				continue
			}
			switch f.Kind {
			case KindNumeric:
				c.want(p, col, "a numeric feature needs a number column", numeric)
			case KindMultiCategorical:
				c.want(p, col, "a multi_categorical feature needs a text column (the delimited categories)", text)
			case KindText:
				c.want(p, col, "a text feature needs a text column", text)
			case KindCategorical:
				c.want(p, col, "a categorical feature needs text, integer or time values", categoricalLike)
			}
		}
		for i, name := range side.e.Passthrough {
			c.column(side.t, fmt.Sprintf("%s.passthrough[%d]", side.name, i), name)
		}
	}
	if err := ps.err(s.origin); err != nil {
		return err
	}

	// Everything is there: select it, with the dialect's quoting.
	if in.Table != "" {
		if err := c.probe(ctx, in.Table, in.UserKey, in.ItemKey, in.Feedback.Column, in.Timestamp); err != nil {
			return err
		}
	}
	for _, e := range []*Entity{&s.Users, &s.Items} {
		cols := []string{e.ID}
		for _, f := range e.Features {
			cols = append(cols, f.Column)
		}
		if err := c.probe(ctx, e.Table, append(cols, e.Passthrough...)...); err != nil {
			return err
		}
	}
	return nil
}

type checker struct {
	db    *source.DB
	cat   *source.Catalog
	where string
	ps    *problems
}

func (c *checker) table(path, name string) *source.TableInfo {
	if name == "" {
		return nil
	}
	if t, ok := c.cat.Table(name); ok {
		return t
	}
	names := make([]string, len(c.cat.Tables))
	for i, t := range c.cat.Tables {
		names[i] = t.Name
	}
	c.ps.add(path, "no table %q in %s%s", name, c.where, suggest(name, names))
	return nil
}

func (c *checker) column(t *source.TableInfo, path, name string) *source.ColumnInfo {
	if t == nil || name == "" {
		return nil
	}
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	c.ps.add(path, "no column %q in table %s%s", name, t.Name, suggest(name, t.ColumnNames()))
	return nil
}

// Type predicates; source.ClassOther (undeclared) passes all of them.
func numeric(k source.Class) bool       { return k.Numeric() }
func text(k source.Class) bool          { return k == source.ClassText }
func textOrInteger(k source.Class) bool { return k == source.ClassText || k == source.ClassInteger }
func timeLike(k source.Class) bool      { return k == source.ClassTime || k == source.ClassInteger }
func sqliteTimeLike(k source.Class) bool {
	return timeLike(k) || k == source.ClassText || k == source.ClassFloat
}
func categoricalLike(k source.Class) bool {
	return k == source.ClassText || k == source.ClassInteger || k == source.ClassTime || k == source.ClassDecimal
}

func describe(col *source.ColumnInfo) string {
	return fmt.Sprintf("column %s is %s (%s)", col.Name, col.DeclaredType, col.Class)
}

func (c *checker) want(path string, col *source.ColumnInfo, rule string, ok func(source.Class) bool) {
	if col.Class == source.ClassOther || ok(col.Class) {
		return
	}
	c.ps.add(path, "%s, and %s", describe(col), rule)
}

func (c *checker) idType(side, idType string, t *source.TableInfo, col *source.ColumnInfo) {
	if col == nil || col.Class == source.ClassOther {
		return
	}
	switch {
	case idType == IDInteger && col.Class != source.ClassInteger:
		hint := ""
		if col.Class == source.ClassText {
			hint = "; use id_type: string"
		}
		c.ps.add(side+".id_type", "integer, but %s%s", describe(col), hint)
	case idType == IDString && col.Class != source.ClassText:
		hint := ""
		if col.Class == source.ClassInteger {
			hint = "; use id_type: integer"
		}
		c.ps.add(side+".id_type", "string, but %s%s", describe(col), hint)
	}
}

// joinable checks that an interactions key compares with the id it joins.
func (c *checker) joinable(path string, key *source.ColumnInfo, idPath string, id *source.ColumnInfo) {
	if key == nil || id == nil || key.Class == source.ClassOther || id.Class == source.ClassOther {
		return
	}
	group := func(k source.Class) string {
		if k.Numeric() {
			return "number"
		}
		return k.String()
	}
	if group(key.Class) != group(id.Class) {
		c.ps.add(path, "%s but %s joins %s, which is %s (%s); the join would compare %s with %s",
			describe(key), idPath, id.Name, id.DeclaredType, id.Class, group(key.Class), group(id.Class))
	}
}

// probe selects cols from table with a query that returns no row.
func (c *checker) probe(ctx context.Context, table string, cols ...string) error {
	var q []string
	for _, col := range cols {
		if col != "" {
			q = append(q, c.db.Quote(col))
		}
	}
	stmt := "SELECT " + strings.Join(q, ", ") + " FROM " + c.db.Quote(table) + " WHERE 1 = 0"
	rows, err := c.db.SQL.QueryContext(ctx, stmt)
	if err != nil {
		return fmt.Errorf("select the spec's columns of table %s in %s: %w", table, c.where, err)
	}
	return rows.Close()
}
