package etl

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/training"
	"golang.org/x/sync/errgroup"
)

// SpecReject is a row of a spec's interactions kept out of the training
// data, as the rejects file holds it.
type SpecReject struct {
	// User and Item are the interaction's user and item keys as text (nil
	// for NULL).
	User   *string `json:"user"`
	Item   *string `json:"item"`
	Reason string  `json:"reason"`
	// Kind is a short stable category of Reason, for counting.
	Kind string `json:"kind"`
}

// specRecord is one converted row: its partition and its Parquet row.
type specRecord struct {
	dir   string
	value string
	null  bool
	row   parquet.Row
}

// extractSpec runs the spec's join and writes the staged Parquet files and
// rejects: extract's pipeline (reader, one encoder, uploaders) on the
// spec's columns.
func (st *state) extractSpec(ctx context.Context, db *source.DB, rej *rejectsWriter) error {
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []specRecord, 4)
	files := make(chan stagedFile, st.opts.Uploaders)
	put := st.stagedPut()
	queryStart := st.opts.Now()
	var queryDone time.Time
	g.Go(func() error {
		defer close(batches)
		err := st.readSpec(gctx, db, batches, rej)
		queryDone = st.opts.Now()
		return err
	})
	w := &specWriter{staging: st.staging, runID: st.runID, maxBytes: st.opts.MaxFileBytes,
		schema: st.plan.schema, column: st.spec.Lake.Partition, parts: map[string]int{}}
	g.Go(func() error {
		defer close(files)
		return w.run(gctx, batches, files)
	})
	st.startUploaders(gctx, g, files, put)
	if err := st.finishExtract(ctx, g, rej); err != nil {
		return err
	}
	st.partitions = w.partitions
	st.files, st.bytes, st.rows = w.files, w.bytes, w.rows
	st.timings = map[string]string{
		"extract": queryDone.Sub(queryStart).Round(time.Millisecond).String(),
		"write":   st.opts.Now().Sub(queryStart).Round(time.Millisecond).String(),
	}
	return nil
}

// readSpec streams the spec's join, converts and checks each row, and
// sends the rows in batches to the writer.
func (st *state) readSpec(ctx context.Context, db *source.DB, out chan<- []specRecord, rej *rejectsWriter) error {
	p := st.plan
	rows, err := db.SQL.QueryContext(ctx, p.query)
	if err != nil {
		return fmt.Errorf("query source %s: %w", db, err)
	}
	defer rows.Close()
	raw := make([]any, 2+len(p.cols))
	dest := make([]any, len(raw))
	for i := range raw {
		dest[i] = &raw[i]
	}
	const batchSize = 1024
	batch := make([]specRecord, 0, batchSize)
	var n, bad int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read source row %d: %w", n+1, err)
		}
		n++
		rec, r := p.convert(raw)
		if r != nil {
			bad++
			st.rejected.Store(bad)
			if st.opts.OnBadRows == Fail {
				return &BadRowError{Spec: r}
			}
			st.rejects[r.Kind]++
			if err := rej.write(r); err != nil {
				return fmt.Errorf("write rejects: %w", err)
			}
		} else {
			batch = append(batch, rec)
		}
		if len(batch) == batchSize {
			st.rowsRead.Store(n)
			if err := sendBatch(ctx, out, batch); err != nil {
				return err
			}
			batch = make([]specRecord, 0, batchSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read source %s after %d rows: %w", db, n, err)
	}
	st.rowsRead.Store(n)
	if len(batch) > 0 {
		return sendBatch(ctx, out, batch)
	}
	return nil
}

