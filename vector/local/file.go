package local

// The version file: one file per loaded version, written once, never
// changed, read whole at start-up.
//
//	[0, 64)        "RFVSTORE", format version (uint32 LE), zero padding:
//	               1 for the lab's id types (integer users, string items),
//	               2 for others, which the footer names (user_ids,
//	               item_ids), so that a program reading only format 1
//	               refuses such a file rather than misreading its ids
//	sections       raw little-endian arrays, each starting on a 64-byte
//	               boundary: item ids, offsets, order, vectors; user ids,
//	               offsets, order, vectors; graph levels, upOff, up, l0
//	footer         JSON: the version's description, graph parameters and,
//	               for every section, its offset, length and CRC-32C
//	trailer (16)   footer length (uint32 LE), CRC-32C of the footer
//	               (uint32 LE), "RFVEND01"
//
// Inverse norms are recomputed on open rather than stored: it costs a few
// milliseconds per 100 k vectors and keeps the file free of derived data.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"
	"unsafe"

	"github.com/recoflow/recoflow/vector"
)

const (
	headMagic     = "RFVSTORE"
	tailMagic     = "RFVEND01"
	formatVersion = 1 // the lab's id types
	formatTyped   = 2 // other id types, named in the footer
	headSize      = 64
	trailerSize   = 16
	align         = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type sectionInfo struct {
	Name string `json:"name"`
	Off  int64  `json:"off"`
	Len  int64  `json:"len"`
	CRC  uint32 `json:"crc32c"`
}

type graphInfo struct {
	M              int    `json:"m"`
	EfConstruction int    `json:"ef_construction"`
	MaxLevel       int    `json:"max_level"`
	Entry          uint32 `json:"entry"`
}

type footer struct {
	Format   int           `json:"format"`
	Version  string        `json:"version"`
	Dim      int           `json:"dim"`
	Items    int           `json:"items"`
	Users    int           `json:"users"`
	UserIDs  string        `json:"user_ids,omitempty"` // format 2: the id types
	ItemIDs  string        `json:"item_ids,omitempty"`
	LoadedAt time.Time     `json:"loaded_at"`
	Graph    *graphInfo    `json:"graph,omitempty"`
	Sections []sectionInfo `json:"sections"`
}

// ids returns the id types the footer records: the lab's for format 1.
func (f *footer) ids() vector.IDTypes {
	ids, _ := vector.IDTypes{User: vector.IDType(f.UserIDs), Item: vector.IDType(f.ItemIDs)}.Resolve()
	return ids
}

// snapshotData is what a version file holds.
type snapshotData struct {
	info   footer
	items  *table
	users  *table
	graph  *graph
	efCons int
	// release unmaps the file the arrays point into (nil: they are on
	// the heap). The snapshot made of this data calls it once unreachable.
	release func()
}

// fileWriter writes sections, keeping offsets and checksums.
type fileWriter struct {
	w        *bufio.Writer
	off      int64
	sections []sectionInfo
	crc      uint32
	err      error
}

func (fw *fileWriter) write(b []byte) {
	if fw.err != nil {
		return
	}
	_, fw.err = fw.w.Write(b)
	fw.off += int64(len(b))
	fw.crc = crc32.Update(fw.crc, castagnoli, b)
}

func (fw *fileWriter) pad() {
	if r := fw.off % align; r != 0 {
		fw.write(make([]byte, align-r))
	}
}

func (fw *fileWriter) section(name string, fn func()) {
	fw.pad()
	start := fw.off
	fw.crc = 0
	fn()
	fw.sections = append(fw.sections, sectionInfo{Name: name, Off: start, Len: fw.off - start, CRC: fw.crc})
}

func (fw *fileWriter) u32s(v []uint32) {
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[i*4:], x)
		}
		fw.write(buf[:n*4])
		v = v[n:]
	}
}

func (fw *fileWriter) f32s(v []float32) {
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[i*4:], math.Float32bits(x))
		}
		fw.write(buf[:n*4])
		v = v[n:]
	}
}

