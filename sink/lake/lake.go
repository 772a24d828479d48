package lake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	rlake "github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/sink"
)

// Default prefixes and stream name (DESIGN.md §8).
const (
	DefaultStream       = "recoflow"
	DefaultPrefix       = "recommendations/"
	DefaultErrorPrefix  = "recommendations-errors/"
	DefaultLedgerPrefix = "recommendations-ledger/"
)

// stampLayout is the time in object names: yyyy-MM-dd-HH-mm-ss, UTC.
const stampLayout = "2006-01-02-15-04-05"

// ledgerVersion is the version of the ledger entry format.
const ledgerVersion = 1

var streamName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Options tune a lake writer. The zero value takes every default.
type Options struct {
	// Stream starts every object's file name, like a Firehose delivery
	// stream's name (default DefaultStream): letters, digits, ".", "_" and
	// "-", at most 128. Sinks sharing a Stream (and prefixes) share a
	// ledger, so workers that consume the same source must use the same
	// Stream.
	Stream string
	// Gzip compresses records and error records; names end in .json.gz.
	Gzip bool
	// Prefix, ErrorPrefix and LedgerPrefix are where records, error records
	// and ledger entries go (defaults DefaultPrefix, DefaultErrorPrefix and
	// DefaultLedgerPrefix). Each is a key prefix ending in "/".
	Prefix, ErrorPrefix, LedgerPrefix string
}

func (o Options) withDefaults() (Options, error) {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if !streamName.MatchString(o.Stream) || strings.HasPrefix(o.Stream, ".tmp-") {
		return o, fmt.Errorf("lake sink: stream name %q: want letters, digits, '.', '_' and '-' (at most 128)", o.Stream)
	}
	for _, p := range []struct {
		v   *string
		def string
	}{{&o.Prefix, DefaultPrefix}, {&o.ErrorPrefix, DefaultErrorPrefix}, {&o.LedgerPrefix, DefaultLedgerPrefix}} {
		if *p.v == "" {
			*p.v = p.def
		}
		if !strings.HasSuffix(*p.v, "/") {
			*p.v += "/"
		}
	}
	pre := []string{o.Prefix, o.ErrorPrefix, o.LedgerPrefix}
	for i, a := range pre {
		for j, b := range pre {
			if i != j && strings.HasPrefix(a, b) {
				return o, fmt.Errorf("lake sink: prefix %q lies inside prefix %q", a, b)
			}
		}
	}
	return o, nil
}

// Writer writes flushes to a lake: records as one newline-delimited JSON
// object, error records as another. It implements sink.Writer and
// sink.Checker, but not sink.Ledger: a sink on a plain Writer delivers at
// least once. Ledgered adds the ledger.
type Writer struct {
	b rlake.Bucket
	o Options
}

var (
	_ sink.Writer  = (*Writer)(nil)
	_ sink.Checker = (*Writer)(nil)
	_ sink.Writer  = (*Ledgered)(nil)
	_ sink.Ledger  = (*Ledgered)(nil)
)

