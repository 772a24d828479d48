package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/lake"
)

// ValueKind says what a Value holds.
type ValueKind uint8

// Value kinds.
const (
	Null   ValueKind = iota // no value (SQL NULL)
	String                  // text, dates ("2006-01-02") and times (RFC 3339, UTC)
	Number                  // integers, decimals and floats
)

// Value is one value of a training row, as the model reads it: text, a
// number, or null.
type Value struct {
	Kind ValueKind
	Str  string
	Num  float64
}

// String returns v as text: Str, Num formatted, or "" for null.
func (v Value) String() string {
	switch v.Kind {
	case String:
		return v.Str
	case Number:
		return strconv.FormatFloat(v.Num, 'f', -1, 64)
	}
	return ""
}

// GenericRow is one row of a training dataset written from any dataset
// spec, the built-in one included: the interaction's user and item, its
// feedback and time, and every column by name. It is the contract the
// model reads (ReadTable).
type GenericRow struct {
	// UserID and ItemID are the ids as text (integers in decimal).
	UserID, ItemID string
	// Feedback is the interaction's strength: the rating (explicit), the
	// quantity, 1 (count), or the event type's weight (weight).
	Feedback float64
	// Time is the interaction's time when the spec has a timestamp and
	// the row's is not NULL (HasTime); a DATE is its midnight UTC.
	Time    time.Time
	HasTime bool

	cols *columnSet
	vals []Value
}

type columnSet struct {
	names []string
	index map[string]int
}

// Value returns the value of the training column name — a feature (by its
// name), a passthrough column, an id, the feedback or timestamp column —
// and whether the dataset has that column.
func (r *GenericRow) Value(name string) (Value, bool) {
	i, ok := r.cols.index[name]
	if !ok {
		return Value{}, false
	}
	return r.vals[i], true
}

// Columns returns the training data's column names, in order, the
// partition column included, in the order package etl documents (ids,
// features and passthrough columns in table order, feedback, timestamp).
func (r *GenericRow) Columns() []string { return r.cols.names }

