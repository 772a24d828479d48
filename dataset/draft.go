package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/recoflow/recoflow/source"
)

// Draft is a spec guessed from a database's schema, with notes on what was
// guessed and what was left out, for a person to review.
type Draft struct {
	Spec  Spec
	Notes []string
}

// Name hints of the drafter (matched in lower case, as substrings).
var (
	userHints     = []string{"user", "customer", "client", "member", "account", "person", "people", "visitor", "shopper", "buyer", "reader", "viewer", "listener", "subscriber"}
	itemHints     = []string{"item", "product", "movie", "film", "book", "article", "song", "track", "sku", "listing", "good", "title", "video", "game", "show", "recipe"}
	ratingHints   = []string{"rating", "score", "stars", "grade", "rank"}
	quantityHints = []string{"quantity", "qty", "count", "amount", "plays", "clicks", "views"}
	eventHints    = []string{"event", "action", "type", "kind"}
	timeHints     = []string{"time", "date", "_at", "ts"}
	multiHints    = []string{"genre", "tag", "categories", "keywords", "labels", "topics"}
	skipHints     = []string{"name", "title", "phone", "email", "address", "description", "comment", "url", "image", "password", "postal", "zip", "fax", "note"}
)

func hinted(name string, hints []string) bool {
	l := strings.ToLower(name)
	for _, h := range hints {
		if strings.Contains(l, h) {
			return true
		}
	}
	return false
}

// reference is a column of a table that refers to another table's id.
type reference struct {
	column   string
	table    string // the referenced table
	refCol   string // its id column
	declared bool   // a declared foreign key, not a name match
}

// references lists t's columns that refer to another table of cat: by a
// single-column foreign key, or by having the name of another table's
// single-column primary key.
func references(cat *source.Catalog, t *source.TableInfo) []reference {
	var refs []reference
	has := func(col string) bool {
		return slices.ContainsFunc(refs, func(r reference) bool { return r.column == col })
	}
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && fk.Ref != t.Name && !has(fk.Columns[0]) {
			refs = append(refs, reference{fk.Columns[0], fk.Ref, fk.RefColumns[0], true})
		}
	}
	for _, c := range t.Columns {
		if has(c.Name) || (len(t.PrimaryKey) == 1 && t.PrimaryKey[0] == c.Name) {
			continue
		}
		for _, u := range cat.Tables {
			if u.Name != t.Name && len(u.PrimaryKey) == 1 && strings.EqualFold(u.PrimaryKey[0], c.Name) {
				refs = append(refs, reference{c.Name, u.Name, u.PrimaryKey[0], false})
				break
			}
		}
	}
	// Keep one reference per referenced table, in column order.
	var out []reference
	for _, c := range t.Columns {
		for _, r := range refs {
			if r.column == c.Name && !slices.ContainsFunc(out, func(o reference) bool { return o.table == r.table }) {
				out = append(out, r)
			}
		}
	}
	return out
}

// DraftFrom guesses a spec from a database's catalogue (source.DB.Describe):
//   - the interactions table is one that refers to two other tables (by
//     foreign keys, or by columns named like their primary keys), preferring
//     one with a rating-like number column, then a quantity-like one;
//   - of the two tables it refers to, the users are the one named like
//     users (customer, member, …), else the first;
//   - ids are the referenced columns, typed from their column types;
//   - feedback is explicit (scale 1–5: check it) for a rating-like column,
//     a quantity for a quantity-like number, else a count; the timestamp is
//     its first date or time column;
//   - features come from column types: numbers are numeric, text is
//     categorical (capped at 100 categories), multi_categorical when named
//     like genres or tags, text when declared TEXT; names, contact details,
//     descriptions, numeric ids of other tables, dates and binaries are left out
//     and listed in the notes.
func DraftFrom(cat *source.Catalog) (*Draft, error) {
	type candidate struct {
		t     *source.TableInfo
		refs  []reference
		score int
	}
	var best *candidate
	for i := range cat.Tables {
		t := &cat.Tables[i]
		refs := references(cat, t)
		if len(refs) < 2 {
			continue
		}
		c := candidate{t: t, refs: refs}
		for _, col := range t.Columns {
			switch {
			case col.Class.Numeric() && hinted(col.Name, ratingHints):
				c.score += 100
			case col.Class.Numeric() && hinted(col.Name, quantityHints):
				c.score += 10
			case col.Class == source.ClassTime:
				c.score += 3
			}
		}
		for _, r := range refs {
			if hinted(r.table, userHints) || hinted(r.table, itemHints) {
				c.score += 2
			}
		}
		if best == nil || c.score > best.score {
			best = &c
		}
	}
	if best == nil {
		return nil, errors.New("no table refers to two other tables (by foreign keys, or by columns named like their primary keys), so no interactions table can be guessed; write the spec by hand (docs/DATASET_SPEC.md)")
	}
	d := &Draft{}
	in := best.t
	u, it := best.refs[0], best.refs[1]
	if hinted(u.table, itemHints) && !hinted(u.table, userHints) || hinted(it.table, userHints) && !hinted(it.table, itemHints) {
		u, it = it, u
	}
	s := Spec{Version: 1, Name: in.Name}
	s.Interactions = Interactions{Table: in.Name, UserKey: u.column, ItemKey: it.column}
	fb := &s.Interactions.Feedback
	fb.Kind = FeedbackCount
	used := map[string]bool{u.column: true, it.column: true}
	for _, col := range in.Columns {
		if used[col.Name] {
			continue
		}
		switch {
		case fb.Kind == FeedbackCount && col.Class.Numeric() && hinted(col.Name, ratingHints):
			*fb = Feedback{Kind: FeedbackExplicit, Column: col.Name, Scale: &Scale{Min: 1, Max: 5}}
			used[col.Name] = true
			d.note("interactions.feedback: %s looks like a rating: explicit, scale 1–5 guessed (check it)", col.Name)
		case fb.Kind == FeedbackCount && col.Class.Numeric() && hinted(col.Name, quantityHints):
			*fb = Feedback{Kind: FeedbackQuantity, Column: col.Name}
			used[col.Name] = true
			d.note("interactions.feedback: %s looks like a quantity: implicit feedback weighted by it", col.Name)
		}
	}
	for _, col := range in.Columns {
		if used[col.Name] {
			continue
		}
		if s.Interactions.Timestamp == "" && (col.Class == source.ClassTime || col.Class == source.ClassInteger && hinted(col.Name, timeHints)) {
			s.Interactions.Timestamp = col.Name
			used[col.Name] = true
		}
	}
	if fb.Kind == FeedbackCount {
		for _, col := range in.Columns {
			if !used[col.Name] && col.Class == source.ClassText && hinted(col.Name, eventHints) {
				d.note("interactions.feedback: %s looks like an event type: consider kind weight with a weight per type", col.Name)
			}
		}
	}
	d.note("interactions: %s refers to %s (%s) and %s (%s); users and items guessed from that", in.Name, u.table, u.column, it.table, it.column)

	var err error
	if s.Users, err = d.entity(cat, "users", u); err != nil {
		return nil, err
	}
	if s.Items, err = d.entity(cat, "items", it); err != nil {
		return nil, err
	}
	// Column names must be distinct in the training data: rename clashes.
	taken := map[string]bool{s.Users.ID: true}
	for i := range s.Users.Features {
		taken[s.Users.Features[i].FeatureName()] = true
	}
	for _, c := range s.Users.Passthrough {
		taken[c] = true
	}
	for i := range s.Items.Features {
		f := &s.Items.Features[i]
		if taken[f.Column] || f.Column == s.Items.ID {
			f.Name = pathSegment(s.Items.Table) + "_" + f.Column
		}
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("the drafted spec is not valid (a bug): %w", err)
	}
	d.Spec = s
	return d, nil
}

