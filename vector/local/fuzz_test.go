package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// FuzzReadSnapshot: a damaged or hostile version file is refused, never a
// panic, and a file that is accepted can be searched.
func FuzzReadSnapshot(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	st, err := Open(ctx, dir, Options{ExactThreshold: 1, Dim: 4})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := st.Load(ctx, "seed", vector.FromSlice(vectortest.Clustered(1, 40, 4, "i")),
		vector.FromSlice(userEntries())); err != nil {
		f.Fatal(err)
	}
	st.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "versions", "*.rfv"))
	valid, err := os.ReadFile(files[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(bytes.Repeat([]byte{0xff}, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseSnapshot(data, "fuzz.rfv")
		if err != nil {
			return
		}
		snap := newSnapshot("v.rfv", d, true)
		s := &Store{opts: Options{EfSearch: 8}, dim: d.info.Dim}
		s.cur.Store(snap)
		if d.info.Dim > 0 && d.info.Dim < 1024 {
			q := make([]float32, d.info.Dim)
			q[0] = 1
			s.SearchItems(ctx, q, 3)
		}
	})
}

func userEntries() []embedding.Entry {
	return []embedding.Entry{{ID: "103", Vector: []float32{1, 2, 3, 4}}}
}

// TestHostileGraph: a file with valid checksums but links out of range is
// refused (a search would otherwise index out of bounds).
func TestHostileGraph(t *testing.T) {
	items := vectortest.Clustered(2, 300, 8, "h")
	it := itemTable(t, items, 8)
	ut, _ := newTableBuilder(8, 0, nil).finish("user")
	for name, spoil := range map[string]func(g *graph){
		"layer-0 link out of range": func(g *graph) { g.l0[17] = 300 },
		"upper link to a lower node": func(g *graph) {
			for i, lv := range g.levels {
				if lv >= 1 {
					for j, l := range g.levels {
						if l == 0 {
							g.links(uint32(i), 1)[0] = uint32(j)
							return
						}
					}
				}
			}
		},
		"entry below the top": func(g *graph) {
			for j, l := range g.levels {
				if int(l) < g.maxLevel {
					g.entry = uint32(j)
					return
				}
			}
		},
		"level above the top": func(g *graph) { g.levels[3] = uint8(g.maxLevel + 1) },
	} {
		t.Run(name, func(t *testing.T) {
			g, err := buildGraph(context.Background(), it, hnswParams{m: 4, efConstruction: 16, seed: 1, workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			spoil(g)
			var buf bytes.Buffer
			d := &snapshotData{items: it, users: ut, graph: g, info: footer{Version: "x", Dim: 8, Items: 300}}
			if err := writeSnapshot(&buf, d); err != nil {
				t.Fatal(err)
			}
			if _, err := parseSnapshot(buf.Bytes(), "hostile.rfv"); err == nil || !strings.Contains(err.Error(), "graph") {
				t.Fatalf("parse: %v, want a graph error", err)
			}
		})
	}
}