// NewWriter returns a Writer on bucket b. It does not block.
func NewWriter(b rlake.Bucket, o Options) (*Writer, error) {
	if b == nil {
		return nil, errors.New("lake sink: nil bucket")
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Writer{b: b, o: o}, nil
}

// New returns a Buffered sink on bucket b with the ledger that gives
// exactly-once delivery. It blocks while it recovers the ledger (see
// sink.New); ctx covers only that.
func New(ctx context.Context, b rlake.Bucket, o Options, so sink.Options) (*sink.Buffered, error) {
	w, err := NewWriter(b, o)
	if err != nil {
		return nil, err
	}
	return sink.New(ctx, &Ledgered{Writer: w}, so)
}

func (w *Writer) ext() string {
	if w.o.Gzip {
		return ".json.gz"
	}
	return ".json"
}

// name is the time-partitioned key of f's object under prefix:
// prefix/YYYY/MM/dd/HH/<stream>-<yyyy-MM-dd-HH-mm-ss>-<id><ext>, in UTC.
func (w *Writer) name(prefix string, f *sink.Flush) string {
	t := f.Time.UTC()
	return prefix + t.Format("2006/01/02/15/") + w.o.Stream + "-" + t.Format(stampLayout) + "-" + f.ID + w.ext()
}

// RecordsKey returns the key of the object that holds f's records. It does
// not block.
func (w *Writer) RecordsKey(f *sink.Flush) string { return w.name(w.o.Prefix, f) }

// ErrorsKey returns the key of the object that holds f's error records. It
// does not block.
func (w *Writer) ErrorsKey(f *sink.Flush) string { return w.name(w.o.ErrorPrefix, f) }

// Check rejects records that cannot be one line of newline-delimited JSON:
// empty data, and data with a raw newline that is not valid JSON (valid
// JSON is written compacted). It does not block.
func (w *Writer) Check(r sink.Record) error {
	if len(bytes.TrimSpace(r.Data)) == 0 {
		return errors.New("empty record data")
	}
	if bytes.IndexByte(r.Data, '\n') >= 0 && !json.Valid(r.Data) {
		return errors.New("record data holds a newline and is not valid JSON")
	}
	return nil
}

// Write puts f's error records, then its records, each as one object
// (atomic, durable once Put returns). It blocks on the bucket; repeating it
// rewrites the same keys with the same bytes.
func (w *Writer) Write(ctx context.Context, f *sink.Flush) error {
	if len(f.Errors) > 0 {
		body, err := w.encodeErrors(f)
		if err != nil {
			return err
		}
		if err := w.b.Put(ctx, w.ErrorsKey(f), bytes.NewReader(body)); err != nil {
			return fmt.Errorf("write error records of flush %s: %w", f.ID, err)
		}
	}
	if len(f.Records) > 0 {
		body, err := w.encodeRecords(f)
		if err != nil {
			return err
		}
		if err := w.b.Put(ctx, w.RecordsKey(f), bytes.NewReader(body)); err != nil {
			return fmt.Errorf("write records of flush %s: %w", f.ID, err)
		}
	}
	return nil
}

// encoder writes lines, compressed or not, into a buffer.
type encoder struct {
	buf bytes.Buffer
	zw  *gzip.Writer
	w   io.Writer
}

func (w *Writer) newEncoder(size int) *encoder {
	e := &encoder{}
	e.buf.Grow(size)
	e.w = &e.buf
	if w.o.Gzip {
		e.zw = gzip.NewWriter(&e.buf) // no name nor time in the header: same input, same bytes
		e.w = e.zw
	}
	return e
}

func (e *encoder) line(p []byte) error {
	if _, err := e.w.Write(p); err != nil {
		return err
	}
	_, err := e.w.Write([]byte{'\n'})
	return err
}

func (e *encoder) bytes() ([]byte, error) {
	if e.zw != nil {
		if err := e.zw.Close(); err != nil {
			return nil, err
		}
	}
	return e.buf.Bytes(), nil
}

func (w *Writer) encodeRecords(f *sink.Flush) ([]byte, error) {
	size := 0
	for _, r := range f.Records {
		size += len(r.Data) + 1
	}
	e := w.newEncoder(size)
	var compact bytes.Buffer
	for _, r := range f.Records {
		data := r.Data
		if bytes.IndexByte(data, '\n') >= 0 {
			compact.Reset()
			if err := json.Compact(&compact, data); err != nil {
				return nil, fmt.Errorf("encode record %s: %w", r.ID, err)
			}
			data = compact.Bytes()
		}
		if err := e.line(data); err != nil {
			return nil, err
		}
	}
	return e.bytes()
}

// errorLine is one line of an error object.
type errorLine struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	// Raw is the input as a string when it is valid UTF-8, else base64
	// with RawEncoding "base64".
	Raw         string    `json:"raw"`
	RawEncoding string    `json:"raw_encoding,omitempty"`
	Time        time.Time `json:"time"`
}

func (w *Writer) encodeErrors(f *sink.Flush) ([]byte, error) {
	e := w.newEncoder(0)
	for _, er := range f.Errors {
		l := errorLine{ID: er.ID, Reason: er.Reason, Time: er.Time.UTC()}
		if l.Time.IsZero() {
			l.Time = f.Cut
		}
		if utf8.Valid(er.Raw) {
			l.Raw = string(er.Raw)
		} else {
			l.Raw = base64.StdEncoding.EncodeToString(er.Raw)
			l.RawEncoding = "base64"
		}
		b, err := json.Marshal(l)
		if err != nil {
			return nil, fmt.Errorf("encode error record %s: %w", er.ID, err)
		}
		if err := e.line(b); err != nil {
			return nil, err
		}
	}
	return e.bytes()
}