// writeSnapshot writes d to f (positioned at 0). The caller syncs and
// closes f.
func writeSnapshot(f io.Writer, d *snapshotData) error {
	fw := &fileWriter{w: bufio.NewWriterSize(f, 1<<20)}
	head := make([]byte, headSize)
	copy(head, headMagic)
	format := uint32(formatVersion)
	if d.info.ids() != vector.LabIDs {
		format = formatTyped
	}
	binary.LittleEndian.PutUint32(head[8:], format)
	fw.write(head)
	for _, tb := range []struct {
		name string
		t    *table
	}{{"items", d.items}, {"users", d.users}} {
		fw.section(tb.name+".ids", func() { fw.write([]byte(tb.t.ids)) })
		fw.section(tb.name+".off", func() { fw.u32s(tb.t.off) })
		fw.section(tb.name+".order", func() { fw.u32s(tb.t.order) })
		fw.section(tb.name+".vecs", func() { fw.f32s(tb.t.vecs) })
	}
	info := d.info
	if g := d.graph; g != nil {
		fw.section("graph.levels", func() { fw.write(g.levels) })
		fw.section("graph.upoff", func() { fw.u32s(g.upOff) })
		fw.section("graph.up", func() { fw.u32s(g.up) })
		fw.section("graph.l0", func() { fw.u32s(g.l0) })
		info.Graph = &graphInfo{M: g.m, EfConstruction: d.efCons, MaxLevel: g.maxLevel, Entry: g.entry}
	}
	info.Format = int(format)
	info.UserIDs, info.ItemIDs = "", ""
	if format == formatTyped {
		info.UserIDs, info.ItemIDs = string(d.info.ids().User), string(d.info.ids().Item)
	}
	info.Sections = fw.sections
	js, err := json.Marshal(info)
	if err != nil {
		return err
	}
	fw.write(js)
	var tail [trailerSize]byte
	binary.LittleEndian.PutUint32(tail[0:], uint32(len(js)))
	binary.LittleEndian.PutUint32(tail[4:], crc32.Checksum(js, castagnoli))
	copy(tail[8:], tailMagic)
	fw.write(tail[:])
	if fw.err != nil {
		return fw.err
	}
	return fw.w.Flush()
}

// errCorrupt marks a version file that cannot be trusted.
var errCorrupt = errors.New("corrupt vector store file")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// readSnapshot maps and checks a version file. Its arrays stay in the
// mapping (the page cache, shared with other processes), not on the Go
// heap.
func readSnapshot(path string) (*snapshotData, error) {
	b, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	d, err := parseSnapshot(b, path)
	if err != nil {
		release()
		return nil, err
	}
	d.release = release
	return d, nil
}

// parseSnapshot checks the contents b of the version file path and uses
// its arrays in place.
func parseSnapshot(b []byte, path string) (*snapshotData, error) {
	var err error
	if len(b) < headSize+trailerSize || string(b[:8]) != headMagic || string(b[len(b)-8:]) != tailMagic {
		return nil, corrupt("%s: not a recoflow vector store file (bad magic)", path)
	}
	format := binary.LittleEndian.Uint32(b[8:])
	if format != formatVersion && format != formatTyped {
		return nil, corrupt("%s: format version %d, this program reads %d and %d", path, format, formatVersion, formatTyped)
	}
	tail := b[len(b)-trailerSize:]
	flen := int64(binary.LittleEndian.Uint32(tail[0:]))
	if flen > int64(len(b)-headSize-trailerSize) {
		return nil, corrupt("%s: footer length %d out of range", path, flen)
	}
	js := b[int64(len(b)-trailerSize)-flen : len(b)-trailerSize]
	if crc32.Checksum(js, castagnoli) != binary.LittleEndian.Uint32(tail[4:]) {
		return nil, corrupt("%s: footer checksum mismatch", path)
	}
	var ft footer
	if err := json.Unmarshal(js, &ft); err != nil {
		return nil, corrupt("%s: footer: %v", path, err)
	}
	end := int64(len(b)-trailerSize) - flen
	secs := map[string][]byte{}
	for _, s := range ft.Sections {
		if s.Off < headSize || s.Len < 0 || s.Off+s.Len > end || s.Off%align != 0 {
			return nil, corrupt("%s: section %s out of range", path, s.Name)
		}
		data := b[s.Off : s.Off+s.Len : s.Off+s.Len]
		if crc32.Checksum(data, castagnoli) != s.CRC {
			return nil, corrupt("%s: section %s checksum mismatch", path, s.Name)
		}
		secs[s.Name] = data
	}
	if ft.Dim <= 0 || ft.Items < 0 || ft.Users < 0 {
		return nil, corrupt("%s: bad dimension or counts", path)
	}
	if ft.Format != int(format) {
		return nil, corrupt("%s: footer says format %d, header %d", path, ft.Format, format)
	}
	if format == formatVersion && (ft.UserIDs != "" || ft.ItemIDs != "") {
		return nil, corrupt("%s: format 1 with id types", path)
	}
	if format == formatTyped {
		if _, err := (vector.IDTypes{User: vector.IDType(ft.UserIDs), Item: vector.IDType(ft.ItemIDs)}).Resolve(); err != nil || ft.UserIDs == "" || ft.ItemIDs == "" {
			return nil, corrupt("%s: id types %q, %q", path, ft.UserIDs, ft.ItemIDs)
		}
	}
	d := &snapshotData{info: ft}
	if d.items, err = readTable(secs, "items", ft.Dim, ft.Items); err != nil {
		return nil, corrupt("%s: %v", path, err)
	}
	if d.users, err = readTable(secs, "users", ft.Dim, ft.Users); err != nil {
		return nil, corrupt("%s: %v", path, err)
	}
	if ft.Graph != nil {
		if d.graph, err = readGraph(secs, ft.Graph, ft.Items); err != nil {
			return nil, corrupt("%s: %v", path, err)
		}
		d.efCons = ft.Graph.EfConstruction
	}
	return d, nil
}