// convert turns one row of the join into a record, or says why it cannot
// be training data.
func (p *specPlan) convert(raw []any) (specRecord, *SpecReject) {
	s := p.spec
	reject := func(kind, format string, args ...any) (specRecord, *SpecReject) {
		return specRecord{}, &SpecReject{User: textPtr(raw[0]), Item: textPtr(raw[1]), Kind: kind, Reason: fmt.Sprintf(format, args...)}
	}
	in := &s.Interactions
	switch {
	case raw[0] == nil:
		return reject("null_key", "%s is NULL", in.UserKey)
	case raw[1] == nil:
		return reject("null_key", "%s is NULL", in.ItemKey)
	case raw[2+p.userID] == nil:
		return reject("unknown_user", "user %s does not exist in %s", text(raw[0]), s.Users.Table)
	case raw[2+p.itemID] == nil:
		return reject("unknown_item", "item %s does not exist in %s", text(raw[1]), s.Items.Table)
	}
	var rec specRecord
	rec.row = make(parquet.Row, 0, len(p.cols))
	col := 0
	for i := range p.cols {
		c := &p.cols[i]
		v := raw[2+i]
		var pv parquet.Value
		if v == nil {
			if !c.nullable {
				return reject("null_value", "%s is NULL", c.where)
			}
			pv = parquet.NullValue()
		} else {
			var err error
			if pv, err = c.value(v); err != nil {
				return reject("bad_value", "%s %s: %v", c.where, show(v), err)
			}
		}
		if i == p.feedback {
			if r := p.checkFeedback(pv); r != "" {
				kind := "feedback_out_of_range"
				if in.Feedback.Kind == dataset.FeedbackWeight {
					kind = "unknown_event"
				}
				return reject(kind, "%s", r)
			}
		}
		if !c.stored {
			rec.null = v == nil
			if !rec.null {
				rec.value = c.text(pv)
			}
			rec.dir = training.PartitionDirOf(c.name, rec.value, rec.null)
			continue
		}
		def := 0
		if c.nullable && v != nil {
			def = 1
		}
		rec.row = append(rec.row, pv.Level(0, def, col))
		col++
	}
	return rec, nil
}

// checkFeedback returns why v is not valid feedback, or "".
func (p *specPlan) checkFeedback(v parquet.Value) string {
	fb := &p.spec.Interactions.Feedback
	c := &p.cols[p.feedback]
	switch fb.Kind {
	case dataset.FeedbackExplicit:
		if v.IsNull() || fb.Scale == nil {
			return ""
		}
		x := c.number(v)
		if x < fb.Scale.Min || x > fb.Scale.Max {
			return fmt.Sprintf("%s %s is outside %s..%s", fb.Column, c.text(v),
				strconv.FormatFloat(fb.Scale.Min, 'f', -1, 64), strconv.FormatFloat(fb.Scale.Max, 'f', -1, 64))
		}
	case dataset.FeedbackWeight:
		if v.IsNull() {
			return ""
		}
		if _, ok := p.weights[string(v.ByteArray())]; !ok {
			return fmt.Sprintf("%s %q has no weight in interactions.feedback.weights", fb.Column, v.ByteArray())
		}
	}
	return ""
}

func textPtr(v any) *string {
	if v == nil {
		return nil
	}
	s := text(v)
	return &s
}

// text formats a driver value as text.
func text(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case nil:
		return "NULL"
	}
	return fmt.Sprint(v)
}

func show(v any) string { return strconv.Quote(text(v)) }

// value converts a driver value (int64, float64, bool, []byte, string or
// time.Time) to c's Parquet type.
func (c *planCol) value(v any) (parquet.Value, error) {
	switch c.kind {
	case kString:
		return parquet.ByteArrayValue([]byte(text(v))), nil
	case kBytes:
		if b, ok := v.([]byte); ok {
			return parquet.ByteArrayValue(b), nil
		}
		return parquet.ByteArrayValue([]byte(text(v))), nil
	case kInt32, kInt64:
		n, err := toInt(v)
		if err != nil {
			return parquet.Value{}, err
		}
		if c.kind == kInt32 {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return parquet.Value{}, fmt.Errorf("does not fit in a 32-bit integer")
			}
			return parquet.Int32Value(int32(n)), nil
		}
		return parquet.Int64Value(n), nil
	case kDecimal:
		n, err := toDecimal(v, c.prec, c.scale)
		if err != nil {
			return parquet.Value{}, err
		}
		if c.prec <= 9 {
			return parquet.Int32Value(int32(n)), nil
		}
		return parquet.Int64Value(n), nil
	case kDouble:
		f, err := toFloat(v)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.DoubleValue(f), nil
	case kDate:
		t, err := toTime(v, c.info.Class)
		if err != nil {
			return parquet.Value{}, err
		}
		y, m, d := t.Date()
		days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
		return parquet.Int32Value(int32(days)), nil
	case kTimestamp:
		t, err := toTime(v, c.info.Class)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.Int64Value(t.UnixMicro()), nil
	}
	return parquet.Value{}, fmt.Errorf("unknown lake type %d", c.kind)
}