// Ledgered is a Writer with a ledger in the lake, which makes a Buffered
// sink write each ID once across crashes and redeliveries (see the package
// documentation). It implements sink.Writer, sink.Checker and sink.Ledger.
type Ledgered struct {
	*Writer
}

// ledgerEntry is the JSON of one ledger entry.
type ledgerEntry struct {
	Version int            `json:"version"`
	Stream  string         `json:"stream"`
	Flush   string         `json:"flush"`
	Cut     time.Time      `json:"cut"`
	Objects []ledgerObject `json:"objects"`
}

type ledgerObject struct {
	Key string   `json:"key"`
	IDs []string `json:"ids"`
}

func (l *Ledgered) dir() string { return l.o.LedgerPrefix + l.o.Stream + "/" }

// EntryKey returns the key of f's ledger entry:
// LedgerPrefix/<stream>/<yyyy-MM-dd-HH-mm-ss of the cut>-<id>.json. It does
// not block.
func (l *Ledgered) EntryKey(f *sink.Flush) string {
	return l.dir() + f.Cut.UTC().Format(stampLayout) + "-" + f.ID + ".json"
}

// Write puts f's ledger entry (the IDs and the objects that will hold
// them), then its objects as Writer.Write does. The entry is durable before
// any object exists, so an object is never without its entry. It blocks on
// the bucket; repeating it rewrites the same keys with the same bytes.
func (l *Ledgered) Write(ctx context.Context, f *sink.Flush) error {
	ent := ledgerEntry{Version: ledgerVersion, Stream: l.o.Stream, Flush: f.ID, Cut: f.Cut.UTC()}
	if len(f.Errors) > 0 {
		o := ledgerObject{Key: l.ErrorsKey(f), IDs: make([]string, len(f.Errors))}
		for i, e := range f.Errors {
			o.IDs[i] = e.ID
		}
		ent.Objects = append(ent.Objects, o)
	}
	if len(f.Records) > 0 {
		o := ledgerObject{Key: l.RecordsKey(f), IDs: make([]string, len(f.Records))}
		for i, r := range f.Records {
			o.IDs[i] = r.ID
		}
		ent.Objects = append(ent.Objects, o)
	}
	body, err := json.Marshal(ent)
	if err != nil {
		return fmt.Errorf("encode ledger entry of flush %s: %w", f.ID, err)
	}
	if err := l.b.Put(ctx, l.EntryKey(f), bytes.NewReader(body)); err != nil {
		return fmt.Errorf("write ledger entry of flush %s: %w", f.ID, err)
	}
	return l.Writer.Write(ctx, f)
}

// ackSuffix ends the name of an entry's acknowledgement record, which
// replaces the entry's ".json".
const ackSuffix = ".acked.json"

// ackKey is the key of the acknowledgement record of the entry at key.
func ackKey(key string) string { return strings.TrimSuffix(key, ".json") + ackSuffix }

// ackRecord is the JSON of an acknowledgement record.
type ackRecord struct {
	Version int       `json:"version"`
	Acked   time.Time `json:"acked"`
}

// Acknowledge puts the acknowledgement record of the entry at key:
// <entry name without .json>.acked.json, holding the time. It blocks on the
// bucket; repeating it rewrites the record.
func (l *Ledgered) Acknowledge(ctx context.Context, key string, at time.Time) error {
	body, err := json.Marshal(ackRecord{Version: ledgerVersion, Acked: at.UTC()})
	if err != nil {
		return err
	}
	if err := l.b.Put(ctx, ackKey(key), bytes.NewReader(body)); err != nil {
		return fmt.Errorf("record acknowledgement of ledger entry: %w", err)
	}
	return nil
}