func readTable(secs map[string][]byte, name string, dim, n int) (*table, error) {
	ids, ok1 := secs[name+".ids"]
	off, err1 := u32s(secs[name+".off"], n+1)
	order, err2 := u32s(secs[name+".order"], n)
	vecs, err3 := f32s(secs[name+".vecs"], n*dim)
	if !ok1 || err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("table %s: missing or mis-sized section", name)
	}
	if off[0] != 0 || int(off[n]) != len(ids) {
		return nil, fmt.Errorf("table %s: id offsets do not span the ids", name)
	}
	for i := range n {
		if off[i] > off[i+1] || order[i] >= uint32(n) {
			return nil, fmt.Errorf("table %s: bad id offset or order", name)
		}
	}
	// The ids stay in the file's bytes too (no heap copy): search copies
	// the ids it returns, which must outlive an unmapped version.
	var idStr string
	if len(ids) > 0 {
		idStr = unsafe.String(unsafe.SliceData(ids), len(ids))
	}
	t := &table{dim: dim, ids: idStr, off: off, order: order, vecs: vecs}
	for j := 1; j < n; j++ {
		if t.id(order[j-1]) >= t.id(order[j]) {
			return nil, fmt.Errorf("table %s: ids not sorted or not unique", name)
		}
	}
	t.inv = inverseNorms(vecs, dim, nil)
	return t, nil
}

func readGraph(secs map[string][]byte, gi *graphInfo, n int) (*graph, error) {
	if gi.M < 2 || gi.M > 1024 || gi.MaxLevel < 0 || gi.MaxLevel > maxLevelCap || int64(gi.Entry) >= int64(n) {
		return nil, errors.New("graph: bad parameters")
	}
	g := &graph{m: gi.M, m0: 2 * gi.M, maxLevel: gi.MaxLevel, entry: gi.Entry}
	var ok bool
	if g.levels, ok = secs["graph.levels"]; !ok || len(g.levels) != n {
		return nil, errors.New("graph: levels section missing or mis-sized")
	}
	var err error
	if g.upOff, err = u32s(secs["graph.upoff"], n); err != nil {
		return nil, fmt.Errorf("graph: upoff: %v", err)
	}
	if g.l0, err = u32s(secs["graph.l0"], n*g.m0); err != nil {
		return nil, fmt.Errorf("graph: l0: %v", err)
	}
	upLen := len(secs["graph.up"]) / 4
	if g.up, err = u32s(secs["graph.up"], upLen); err != nil {
		return nil, fmt.Errorf("graph: up: %v", err)
	}
	// A damaged or hostile file must not make a search index out of range.
	if int(g.levels[g.entry]) != g.maxLevel {
		return nil, errors.New("graph: entry point is not on the top level")
	}
	for i := range n {
		lv := int(g.levels[i])
		if lv > g.maxLevel || (lv > 0 && int64(g.upOff[i])+int64(lv*g.m) > int64(upLen)) {
			return nil, errors.New("graph: node level or upper-layer offset out of range")
		}
	}
	for _, x := range g.l0 {
		if x != none && x >= uint32(n) {
			return nil, errors.New("graph: link out of range")
		}
	}
	for i := range n {
		for lv := 1; lv <= int(g.levels[i]); lv++ {
			for _, x := range g.links(uint32(i), lv) {
				if x != none && (x >= uint32(n) || int(g.levels[x]) < lv) {
					return nil, errors.New("graph: upper-layer link out of range")
				}
			}
		}
	}
	return g, nil
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// u32s views b as n little-endian uint32s: without copying on
// little-endian machines when b is aligned, by decoding otherwise.
func u32s(b []byte, n int) ([]uint32, error) {
	if len(b) != n*4 {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), n*4)
	}
	if n == 0 {
		return []uint32{}, nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n), nil
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return v, nil
}

// f32s is u32s for float32s.
func f32s(b []byte, n int) ([]float32, error) {
	if len(b) != n*4 {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), n*4)
	}
	if n == 0 {
		return []float32{}, nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))
	}
	return v, nil
}
