package etl

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/training"
)

// isClassic reports whether s (with defaults) describes the built-in
// dataset: the same interactions, users, items and lake as
// dataset.Classic(). Such a run takes the lab's own path, whose files are
// the contract of DESIGN.md §4 byte for byte, with the catalogue export.
func isClassic(s *dataset.Spec) bool {
	c := dataset.Classic()
	c = c.WithDefaults()
	return reflect.DeepEqual(s.Interactions, c.Interactions) && reflect.DeepEqual(s.Users, c.Users) &&
		reflect.DeepEqual(s.Items, c.Items) && s.Lake == c.Lake
}

// lakeKind is the Parquet type a source column is written as.
type lakeKind int

const (
	kString    lakeKind = iota // BYTE_ARRAY, STRING
	kInt32                     // INT32
	kInt64                     // INT64
	kDecimal                   // DECIMAL(p,s) on INT32 (p <= 9) or INT64 (p <= 18)
	kDouble                    // DOUBLE
	kDate                      // INT32, DATE
	kTimestamp                 // INT64, TIMESTAMP(MICROS, UTC)
	kBytes                     // BYTE_ARRAY
)

// planCol is one column of the training data a spec describes.
type planCol struct {
	name  string // in the training data
	expr  string // in the join's select list
	where string // table.column, for messages
	info  source.ColumnInfo
	kind  lakeKind
	prec  int // kDecimal
	scale int // kDecimal
	// nullable columns are OPTIONAL; a NULL in any other is a bad row.
	nullable bool
	stored   bool // false for the partition column
}

// lakeType returns the manifest's name of c's type.
func (c *planCol) lakeType() string {
	switch c.kind {
	case kInt32:
		return "INT32"
	case kInt64:
		return "INT64"
	case kDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", c.prec, c.scale)
	case kDouble:
		return "DOUBLE"
	case kDate:
		return "DATE"
	case kTimestamp:
		return "TIMESTAMP(MICROS)"
	case kBytes:
		return "BINARY"
	}
	return "STRING"
}

// specPlan is what a run of a spec other than the built-in one reads and
// writes: the join, the columns and the Parquet schema.
type specPlan struct {
	spec  *dataset.Spec
	query string
	// cols are the training data's columns in order (see SpecRun); the
	// join selects the interactions' user and item keys first, then cols.
	cols []planCol
	// Indexes into cols.
	userID, itemID, feedback, timestamp, partition int
	schema                                         *parquet.Schema
	weights                                        map[string]float64
}

