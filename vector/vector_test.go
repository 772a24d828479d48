package vector_test

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
)

func TestCheckVector(t *testing.T) {
	cases := []struct {
		v    []float32
		dim  int
		want error
	}{
		{[]float32{1, 0}, 2, nil},
		{[]float32{1e-30, 0}, 2, nil},
		{[]float32{1, 0, 0}, 2, vector.ErrDimension},
		{[]float32{0, 0}, 2, vector.ErrInvalid},
		{[]float32{float32(math.NaN()), 1}, 2, vector.ErrInvalid},
		{[]float32{float32(math.Inf(-1)), 1}, 2, vector.ErrInvalid},
	}
	for _, c := range cases {
		if err := vector.CheckVector(c.v, c.dim); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("CheckVector(%v, %d) = %v, want %v", c.v, c.dim, err, c.want)
		}
	}
}

func TestParseUserID(t *testing.T) {
	for in, want := range map[string]int64{"103": 103, " 0496 ": 496, "-7": -7, "2147483647": math.MaxInt32} {
		if got, err := vector.ParseUserID(in); err != nil || got != want {
			t.Errorf("ParseUserID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "alice", "1.5", "2147483648", "0x10"} {
		if _, err := vector.ParseUserID(in); !errors.Is(err, vector.ErrInvalid) {
			t.Errorf("ParseUserID(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for _, ok := range []string{"20261125T153000Z", "lab 2024/06", "v1.2-rc"} {
		if err := vector.CheckVersion(ok); err != nil {
			t.Errorf("CheckVersion(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", " v1", "v1\n", "a\x00b", strings.Repeat("x", vector.MaxVersionLen+1)} {
		if err := vector.CheckVersion(bad); !errors.Is(err, vector.ErrInvalid) {
			t.Errorf("CheckVersion(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestFromCSV(t *testing.T) {
	file := "id,embedding\nS10_1678,\"[1,2]\"\nS10_1949,\"[3,4]\"\nbad,\"[5]\"\n"
	closed := false
	open := func() (io.ReadCloser, error) {
		return readCloser{strings.NewReader(file), &closed}, nil
	}
	var ids []string
	var err error
	for e, e2 := range vector.FromCSV(open) {
		if e2 != nil {
			err = e2
			break
		}
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, ",") != "S10_1678,S10_1949" || err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("ids %v, error %v; want two ids then an error at line 4", ids, err)
	}
	if !closed {
		t.Error("file not closed")
	}
	// Stopping early closes the file too.
	closed = false
	for range vector.FromCSV(open) {
		break
	}
	if !closed {
		t.Error("file not closed after an early stop")
	}
	boom := errors.New("no such bucket")
	for _, err := range vector.FromCSV(func() (io.ReadCloser, error) { return nil, boom }) {
		if !errors.Is(err, boom) {
			t.Fatalf("open error: %v", err)
		}
	}
	n := 0
	for range vector.FromSlice([]embedding.Entry{{ID: "a"}, {ID: "b"}}) {
		n++
	}
	if n != 2 {
		t.Fatalf("FromSlice yielded %d entries", n)
	}
}

type readCloser struct {
	io.Reader
	closed *bool
}

func (r readCloser) Close() error { *r.closed = true; return nil }

func TestHitSimilarity(t *testing.T) {
	if s := (vector.Hit{Distance: 0.25}).Similarity(); s != 0.75 {
		t.Fatalf("Similarity = %v", s)
	}
}

func TestCanonicalID(t *testing.T) {
	cases := []struct {
		kind string
		typ  vector.IDType
		in   string
		want string // "" means ErrInvalid
	}{
		{"user", vector.IDInteger, " 0103 ", "103"},
		{"user", vector.IDInteger, "-7", "-7"},
		{"user", vector.IDInteger, "2147483648", ""},
		{"user", vector.IDInteger, "00000000-a762", ""},
		{"item", vector.IDInteger, "3000000000", "3000000000"},
		{"item", vector.IDInteger, "S10_1678", ""},
		{"user", vector.IDString, " 0103 ", " 0103 "},
		{"user", vector.IDString, "00000000-a762", "00000000-a762"},
		{"user", vector.IDString, "", ""},
		{"user", vector.IDString, "a\x00b", ""},
		{"user", vector.IDString, "caf\xe9", ""},
		{"item", vector.IDString, strings.Repeat("x", vector.MaxIDLen+1), ""},
	}
	for _, c := range cases {
		got, err := vector.CanonicalID(c.kind, c.typ, c.in)
		if c.want == "" {
			if !errors.Is(err, vector.ErrInvalid) {
				t.Errorf("CanonicalID(%s, %s, %q) = %q, %v; want ErrInvalid", c.kind, c.typ, c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("CanonicalID(%s, %s, %q) = %q, %v; want %q", c.kind, c.typ, c.in, got, err, c.want)
		}
	}
	_, err := vector.CanonicalID("user", vector.IDInteger, "alice")
	if err == nil || err.Error() != `invalid vector store input: user id "alice" is not a 32-bit integer (user_emb.id is int)` {
		t.Errorf("the lab's error for a user id that is not an int changed: %v", err)
	}
}

func TestLoadOptions(t *testing.T) {
	o, err := vector.LoadOptionsOf()
	if err != nil || o.IDs != vector.LabIDs {
		t.Fatalf("default load options %+v, %v; want the lab's id types", o, err)
	}
	o, err = vector.LoadOptionsOf(vector.WithIDTypes(vector.IDTypes{User: vector.IDString}))
	if err != nil || o.IDs != (vector.IDTypes{User: vector.IDString, Item: vector.IDString}) {
		t.Fatalf("string users: %+v, %v", o, err)
	}
	if _, err := vector.LoadOptionsOf(vector.WithIDTypes(vector.IDTypes{Item: "uuid"})); !errors.Is(err, vector.ErrInvalid) || !strings.Contains(err.Error(), "uuid") {
		t.Fatalf("an unknown id type: %v", err)
	}
}