// ReadTable calls fn for every row of the committed dataset of spec s (its
// lake.dataset; the built-in dataset when s is the built-in spec), in
// manifest order, and returns the manifest it read. Like Read it reads only
// the files the manifest lists. Before reading it checks that the dataset
// has every column s needs — the ids, each feature and passthrough column,
// the feedback and the timestamp — and names the first missing. The row
// passed to fn is reused: copy what you keep.
func ReadTable(ctx context.Context, b lake.BucketReader, s *dataset.Spec, fn func(*GenericRow) error) (*Manifest, error) {
	spec := s.WithDefaults()
	ds := spec.Lake.Dataset
	loc, err := LocationOf(ctx, b, ds)
	if err != nil {
		return nil, err
	}
	m, err := ReadManifest(ctx, b, loc)
	if err != nil {
		return nil, err
	}
	partCol := m.PartitionColumn
	if partCol == "" {
		partCol = PartitionColumn // the built-in dataset's manifest
	}
	cs := &columnSet{index: map[string]int{}}
	types := map[string]string{}
	for i, c := range m.Schema {
		cs.names = append(cs.names, c.Name)
		cs.index[c.Name] = i
		types[c.Name] = c.Type
	}
	need := []string{spec.Users.ID}
	for _, e := range []*dataset.Entity{&spec.Users, &spec.Items} {
		if e == &spec.Items {
			need = append(need, e.ID)
		}
		for _, f := range e.Features {
			need = append(need, f.FeatureName())
		}
		need = append(need, e.Passthrough...)
	}
	fb := &spec.Interactions.Feedback
	if fb.Column != "" {
		need = append(need, fb.Column)
	}
	if spec.Interactions.Timestamp != "" {
		need = append(need, spec.Interactions.Timestamp)
	}
	for _, n := range need {
		if _, ok := cs.index[n]; !ok {
			return nil, fmt.Errorf("the lake's dataset %s (run %s, spec %q) has no column %q, which spec %q needs; run `recoflow etl` with this spec", ds, m.RunID, m.Spec, n, spec.Name)
		}
	}
	pi, ok := cs.index[partCol]
	if !ok {
		return nil, fmt.Errorf("dataset %s: the manifest's schema lacks its partition column %q", ds, partCol)
	}
	userI, itemI := cs.index[spec.Users.ID], cs.index[spec.Items.ID]
	fbI, tsI := -1, -1
	if fb.Column != "" {
		fbI = cs.index[fb.Column]
	}
	if spec.Interactions.Timestamp != "" {
		tsI = cs.index[spec.Interactions.Timestamp]
	}
	// The stored columns: every column but the partition's, in order.
	stored := slices.Delete(slices.Clone(cs.names), pi, pi+1)

	row := &GenericRow{cols: cs, vals: make([]Value, len(cs.names))}
	buf := make([]parquet.Row, 256)
	var pv Value
	err = eachFile(ctx, b, loc, m, func(p Partition) (string, error) {
		var err error
		if pv, err = partitionValue(m, p, types[partCol]); err != nil {
			return "", fmt.Errorf("dataset %s: %w", ds, err)
		}
		if m.PartitionColumn == "" {
			return PartitionColumn + "=" + strconv.Itoa(int(p.CustomerNumber)), nil
		}
		return PartitionDirOf(partCol, p.Value, p.Null), nil
	}, func(key string, pf *parquet.File) (int64, error) {
		decs, err := decoders(pf.Schema(), stored)
		if err != nil {
			return 0, fmt.Errorf("parquet file %s: %w", key, err)
		}
		r := parquet.NewReader(pf)
		defer r.Close()
		var n int64
		for {
			k, rerr := r.ReadRows(buf)
			for _, pr := range buf[:k] {
				j := 0
				for ci := range row.vals {
					if ci == pi {
						row.vals[ci] = pv
						continue
					}
					row.vals[ci] = decs[j](pr[j])
					j++
				}
				row.UserID = row.vals[userI].String()
				row.ItemID = row.vals[itemI].String()
				switch fb.Kind {
				case dataset.FeedbackCount:
					row.Feedback = 1
				case dataset.FeedbackWeight:
					row.Feedback = fb.Weights[row.vals[fbI].Str]
				default:
					row.Feedback = row.vals[fbI].Num
				}
				row.Time, row.HasTime = time.Time{}, false
				if tsI >= 0 {
					row.Time, row.HasTime = parseTime(row.vals[tsI])
				}
				if err := fn(row); err != nil {
					return n, err
				}
			}
			n += int64(k)
			if errors.Is(rerr, io.EOF) {
				return n, nil
			}
			if rerr != nil {
				return n, fmt.Errorf("parquet file %s: %w", key, rerr)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// partitionValue is the partition column's value of p, typed as the
// manifest's schema says.
func partitionValue(m *Manifest, p Partition, typ string) (Value, error) {
	if m.PartitionColumn == "" {
		return Value{Kind: Number, Num: float64(p.CustomerNumber)}, nil
	}
	if p.Null {
		return Value{}, nil
	}
	switch {
	case typ == "INT32" || typ == "INT64" || typ == "DOUBLE" || strings.HasPrefix(typ, "DECIMAL"):
		f, err := strconv.ParseFloat(p.Value, 64)
		if err != nil {
			return Value{}, fmt.Errorf("partition %s: value %q is not a number", p.Dir, p.Value)
		}
		return Value{Kind: Number, Num: f}, nil
	case strings.HasPrefix(typ, "TIMESTAMP"):
		t, err := time.Parse("2006-01-02 15:04:05.999999", p.Value)
		if err != nil {
			return Value{}, fmt.Errorf("partition %s: value %q is not a time", p.Dir, p.Value)
		}
		return Value{Kind: String, Str: t.UTC().Format(time.RFC3339Nano)}, nil
	}
	return Value{Kind: String, Str: p.Value}, nil
}

func parseTime(v Value) (time.Time, bool) {
	switch v.Kind {
	case String:
		for _, l := range []string{time.RFC3339Nano, time.DateOnly, "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(l, v.Str); err == nil {
				return t.UTC(), true
			}
		}
	case Number:
		return time.Unix(int64(v.Num), 0).UTC(), true // Unix seconds
	}
	return time.Time{}, false
}

// decoders returns, for each of the names, the function that turns its
// column's Parquet values into Values, after checking that the file's
// columns are exactly names, in order.
func decoders(s *parquet.Schema, names []string) ([]func(parquet.Value) Value, error) {
	fields := s.Fields()
	if len(fields) != len(names) {
		return nil, fmt.Errorf("schema: %d columns, the manifest lists %d stored ones", len(fields), len(names))
	}
	out := make([]func(parquet.Value) Value, len(fields))
	for i, f := range fields {
		if f.Name() != names[i] {
			return nil, fmt.Errorf("schema: column %d is %q, want %q", i+1, f.Name(), names[i])
		}
		if !f.Leaf() || f.Repeated() {
			return nil, fmt.Errorf("schema: column %q is not a plain column", f.Name())
		}
		dec, err := decoder(f.Type())
		if err != nil {
			return nil, fmt.Errorf("schema: column %q: %w", f.Name(), err)
		}
		out[i] = func(v parquet.Value) Value {
			if v.IsNull() {
				return Value{}
			}
			return dec(v)
		}
	}
	return out, nil
}

func decoder(t parquet.Type) (func(parquet.Value) Value, error) {
	var lv format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		lv = lt.Value
	}
	switch x := lv.(type) {
	case *format.DecimalType:
		div := math.Pow10(int(x.Scale))
		switch t.Kind() {
		case parquet.Int32, parquet.Int64:
			return func(v parquet.Value) Value { return Value{Kind: Number, Num: float64(v.Int64()) / div} }, nil
		}
		return nil, fmt.Errorf("decimal on %s is not read", t.Kind())
	case *format.DateType:
		return func(v parquet.Value) Value {
			return Value{Kind: String, Str: time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)}
		}, nil
	case *format.TimestampType:
		unit := x.Unit.Value
		return func(v parquet.Value) Value {
			var t time.Time
			switch unit.(type) {
			case *format.MilliSeconds:
				t = time.UnixMilli(v.Int64())
			case *format.NanoSeconds:
				t = time.Unix(0, v.Int64())
			default:
				t = time.UnixMicro(v.Int64())
			}
			return Value{Kind: String, Str: t.UTC().Format(time.RFC3339Nano)}
		}, nil
	}
	switch t.Kind() {
	case parquet.Boolean:
		return func(v parquet.Value) Value {
			if v.Boolean() {
				return Value{Kind: Number, Num: 1}
			}
			return Value{Kind: Number}
		}, nil
	case parquet.Int32, parquet.Int64:
		return func(v parquet.Value) Value { return Value{Kind: Number, Num: float64(v.Int64())} }, nil
	case parquet.Float:
		return func(v parquet.Value) Value { return Value{Kind: Number, Num: float64(v.Float())} }, nil
	case parquet.Double:
		return func(v parquet.Value) Value { return Value{Kind: Number, Num: v.Double()} }, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return func(v parquet.Value) Value { return Value{Kind: String, Str: string(v.ByteArray())} }, nil
	}
	return nil, fmt.Errorf("type %s is not read", t)
}
