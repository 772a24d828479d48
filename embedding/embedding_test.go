package embedding

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := []Entry{
		{ID: "S10_1678", Vector: []float32{0.1, -2.5, 3e-7}},
		{ID: "with,comma", Vector: []float32{1, 0, -1}},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range in {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "id,embedding\nS10_1678,\"[0.1,-2.5,3e-07]\"\n") {
		t.Fatalf("unexpected file:\n%s", buf.String())
	}
	var out []Entry
	if err := Read(&buf, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d entries, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].ID != in[i].ID {
			t.Errorf("entry %d id %q, want %q", i, out[i].ID, in[i].ID)
		}
		for j := range in[i].Vector {
			if out[i].Vector[j] != in[i].Vector[j] {
				t.Errorf("entry %d component %d = %v, want %v (bit-exact)", i, j, out[i].Vector[j], in[i].Vector[j])
			}
		}
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"empty", "", "empty"},
		{"bad header", "a,b\n", `want id,embedding`},
		{"bad vector", "id,embedding\nx,\"[1,oops]\"\n", `line 2, id "x": vector component 2 "oops": not a number`},
		{"no brackets", "id,embedding\nx,\"1,2\"\n", "want the form"},
		{"dimension", "id,embedding\nx,\"[1,2]\"\ny,\"[1,2,3]\"\n", `line 3, id "y": dimension 3, want 2`},
		{"duplicate", "id,embedding\nx,\"[1]\"\nx,\"[2]\"\n", `id "x" appears twice`},
		{"nan", "id,embedding\nx,\"[NaN]\"\n", "not a finite number"},
		{"empty id", "id,embedding\n,\"[1]\"\n", "empty id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Read(strings.NewReader(c.file), func(Entry) error { return nil })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestReadAllowingDuplicates checks that AllowDuplicates gives every entry,
// the repeated id included, on its own line, and still checks the rest.
func TestReadAllowingDuplicates(t *testing.T) {
	file := "id,embedding\nx,\"[1]\"\ny,\"[2]\"\nx,\"[3]\"\n"
	var got []string
	err := ReadLinesWith(strings.NewReader(file), ReadOptions{AllowDuplicates: true}, func(e Entry, line int) error {
		got = append(got, fmt.Sprintf("%s@%d=%v", e.ID, line, e.Vector))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "x@2=[1] y@3=[2] x@4=[3]"; strings.Join(got, " ") != want {
		t.Errorf("read %q, want %q", strings.Join(got, " "), want)
	}
	err = ReadLinesWith(strings.NewReader(file+"z,\"[1,2]\"\n"), ReadOptions{AllowDuplicates: true}, func(Entry, int) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `line 5, id "z": dimension 2, want 1`) {
		t.Errorf("error %v, want the dimension of line 5", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"[1,2,3]", "[ 0.5 , -1e-3 ]", "[]", "[1,,2]", "[Inf]", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(Format(v))
		if err != nil {
			t.Fatalf("Format(%v) does not parse back: %v", v, err)
		}
		for i := range v {
			if back[i] != v[i] {
				t.Fatalf("component %d: %v != %v", i, back[i], v[i])
			}
		}
	})
}

// lineSource yields an embeddings file of n lines, each with a long vector,
// generated as it is read so that the input itself holds no memory.
type lineSource struct {
	n, i    int
	pending []byte
}

func (s *lineSource) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.i > s.n {
			return 0, io.EOF
		}
		if s.i == 0 {
			s.pending = []byte("id,embedding\n")
		} else {
			s.pending = fmt.Appendf(nil, "item-%d,\"[%s1]\"\n", s.i, strings.Repeat("0.123456789,", 400))
		}
		s.i++
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// TestReadDoesNotKeepLines: Read remembers every id to reject duplicates;
// remembering the ids must not keep the lines they came from (about 5 kB
// each here) alive until the read ends.
func TestReadDoesNotKeepLines(t *testing.T) {
	const lines = 4000 // ≈ 20 MB of lines
	var live uint64
	n := 0
	err := Read(&lineSource{n: lines}, func(e Entry) error {
		if n++; n == lines {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			live = ms.HeapAlloc
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != lines {
		t.Fatalf("read %d entries, want %d", n, lines)
	}
	if live > 8<<20 {
		t.Errorf("live heap at the last of %d lines: %.1f MiB, want < 8 MiB (the lines themselves are ≈ 19 MiB)", lines, float64(live)/(1<<20))
	}
}

// TestIDSet: the duplicate check's set finds every id again across its
// growth, and only those.
func TestIDSet(t *testing.T) {
	var s idSet
	const n = 50_000
	for i := range n {
		if added, err := s.add(fmt.Sprintf("id-%d", i*7)); err != nil || !added {
			t.Fatalf("id-%d: added %v, %v", i*7, added, err)
		}
	}
	for i := range 7 * n {
		added, err := s.add(fmt.Sprintf("id-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if was := i%7 == 0; added == was {
			t.Fatalf("id-%d: added %v, but it was seen before: %v", i, added, was)
		}
	}
	if added, _ := s.add(""); !added {
		t.Error("the empty id is not in the set")
	}
	if added, _ := s.add(""); added {
		t.Error("the empty id was added twice")
	}
	if allocs := testing.AllocsPerRun(1000, func() { s.add("id-14") }); allocs != 0 {
		t.Errorf("looking up a known id allocates %v times", allocs)
	}
}

// BenchmarkReadMemory reports the live heap Read holds per row while it
// streams a file to a consumer that keeps nothing (as a COPY into pgvector
// does): the duplicate check's ids, nothing of the lines. Not timed.
func BenchmarkReadMemory(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			for b.Loop() {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				var live uint64
				n := 0
				err := Read(&gaussianSource{n: rows}, func(e Entry) error {
					if n++; n == rows {
						runtime.GC()
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						live = ms.HeapAlloc - before.HeapAlloc
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(live)/float64(rows), "live-B/row")
				b.ReportMetric(float64(live)/(1<<20), "live-MiB")
			}
		})
	}
}

// gaussianSource is an embeddings file of n rows with ids "item-<i>" and
// 32 components, generated as it is read.
type gaussianSource struct {
	n, i int
	buf  []byte
}

func (g *gaussianSource) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		if g.i == 0 {
			g.buf = append(g.buf, "id,embedding\n"...)
		} else {
			g.buf = fmt.Appendf(g.buf, "item-%d,\"[", g.i)
			for j := range 32 {
				if j > 0 {
					g.buf = append(g.buf, ',')
				}
				g.buf = strconv.AppendFloat(g.buf, float64(g.i%97)/97-float64(j)/64, 'g', -1, 32)
			}
			g.buf = append(g.buf, "]\"\n"...)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}