func (d *Draft) note(format string, args ...any) {
	d.Notes = append(d.Notes, fmt.Sprintf(format, args...))
}

func (d *Draft) entity(cat *source.Catalog, side string, r reference) (Entity, error) {
	t, ok := cat.Table(r.table)
	if !ok {
		return Entity{}, fmt.Errorf("%s: table %s is referred to but not in the catalogue", side, r.table)
	}
	e := Entity{Table: t.Name, ID: r.refCol, IDType: IDString}
	if idCol, ok := t.Column(r.refCol); ok && idCol.Class == source.ClassInteger {
		e.IDType = IDInteger
	}
	fkCols := map[string]bool{}
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			fkCols[c] = true
		}
	}
	var reasons []string
	left := map[string][]string{}
	for _, c := range t.Columns {
		if c.Name == e.ID {
			continue
		}
		why := ""
		switch {
		case fkCols[c.Name] && c.Class == source.ClassText:
			// A code of a lookup table (the sample's productLine).
			e.Features = append(e.Features, Feature{Column: c.Name, Kind: KindCategorical, MaxCategories: 100})
		case fkCols[c.Name]:
			why = "the id of another table"
		case c.Class == source.ClassTime:
			why = "dates and times"
		case c.Class == source.ClassBinary, c.Class == source.ClassOther:
			why = "binary or untyped"
		case c.Class.Numeric():
			e.Features = append(e.Features, Feature{Column: c.Name, Kind: KindNumeric})
		case c.Class == source.ClassText && hinted(c.Name, multiHints):
			e.Features = append(e.Features, Feature{Column: c.Name, Kind: KindMultiCategorical, Delimiter: DefaultDelimiter, MaxCategories: 100})
			d.note("%s: %s guessed multi_categorical with delimiter %q (check it)", side, c.Name, DefaultDelimiter)
		case hinted(c.Name, skipHints):
			why = "names, contact details, descriptions"
		case c.Class == source.ClassText && strings.Contains(strings.ToLower(c.DeclaredType), "text"):
			e.Features = append(e.Features, Feature{Column: c.Name, Kind: KindText})
		case c.Class == source.ClassText:
			e.Features = append(e.Features, Feature{Column: c.Name, Kind: KindCategorical, MaxCategories: 100})
		}
		if why != "" {
			if left[why] == nil {
				reasons = append(reasons, why)
			}
			left[why] = append(left[why], c.Name)
		}
	}
	for _, why := range reasons {
		d.note("%s: left out (%s): %s", side, why, strings.Join(left[why], ", "))
	}
	return e, nil
}

// YAML returns the draft as a YAML file: the notes as comments, then the
// spec.
func (d *Draft) YAML() ([]byte, error) {
	body, err := Marshal(&d.Spec)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# A dataset spec drafted by `recoflow spec init` from the source's schema.\n")
	b.WriteString("# Review it, then check it with `recoflow spec check --dataset FILE --source URL`.\n")
	b.WriteString("# Reference: docs/DATASET_SPEC.md.\n#\n")
	for _, n := range d.Notes {
		b.WriteString("# - " + n + "\n")
	}
	b.WriteString("\n")
	b.Write(body)
	return b.Bytes(), nil
}