// newSpecPlan checks s against db and plans its run.
func newSpecPlan(ctx context.Context, db *source.DB, s *dataset.Spec) (*specPlan, error) {
	if err := dataset.Check(ctx, db, s); err != nil {
		return nil, err
	}
	cat, err := db.Describe(ctx)
	if err != nil {
		return nil, err
	}
	users, ok := cat.Table(s.Users.Table)
	if !ok {
		return nil, fmt.Errorf("source %s: no table %s", db, s.Users.Table)
	}
	items, ok := cat.Table(s.Items.Table)
	if !ok {
		return nil, fmt.Errorf("source %s: no table %s", db, s.Items.Table)
	}
	in := &s.Interactions
	var inCols []source.ColumnInfo
	inName := "interactions query"
	if in.Query != "" {
		if inCols, err = db.QueryColumns(ctx, in.Query); err != nil {
			return nil, err
		}
	} else {
		t, ok := cat.Table(in.Table)
		if !ok {
			return nil, fmt.Errorf("source %s: no table %s", db, in.Table)
		}
		inCols, inName = t.Columns, in.Table
	}
	inCol := func(name string) source.ColumnInfo {
		for _, c := range inCols {
			if c.Name == name {
				return c
			}
		}
		return source.ColumnInfo{Name: name, Nullable: true}
	}

	p := &specPlan{spec: s, feedback: -1, timestamp: -1, partition: -1, weights: in.Feedback.Weights}
	sqlite := db.Dialect.Name() == "sqlite"
	add := func(name, alias string, table string, info source.ColumnInfo, path string) error {
		c := planCol{name: name, expr: alias + "." + db.Quote(info.Name), where: table + "." + info.Name, info: info, nullable: info.Nullable, stored: true}
		if err := c.setKind(sqlite); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		p.cols = append(p.cols, c)
		return nil
	}
	side := func(e *dataset.Entity, t *source.TableInfo, alias, key string) error {
		id, _ := t.Column(e.ID)
		id.Nullable = false // a row without its user or item is rejected
		if err := add(e.ID, alias, t.Name, id, key+".id"); err != nil {
			return err
		}
		// Features and passthrough columns in the table's column order.
		type entry struct {
			name, column, path string
			pos                int
		}
		var es []entry
		pos := func(col string) int {
			return slices.IndexFunc(t.Columns, func(c source.ColumnInfo) bool { return c.Name == col })
		}
		for i, f := range e.Features {
			es = append(es, entry{f.FeatureName(), f.Column, fmt.Sprintf("%s.features[%d]", key, i), pos(f.Column)})
		}
		for i, c := range e.Passthrough {
			es = append(es, entry{c, c, fmt.Sprintf("%s.passthrough[%d]", key, i), pos(c)})
		}
		slices.SortStableFunc(es, func(a, b entry) int { return a.pos - b.pos })
		for _, en := range es {
			info, _ := t.Column(en.column)
			if err := add(en.name, alias, t.Name, info, en.path); err != nil {
				return err
			}
		}
		return nil
	}
	p.userID = 0
	if err := side(&s.Users, users, "u", "users"); err != nil {
		return nil, err
	}
	p.itemID = len(p.cols)
	if err := side(&s.Items, items, "m", "items"); err != nil {
		return nil, err
	}
	if fc := in.Feedback.Column; fc != "" {
		p.feedback = len(p.cols)
		info := inCol(fc)
		if err := add(fc, "x", inName, info, "interactions.feedback.column"); err != nil {
			return nil, err
		}
		if in.Feedback.Kind == dataset.FeedbackWeight {
			p.cols[p.feedback].kind = kString // event types, matched against the weights
		}
	}
	if ts := in.Timestamp; ts != "" {
		p.timestamp = len(p.cols)
		info := inCol(ts)
		if err := add(ts, "x", inName, info, "interactions.timestamp"); err != nil {
			return nil, err
		}
		c := &p.cols[p.timestamp]
		if c.kind != kDate {
			c.kind = kTimestamp
		}
	}
	for i := range p.cols {
		if p.cols[i].name == s.Lake.Partition {
			p.partition = i
			p.cols[i].stored = false
		}
	}
	if p.partition < 0 {
		return nil, fmt.Errorf("lake.partition: %q is not a column of the training data", s.Lake.Partition)
	}
	if p.schema, err = p.parquetSchema(); err != nil {
		return nil, err
	}

	// The join.
	sel := []string{"x." + db.Quote(in.UserKey), "x." + db.Quote(in.ItemKey)}
	for _, c := range p.cols {
		sel = append(sel, c.expr)
	}
	from := db.Quote(in.Table)
	if in.Query != "" {
		from = "(" + strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(in.Query), ";")) + ")"
	}
	p.query = "SELECT " + strings.Join(sel, ", ") +
		"\nFROM " + from + " AS x" +
		"\nLEFT JOIN " + db.Quote(s.Users.Table) + " AS u ON u." + db.Quote(s.Users.ID) + " = x." + db.Quote(in.UserKey) +
		"\nLEFT JOIN " + db.Quote(s.Items.Table) + " AS m ON m." + db.Quote(s.Items.ID) + " = x." + db.Quote(in.ItemKey) +
		"\nORDER BY " + p.cols[p.partition].expr + ", x." + db.Quote(in.UserKey) + ", x." + db.Quote(in.ItemKey)
	return p, nil
}

var decimalArgs = regexp.MustCompile(`^\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)`)

