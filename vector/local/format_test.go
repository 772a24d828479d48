package local

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// TestReadsFormat1: a store written before id types existed (testdata,
// made by that program) opens, with the lab's id types, and a lab version
// is still written in format 1, a version of other id types in format 2.
func TestReadsFormat1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/format1")); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("open a format-1 store: %v", err)
	}
	defer st.Close()
	info, err := st.Version(ctx)
	if err != nil || info.Version != "lab-format-1" || info.IDs != vector.LabIDs || info.Users != 2 {
		t.Fatalf("Version = %+v, %v; want lab-format-1 with the lab's id types", info, err)
	}
	if v, err := st.UserVector(ctx, "0103"); err != nil || !slices.Equal(v, []float32{0.25, -1.5, 0, 1}) {
		t.Fatalf("UserVector(0103) = %v, %v", v, err)
	}

	format := func() uint32 {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "versions", st.cur.Load().name))
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint32(b[8:])
	}
	items := []embedding.Entry{{ID: "7", Vector: []float32{1, 0, 0, 0}}}
	users := []embedding.Entry{{ID: "00000000-a762", Vector: []float32{0, 1, 0, 0}}}
	if _, err := st.Load(ctx, "shop", vector.FromSlice(items), vector.FromSlice(users),
		vector.WithIDTypes(vector.IDTypes{User: vector.IDString, Item: vector.IDInteger})); err != nil {
		t.Fatal(err)
	}
	if f := format(); f != formatTyped {
		t.Errorf("a version with string user ids is written in format %d, want %d", f, formatTyped)
	}
	if _, err := st.Load(ctx, "lab", vector.FromSlice(items), nil); err != nil {
		t.Fatal(err)
	}
	if f := format(); f != formatVersion {
		t.Errorf("a lab version is written in format %d, want %d", f, formatVersion)
	}
}

// TestFormat2Checked: a format-2 file must name known id types.
func TestFormat2Checked(t *testing.T) {
	d := &snapshotData{info: footer{Version: "v", Dim: 2, Items: 1, UserIDs: "string", ItemIDs: "integer"}}
	b := newTableBuilder(2, 0, nil)
	b.add("1", []float32{1, 0})
	d.items, _ = b.finish("item")
	d.users, _ = newTableBuilder(2, 0, nil).finish("user")
	write := func(d *snapshotData) []byte {
		t.Helper()
		path := filepath.Join(t.TempDir(), "v.rfv")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeSnapshot(f, d); err != nil {
			t.Fatal(err)
		}
		f.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	got, err := parseSnapshot(write(d), "v.rfv")
	if err != nil || got.info.ids() != (vector.IDTypes{User: vector.IDString, Item: vector.IDInteger}) {
		t.Fatalf("parse a format-2 file: %+v, %v", got, err)
	}
	d.info.UserIDs = "uuid"
	if _, err := parseSnapshot(write(d), "v.rfv"); !errors.Is(err, errCorrupt) {
		t.Fatalf("a format-2 file with user id type uuid: %v, want a corrupt file", err)
	}
}

// TestSizeHint: a load whose size hint is too small or too large still
// loads every row (rows beyond the hint grow on the heap), with the graph.
func TestSizeHint(t *testing.T) {
	ctx := context.Background()
	items := vectortest.Clustered(3, 3000, 32, "h")
	for _, hint := range []int{0, 10, 2999, 3000, 50_000} {
		st, err := Open(ctx, t.TempDir(), Options{ExactThreshold: 1000, BuildWorkers: 1})
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Load(ctx, "v", vector.FromSlice(items), nil, vector.WithSizeHint(hint, hint))
		if err != nil || info.Items != len(items) {
			t.Fatalf("hint %d: %+v, %v", hint, info, err)
		}
		for _, i := range []int{0, 1234, 2999} {
			v, err := st.ItemVector(ctx, items[i].ID)
			if err != nil || !slices.Equal(v, items[i].Vector) {
				t.Fatalf("hint %d: item %s: %v, %v", hint, items[i].ID, v, err)
			}
			hits, err := st.SearchItems(ctx, items[i].Vector, 1)
			if err != nil || len(hits) != 1 || hits[0].ID != items[i].ID {
				t.Fatalf("hint %d: nearest to %s: %v, %v", hint, items[i].ID, hits, err)
			}
		}
		st.Close()
	}
}