// text formats a value of c for a partition directory and messages.
func (c *planCol) text(v parquet.Value) string {
	switch c.kind {
	case kInt32, kInt64:
		return strconv.FormatInt(v.Int64(), 10)
	case kDecimal:
		return formatDecimal(v.Int64(), c.scale)
	case kDouble:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case kDate:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
	case kTimestamp:
		return time.UnixMicro(v.Int64()).UTC().Format("2006-01-02 15:04:05.999999")
	}
	return string(v.ByteArray())
}

// number returns a numeric value of c as float64.
func (c *planCol) number(v parquet.Value) float64 {
	switch c.kind {
	case kInt32, kInt64:
		return float64(v.Int64())
	case kDecimal:
		return float64(v.Int64()) / math.Pow10(c.scale)
	case kDouble:
		return v.Double()
	}
	f, _ := strconv.ParseFloat(strings.TrimSpace(string(v.ByteArray())), 64)
	return f
}

func formatDecimal(unscaled int64, scale int) string {
	if scale == 0 {
		return strconv.FormatInt(unscaled, 10)
	}
	r := new(big.Rat).SetFrac(big.NewInt(unscaled), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	return r.FloatString(scale)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, fmt.Errorf("not a whole number")
		}
		return int64(x), nil
	case []byte, string:
		s := strings.TrimSpace(text(x))
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil && u > math.MaxInt64 {
			return 0, fmt.Errorf("does not fit in a 64-bit integer")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("not a whole number")
		}
		return toInt(f)
	}
	return 0, fmt.Errorf("not a whole number (%T)", v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case []byte, string:
		f, err := strconv.ParseFloat(strings.TrimSpace(text(x)), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("not a number")
		}
		return f, nil
	}
	return 0, fmt.Errorf("not a number (%T)", v)
}

// toDecimal returns v as an unscaled DECIMAL(prec, scale). Plain decimal
// text is read exactly (extra fractional digits rounded half away from
// zero, as the built-in path does); other forms go through float64.
func toDecimal(v any, prec, scale int) (int64, error) {
	var r *big.Rat
	switch x := v.(type) {
	case int64:
		r = new(big.Rat).SetInt64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("not a decimal number")
		}
		r = new(big.Rat).SetFloat64(x)
	case []byte, string:
		var ok bool
		if r, ok = new(big.Rat).SetString(strings.TrimSpace(text(x))); !ok || strings.ContainsAny(text(x), "/") {
			return 0, fmt.Errorf("not a decimal number")
		}
	default:
		return 0, fmt.Errorf("not a decimal number (%T)", v)
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	r.Mul(r, new(big.Rat).SetInt(pow))
	// Round half away from zero.
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if m.Mul(m, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(prec)), nil)
	if new(big.Int).Abs(q).Cmp(limit) >= 0 {
		return 0, fmt.Errorf("does not fit DECIMAL(%d,%d)", prec, scale)
	}
	return q.Int64(), nil
}

// timeLayouts are the text forms of dates and times the sources give:
// MySQL's and SQLite's "2006-01-02 15:04:05[.ffffff]", ISO-8601 with a T
// and an optional zone, and a bare date.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	time.DateOnly,
}

// toTime reads a date or time: a time.Time, text in one of timeLayouts
// (UTC unless it carries a zone), an integer of Unix seconds, or — from a
// SQLite REAL — a Julian day.
func toTime(v any, class source.Class) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case int64:
		if class == source.ClassTime { // MySQL YEAR-like oddities are not times
			return time.Time{}, fmt.Errorf("not a date or time")
		}
		return time.Unix(x, 0).UTC(), nil
	case float64:
		// Julian day: 2440587.5 is 1970-01-01T00:00:00Z.
		return time.UnixMicro(int64(math.Round((x - 2440587.5) * 86400e6))).UTC(), nil
	case []byte, string:
		s := strings.TrimSpace(text(x))
		if strings.HasPrefix(s, "0000-00-00") {
			return time.Time{}, fmt.Errorf("the zero date is not a date")
		}
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && class != source.ClassTime {
			return time.Unix(n, 0).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("not a date or time")
	}
	return time.Time{}, fmt.Errorf("not a date or time (%T)", v)
}