// setKind sets c's Parquet type from its source column's declared type.
func (c *planCol) setKind(sqlite bool) error {
	decl := strings.ToLower(strings.TrimSpace(c.info.DeclaredType))
	name := decl
	if i := strings.IndexAny(name, "( "); i >= 0 {
		name = name[:i]
	}
	unsigned := strings.Contains(decl, "unsigned")
	switch c.info.Class {
	case source.ClassText, source.ClassOther:
		c.kind = kString
	case source.ClassInteger:
		switch name {
		case "tinyint", "smallint", "mediumint", "bool", "boolean", "int2", "int4":
			c.kind = kInt32
		case "int":
			c.kind = kInt32
			if unsigned {
				c.kind = kInt64
			}
		case "integer":
			c.kind = kInt32
			if sqlite || unsigned { // SQLite's INTEGER is 64-bit
				c.kind = kInt64
			}
		default:
			c.kind = kInt64
		}
	case source.ClassDecimal:
		m := decimalArgs.FindStringSubmatch(decl[len(name):])
		if m == nil {
			c.kind = kDouble // no declared precision: a number of any size
			return nil
		}
		c.prec, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			c.scale, _ = strconv.Atoi(m[2])
		}
		if c.prec < 1 || c.prec > 18 || c.scale > c.prec {
			return fmt.Errorf("column %s is %s: the lake keeps decimals of 1 to 18 digits", c.where, c.info.DeclaredType)
		}
		c.kind = kDecimal
	case source.ClassFloat:
		c.kind = kDouble
	case source.ClassTime:
		switch name {
		case "date":
			c.kind = kDate
		case "time":
			c.kind = kString
		case "year":
			c.kind = kInt32
		default:
			c.kind = kTimestamp
		}
	case source.ClassBinary:
		c.kind = kBytes
	default:
		c.kind = kString
	}
	return nil
}

// parquetSchema builds the files' schema: the stored columns in order. It
// goes through a Go struct type made at run time so that parquet-go keeps
// the columns in order (its Group sorts them by name).
func (p *specPlan) parquetSchema() (*parquet.Schema, error) {
	var fields []reflect.StructField
	for _, c := range p.cols {
		if !c.stored {
			continue
		}
		if strings.ContainsAny(c.name, ",") {
			return nil, fmt.Errorf("column %q: a Parquet column name here cannot hold a comma", c.name)
		}
		var typ reflect.Type
		tag := c.name
		switch c.kind {
		case kString:
			typ = reflect.TypeFor[string]()
		case kInt32:
			typ = reflect.TypeFor[int32]()
		case kInt64:
			typ = reflect.TypeFor[int64]()
		case kDecimal:
			// INT32 up to 9 digits, INT64 up to 18, as the Parquet format
			// says (readers such as Arrow warn about a small decimal on
			// INT64).
			typ = reflect.TypeFor[int64]()
			if c.prec <= 9 {
				typ = reflect.TypeFor[int32]()
			}
			tag += fmt.Sprintf(",decimal(%d:%d)", c.scale, c.prec)
		case kDouble:
			typ = reflect.TypeFor[float64]()
		case kDate:
			typ = reflect.TypeFor[int32]()
			tag += ",date"
		case kTimestamp:
			typ = reflect.TypeFor[int64]()
			tag += ",timestamp(microsecond)"
		case kBytes:
			typ = reflect.TypeFor[[]byte]()
		}
		if c.nullable {
			if c.kind == kBytes {
				tag += ",optional"
			} else {
				typ = reflect.PointerTo(typ)
			}
		}
		fields = append(fields, reflect.StructField{
			Name: "F" + strconv.Itoa(len(fields)),
			Type: typ,
			Tag:  reflect.StructTag("parquet:" + strconv.Quote(tag)),
		})
	}
	var schema *parquet.Schema
	var perr any
	func() {
		defer func() { perr = recover() }()
		schema = parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Elem().Interface())
	}()
	if perr != nil {
		return nil, fmt.Errorf("build the Parquet schema: %v", perr)
	}
	return schema, nil
}

// manifestSchema is the schema as the manifest records it, partition
// column included.
func (p *specPlan) manifestSchema() []training.Column {
	out := make([]training.Column, len(p.cols))
	for i, c := range p.cols {
		out[i] = training.Column{Name: c.name, Type: c.lakeType(), Nullable: c.nullable, Partition: !c.stored}
	}
	return out
}
