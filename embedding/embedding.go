// Package embedding holds the lab's exchange format for embeddings: CSV files
// with the header "id,embedding" whose second column is a vector in
// pgvector's text form, "[0.1,0.2,…]".
//
// The trainer writes these files; the vector store loads them; users may
// bring their own files trained elsewhere.
package embedding

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"strconv"
	"strings"
)

// Entry is one row of an embeddings file.
type Entry struct {
	ID     string
	Vector []float32
}

// Format returns v in pgvector text form, "[1,2.5,-0.25]". Each component
// is printed with the fewest digits that parse back to the same float32.
func Format(v []float32) string {
	b := make([]byte, 0, 2+len(v)*12)
	b = AppendFormat(b, v)
	return string(b)
}

// AppendFormat appends v in pgvector text form to b.
func AppendFormat(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']')
}

// Parse reads a vector in pgvector text form. Whitespace around components
// is allowed; NaN and infinities are rejected, as pgvector rejects them.
func Parse(s string) ([]float32, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("vector %q: want the form [x,y,…]", abbreviate(s))
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return nil, fmt.Errorf("vector %q: no components", s)
	}
	v := make([]float32, strings.Count(body, ",")+1)
	for i := range v {
		var p string
		p, body, _ = strings.Cut(body, ",")
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("vector component %d %q: not a number", i+1, abbreviate(strings.TrimSpace(p)))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("vector component %d: %v is not a finite number", i+1, f)
		}
		v[i] = float32(f)
	}
	return v, nil
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// Writer writes an embeddings CSV file, header first.
type Writer struct {
	w   *bufio.Writer
	buf []byte
	dim int
}

// NewWriter starts an embeddings file on w and writes its header.
func NewWriter(w io.Writer) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("id,embedding\n"); err != nil {
		return nil, err
	}
	return &Writer{w: bw}, nil
}

// Write appends one entry. All entries must have the same dimension.
func (w *Writer) Write(e Entry) error {
	if w.dim == 0 {
		w.dim = len(e.Vector)
	} else if len(e.Vector) != w.dim {
		return fmt.Errorf("embedding %q: dimension %d, want %d like the first entry", e.ID, len(e.Vector), w.dim)
	}
	w.buf = w.buf[:0]
	w.buf = appendCSVField(w.buf, e.ID)
	w.buf = append(w.buf, ',', '"')
	w.buf = AppendFormat(w.buf, e.Vector)
	w.buf = append(w.buf, '"', '\n')
	_, err := w.w.Write(w.buf)
	return err
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

// Read reads an embeddings CSV file and calls fn for each entry in file
// order. Errors name the line and the reason; every entry must have the same
// dimension and a unique, non-empty id.
func Read(r io.Reader, fn func(Entry) error) error {
	return ReadLines(r, func(e Entry, _ int) error { return fn(e) })
}

// ReadLines is Read that also gives fn the line each entry starts on, for
// its caller's own errors.
func ReadLines(r io.Reader, fn func(e Entry, line int) error) error {
	return ReadLinesWith(r, ReadOptions{}, fn)
}

// ReadOptions change what ReadLinesWith checks.
type ReadOptions struct {
	// AllowDuplicates leaves out the check that every id is unique, for a
	// caller whose destination rejects duplicates itself (the vector
	// stores do): the check remembers every id read, some 20 bytes each,
	// which such a caller need not spend.
	AllowDuplicates bool
}

// ReadLinesWith is ReadLines with options.
func ReadLinesWith(r io.Reader, opts ReadOptions, fn func(e Entry, line int) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("embeddings file is empty: want the header id,embedding")
	}
	if err != nil {
		return fmt.Errorf("embeddings header: %w", err)
	}
	if strings.TrimPrefix(strings.TrimSpace(header[0]), "\ufeff") != "id" || strings.TrimSpace(header[1]) != "embedding" {
		return fmt.Errorf("embeddings header is %q,%q: want id,embedding", header[0], header[1])
	}
	var seen idSet
	dim := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return fmt.Errorf("embeddings line %d: %w", line, err)
		}
		// The record's fields share one string: fn gets a copy of the id,
		// so that keeping it does not keep the whole line alive.
		id := strings.TrimSpace(rec[0])
		if id == "" {
			return fmt.Errorf("embeddings line %d: empty id", line)
		}
		if !opts.AllowDuplicates {
			added, err := seen.add(id)
			if err != nil {
				return fmt.Errorf("embeddings line %d: %w", line, err)
			}
			if !added {
				return fmt.Errorf("embeddings line %d: id %q appears twice", line, id)
			}
		}
		id = strings.Clone(id)
		v, err := Parse(rec[1])
		if err != nil {
			return fmt.Errorf("embeddings line %d, id %q: %w", line, id, err)
		}
		if dim == 0 {
			dim = len(v)
		} else if len(v) != dim {
			return fmt.Errorf("embeddings line %d, id %q: dimension %d, want %d like the first entry", line, id, len(v), dim)
		}
		if err := fn(Entry{ID: id, Vector: v}, line); err != nil {
			return err
		}
	}
}

// idSet remembers the ids a Read has seen, compactly and without
// pointers, so that the duplicate check costs little memory and no
// garbage-collector work per id: the ids' bytes, each after its length,
// in one arena, and an open-addressing table of arena offsets (about 20
// bytes an 11-byte id, against some 60 for a map[string]struct{} with a
// string per id).
type idSet struct {
	arena []byte
	slots []uint32 // 0: empty; else 1 + the id's offset in arena
	n     int
	seed  maphash.Seed
}

// add adds id and reports whether it was new. It fails when the ids
// exceed 4 GiB.
func (s *idSet) add(id string) (bool, error) {
	if s.slots == nil {
		s.seed = maphash.MakeSeed()
		s.slots = make([]uint32, 1024)
	}
	mask := uint64(len(s.slots) - 1)
	for i := maphash.String(s.seed, id) & mask; ; i = (i + 1) & mask {
		off := s.slots[i]
		if off == 0 {
			break
		}
		if string(s.at(off-1)) == id {
			return false, nil
		}
	}
	if len(s.arena)+binary.MaxVarintLen64+len(id) >= math.MaxUint32 {
		return false, errors.New("ids exceed 4 GiB")
	}
	off := uint32(len(s.arena)) + 1
	s.arena = binary.AppendUvarint(s.arena, uint64(len(id)))
	s.arena = append(s.arena, id...)
	s.n++
	if s.n*4 > len(s.slots)*3 {
		s.grow()
	}
	s.put(off)
	return true, nil
}

// at returns the bytes of the id at offset off of the arena.
func (s *idSet) at(off uint32) []byte {
	n, k := binary.Uvarint(s.arena[off:])
	start := int(off) + k
	return s.arena[start : start+int(n) : start+int(n)]
}

func (s *idSet) put(off uint32) {
	mask := uint64(len(s.slots) - 1)
	i := maphash.Bytes(s.seed, s.at(off-1)) & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = off
}

func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint32, 2*len(old))
	for _, off := range old {
		if off != 0 {
			s.put(off)
		}
	}
}