// specWriter turns a stream of records into Parquet files, one or more
// per partition. Rows come grouped by partition (the join is ordered by
// the partition column); should a partition come back (a database's
// collation may order distinct values as equal), it gets another file.
type specWriter struct {
	staging  string
	runID    string
	maxBytes int64
	schema   *parquet.Schema
	column   string

	w   *parquet.Writer
	buf *bytes.Buffer
	cur int // index of the current partition in partitions, -1 none
	n   int64
	// seq is the next file number of each partition.
	seq      map[int]int
	parts    map[string]int // dir → index in partitions
	lastSize int64

	partitions []training.Partition
	files      int
	bytes      int64
	rows       int64
}

func (sw *specWriter) run(ctx context.Context, in <-chan []specRecord, out chan<- stagedFile) error {
	sw.cur = -1
	sw.seq = map[int]int{}
	rows := make([]parquet.Row, 0, 1024)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := sw.w.WriteRows(rows); err != nil {
			return fmt.Errorf("encode partition %s: %w", sw.partitions[sw.cur].Dir, err)
		}
		sw.n += int64(len(rows))
		rows = rows[:0]
		return nil
	}
	for batch := range in {
		for i := range batch {
			rec := &batch[i]
			if sw.cur < 0 || rec.dir != sw.partitions[sw.cur].Dir {
				if err := flush(); err != nil {
					return err
				}
				if err := sw.finishFile(ctx, out); err != nil {
					return err
				}
				idx, ok := sw.parts[rec.dir]
				if !ok {
					idx = len(sw.partitions)
					sw.parts[rec.dir] = idx
					sw.partitions = append(sw.partitions, training.Partition{Value: rec.value, Dir: rec.dir, Null: rec.null})
				}
				sw.cur = idx
				sw.startFile()
			}
			rows = append(rows, rec.row)
			if len(rows) == cap(rows) {
				if err := flush(); err != nil {
					return err
				}
				if int64(sw.buf.Len()) >= sw.maxBytes {
					if err := sw.finishFile(ctx, out); err != nil {
						return err
					}
					sw.startFile()
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return sw.finishFile(ctx, out)
}

// startFile begins a new file in the current partition, with a writer of
// its own (see partitionWriter.startFile).
func (sw *specWriter) startFile() {
	sw.buf = bytes.NewBuffer(make([]byte, 0, min(sw.lastSize+sw.lastSize/8+512, 1<<20)))
	sw.w = parquet.NewWriter(sw.buf, sw.schema,
		parquet.Compression(&snappy.Codec{}),
		parquet.CreatedBy("recoflow", "", ""),
		parquet.WriteBufferSize(-1),
	)
	sw.n = 0
}

func (sw *specWriter) finishFile(ctx context.Context, out chan<- stagedFile) error {
	if sw.cur < 0 || sw.n == 0 {
		return nil
	}
	p := &sw.partitions[sw.cur]
	if err := sw.w.Close(); err != nil {
		return fmt.Errorf("finish parquet file in %s: %w", p.Dir, err)
	}
	rel := path.Join(p.Dir, FileName(sw.runID, sw.seq[sw.cur]))
	size := int64(sw.buf.Len())
	sw.lastSize = size
	f := stagedFile{key: path.Join(sw.staging, rel), data: bytes.NewReader(sw.buf.Bytes()), size: size}
	select {
	case out <- f:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.Files = append(p.Files, training.File{Path: rel, Rows: sw.n, Bytes: size})
	p.Rows += sw.n
	sw.files++
	sw.bytes += size
	sw.rows += sw.n
	sw.seq[sw.cur]++
	sw.n = 0
	return nil
}

// sendBatch hands a full batch of rows from the reader to the writers, or
// gives up when ctx is done.
func sendBatch[T any](ctx context.Context, out chan<- []T, batch []T) error {
	select {
	case out <- batch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