// Recover lists the stream's ledger entries and returns, for each entry cut
// at or after since and not known, the IDs of its objects that exist, those
// of its objects that do not (a flush that never completed, or one that
// another worker is writing), and its acknowledgement time when recorded.
// Entries cut before since are deleted, and so are acknowledgement records
// without an entry (left by a Retire cut short). It blocks on the bucket
// and is safe to repeat.
func (l *Ledgered) Recover(ctx context.Context, since time.Time, known func(string) bool) ([]sink.Entry, error) {
	var keys []string
	acks := map[string]bool{} // entry key → has an acknowledgement record
	if err := l.b.List(ctx, l.dir(), func(key string) error {
		if strings.HasSuffix(key, ackSuffix) {
			acks[strings.TrimSuffix(key, ackSuffix)+".json"] = true
			return nil
		}
		keys = append(keys, key)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list ledger %s: %w", l.dir(), err)
	}
	var out []sink.Entry
	for _, key := range keys {
		base := path.Base(key)
		if len(base) < len(stampLayout) {
			continue // not ours
		}
		cut, err := time.Parse(stampLayout, base[:len(stampLayout)])
		if err != nil {
			continue
		}
		acked := acks[key]
		delete(acks, key)
		if cut.Before(since.Add(-time.Second)) { // names hold whole seconds
			if err := l.Retire(ctx, key); err != nil {
				return nil, fmt.Errorf("delete expired ledger entry: %w", err)
			}
			continue
		}
		if known != nil && known(key) {
			continue
		}
		e, err := l.read(ctx, key)
		if errors.Is(err, rlake.ErrNotFound) {
			continue // retired meanwhile
		}
		if err != nil {
			return nil, err
		}
		se := sink.Entry{Key: key, Cut: e.Cut}
		if acked {
			a, err := l.readAck(ctx, key)
			switch {
			case errors.Is(err, rlake.ErrNotFound):
				continue // retired meanwhile
			case err != nil:
				return nil, err
			}
			se.Acked = a
		}
		for _, o := range e.Objects {
			_, err := l.b.Attributes(ctx, o.Key)
			if errors.Is(err, rlake.ErrNotFound) {
				se.Unwritten = append(se.Unwritten, o.IDs...)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("check object of ledger entry %s: %w", key, err)
			}
			se.IDs = append(se.IDs, o.IDs...)
		}
		out = append(out, se)
	}
	// Acknowledgement records whose entry is gone: a Retire cut short.
	for key := range acks {
		if err := l.b.Delete(ctx, ackKey(key)); err != nil {
			return nil, fmt.Errorf("delete leftover acknowledgement record: %w", err)
		}
	}
	return out, nil
}

func (l *Ledgered) readAck(ctx context.Context, key string) (time.Time, error) {
	var a ackRecord
	r, err := l.b.Get(ctx, ackKey(key))
	if err != nil {
		return time.Time{}, fmt.Errorf("read acknowledgement of ledger entry: %w", err)
	}
	defer r.Close()
	if err := json.NewDecoder(r).Decode(&a); err != nil {
		return time.Time{}, fmt.Errorf("read acknowledgement of ledger entry %s: %w", key, err)
	}
	if a.Version != ledgerVersion || a.Acked.IsZero() {
		return time.Time{}, fmt.Errorf("acknowledgement of ledger entry %s: version %d without a time, want version %d", key, a.Version, ledgerVersion)
	}
	return a.Acked, nil
}

func (l *Ledgered) read(ctx context.Context, key string) (ledgerEntry, error) {
	var e ledgerEntry
	r, err := l.b.Get(ctx, key)
	if err != nil {
		return e, fmt.Errorf("read ledger entry: %w", err)
	}
	defer r.Close()
	if err := json.NewDecoder(r).Decode(&e); err != nil {
		return e, fmt.Errorf("read ledger entry %s: %w", key, err)
	}
	if e.Version != ledgerVersion {
		return e, fmt.Errorf("ledger entry %s: version %d, want %d", key, e.Version, ledgerVersion)
	}
	return e, nil
}

// Retire deletes the ledger entry at key, then its acknowledgement record
// (in this order: an acknowledgement record never outlives a live entry's
// protection; a leftover record is deleted by the next Recover). It blocks
// on the bucket; a missing entry is not an error.
func (l *Ledgered) Retire(ctx context.Context, key string) error {
	if err := l.b.Delete(ctx, key); err != nil {
		return fmt.Errorf("retire ledger entry: %w", err)
	}
	if err := l.b.Delete(ctx, ackKey(key)); err != nil {
		return fmt.Errorf("retire ledger entry's acknowledgement record: %w", err)
	}
	return nil
}
