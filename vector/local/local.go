package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recoflow/recoflow/vector"
)

// Defaults of Options.
const (
	DefaultExactThreshold = 10_000
	DefaultM              = 16
	DefaultEfConstruction = 100
	DefaultEfSearch       = 80
)

// Options tune a local store. The zero value is ready to use.
type Options struct {
	// Dim is the vectors' dimension. 0 means the dimension of the version
	// on disk, or vector.DefaultDim (32) for an empty store. A non-zero Dim
	// that differs from the version on disk makes Open fail with
	// vector.ErrDimension.
	Dim int
	// ExactThreshold: versions with fewer items than this are searched
	// exactly, by a scan, and get no graph (default 10 000; 1 means always
	// build the graph).
	ExactThreshold int
	// M is the HNSW graph's number of links per node and layer (layer 0
	// has 2·M); default 16.
	M int
	// EfConstruction is the candidate list size while building; default
	// 100. Larger builds slower; on clustered 32-dimensional data 200 was no
	// better.
	EfConstruction int
	// EfSearch is the candidate list size while searching (at least k plus
	// the excluded ids); default 80. Larger is slower and more accurate.
	EfSearch int
	// BuildWorkers is the number of goroutines inserting into the graph;
	// default GOMAXPROCS. The first 4,096 nodes are inserted by one of
	// them, so graphs up to that size, and any graph built with 1, are
	// deterministic.
	BuildWorkers int
	// Seed seeds the draw of node levels; default 1.
	Seed uint64
	// RefreshInterval, when positive, makes the store check that often
	// whether another process loaded a new version, and switch to it.
	RefreshInterval time.Duration
	// Logger receives the store's few log lines; default: discard.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Dim < 0 {
		return fmt.Errorf("%w: dimension %d", vector.ErrInvalid, o.Dim)
	}
	if o.ExactThreshold == 0 {
		o.ExactThreshold = DefaultExactThreshold
	}
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.M < 2 || o.M > 256 {
		return fmt.Errorf("HNSW M %d: want 2..256", o.M)
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = DefaultEfConstruction
	}
	if o.EfSearch == 0 {
		o.EfSearch = DefaultEfSearch
	}
	if o.EfConstruction < 1 || o.EfSearch < 1 {
		return errors.New("HNSW ef values must be positive")
	}
	if o.BuildWorkers <= 0 {
		o.BuildWorkers = runtime.GOMAXPROCS(0)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Store is a vector store persisted under one directory:
//
//	DIR/CURRENT              the name of the live version file
//	DIR/LOCK                 locked by loaders, to serialise them
//	DIR/versions/*.rfv       version files (the live one and the previous)
//
// Load writes a new version file beside the old one, syncs it, renames it
// into place, then replaces CURRENT by an atomic rename: a crash at any
// point leaves the previous version live. In memory, a version is swapped
// in with one atomic pointer store, so searches see one version, whole.
//
// A Store is safe for concurrent use.
type Store struct {
	dir    string
	opts   Options
	dim    int
	log    *slog.Logger
	cur    atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises Load and Refresh in this process
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

var (
	_ vector.Store           = (*Store)(nil)
	_ vector.SimilarSearcher = (*Store)(nil)
)

// snapshot is one version, in memory.
type snapshot struct {
	name      string // version file name
	info      vector.Info
	items     *table
	users     *table
	graph     *graph // nil: search by scanning
	searchers searcherPool
}

// searcherPool keeps searchers (each with a visited bitset as long as the
// version) between searches. Unlike a sync.Pool it survives garbage
// collections, which at a million vectors would otherwise mean allocating
// and clearing a bitset per search.
type searcherPool struct {
	mu    sync.Mutex
	free  []*searcher
	limit int
	new   func() *searcher
}

func (p *searcherPool) get() *searcher {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return s
	}
	p.mu.Unlock()
	return p.new()
}

func (p *searcherPool) put(s *searcher) {
	p.mu.Lock()
	if len(p.free) < p.limit {
		p.free = append(p.free, s)
	}
	p.mu.Unlock()
}

// newSnapshot makes d the in-memory version name. eager quantizes its
// items now (a version opened to be searched); otherwise the first search
// does it, so that a load that only writes the version (vectors load)
// never holds the quantized rows.
func newSnapshot(name string, d *snapshotData, eager bool) *snapshot {
	s := &snapshot{
		name: name,
		info: vector.Info{
			Version: d.info.Version, Dim: d.info.Dim, Items: d.info.Items, Users: d.info.Users,
			LoadedAt: d.info.LoadedAt, IDs: d.info.ids(),
		},
		items: d.items,
		users: d.users,
		graph: d.graph,
	}
	if d.release != nil {
		// Every use of the arrays holds s (see KeepAlive in the readers).
		runtime.AddCleanup(s, func(release func()) { release() }, d.release)
	}
	if s.graph != nil {
		s.searchers.limit = 4 * runtime.GOMAXPROCS(0)
		quant := sync.OnceValue(func() *quantTable { return quantize(s.items) })
		if eager {
			quant()
		}
		s.searchers.new = func() *searcher {
			sr := newSearcher(s.graph, s.items, nil)
			sr.quant = quant()
			return sr
		}
	}
	return s
}

// Open opens (creating it if needed) the store in dir and reads its live
// version, if any. It fails with vector.ErrUnavailable when dir cannot be
// used, with vector.ErrDimension when opts.Dim contradicts the version on
// disk, and with a "corrupt" error when the version file is damaged.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("open vector store %s: %w", dir, err)
	}
	if dir == "" {
		return nil, fmt.Errorf("open vector store: %w: no directory", vector.ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Join(dir, "versions"), 0o755); err != nil {
		return nil, fmt.Errorf("open vector store %s: %w: %v", dir, vector.ErrUnavailable, err)
	}
	s := &Store{dir: dir, opts: opts, dim: opts.Dim, log: opts.Logger, stop: make(chan struct{})}
	if s.dim == 0 {
		s.dim = vector.DefaultDim
	}
	snap, err := s.readCurrent()
	if err != nil {
		return nil, fmt.Errorf("open vector store %s: %w", dir, err)
	}
	if snap != nil {
		if opts.Dim != 0 && snap.info.Dim != opts.Dim {
			return nil, fmt.Errorf("open vector store %s: %w: version %q holds %d-dimensional vectors, %d were asked for",
				dir, vector.ErrDimension, snap.info.Version, snap.info.Dim, opts.Dim)
		}
		s.dim = snap.info.Dim
		s.cur.Store(snap)
	}
	if opts.RefreshInterval > 0 {
		s.wg.Go(s.refreshLoop)
	}
	return s, nil
}

// readCurrent reads the version CURRENT names; nil when there is none.
func (s *Store) readCurrent() (*snapshot, error) {
	for attempt := 0; ; attempt++ {
		name, err := s.currentName()
		if err != nil || name == "" {
			return nil, err
		}
		d, err := readSnapshot(filepath.Join(s.dir, "versions", name))
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			continue // a loader replaced CURRENT and removed that file meanwhile
		}
		if errors.Is(err, errCorrupt) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", vector.ErrUnavailable, err)
		}
		return newSnapshot(name, d, true), nil
	}
}

func (s *Store) currentName() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "CURRENT"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v", vector.ErrUnavailable, err)
	}
	name := strings.TrimSpace(string(b))
	if name == "" || strings.ContainsAny(name, `/\`) || !strings.HasSuffix(name, ".rfv") {
		return "", corrupt("CURRENT holds %q, not a version file name", name)
	}
	return name, nil
}

// Refresh switches to the version another process loaded, if CURRENT names
// a newer one than the live one. It reports whether it switched. On error
// the live version stays.
func (s *Store) Refresh(ctx context.Context) (bool, error) {
	if s.closed.Load() {
		return false, fmt.Errorf("refresh %s: %w: store closed", s, vector.ErrUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, err := s.currentName()
	if err != nil {
		return false, fmt.Errorf("refresh %s: %w", s, err)
	}
	if cur := s.cur.Load(); name == "" || (cur != nil && cur.name == name) {
		return false, nil
	}
	snap, err := s.readCurrent()
	if err != nil || snap == nil {
		return false, err
	}
	if snap.info.Dim != s.dim {
		return false, fmt.Errorf("refresh %s: %w: version %q holds %d-dimensional vectors, this store %d",
			s, vector.ErrDimension, snap.info.Version, snap.info.Dim, s.dim)
	}
	s.cur.Store(snap)
	s.log.Info("vector store switched version", "store", s.String(), "version", snap.info.Version)
	return true, nil
}

func (s *Store) refreshLoop() {
	t := time.NewTicker(s.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.Refresh(context.Background()); err != nil && !s.closed.Load() {
				s.log.Warn("vector store refresh failed", "store", s.String(), "err", err)
			}
		}
	}
}

// String returns "file://DIR".
func (s *Store) String() string { return "file://" + filepath.ToSlash(s.dir) }

// Dim returns the dimension of the store's vectors.
func (s *Store) Dim() int { return s.dim }

func (s *Store) live(op string) (*snapshot, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("%s %s: %w: store closed", op, s, vector.ErrUnavailable)
	}
	snap := s.cur.Load()
	if snap == nil {
		return nil, fmt.Errorf("%s %s: %w", op, s, vector.ErrEmpty)
	}
	return snap, nil
}

// Version describes the live version.
func (s *Store) Version(ctx context.Context) (vector.Info, error) {
	snap, err := s.live("version of")
	if err != nil {
		return vector.Info{}, err
	}
	return snap.info, nil
}

// ItemVector returns a copy of item id's vector.
func (s *Store) ItemVector(ctx context.Context, id string) ([]float32, error) {
	snap, err := s.live("item vector from")
	if err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(snap) // the arrays may be in its mapping
	row, ok := snap.items.lookup(id)
	if !ok {
		return nil, fmt.Errorf("item %q: %w (version %q)", id, vector.ErrNotFound, snap.info.Version)
	}
	return slices.Clone(snap.items.vec(row)), nil
}

// UserVector returns a copy of user id's vector, id matched as the live
// version's user id type says.
func (s *Store) UserVector(ctx context.Context, id string) ([]float32, error) {
	snap, err := s.live("user vector from")
	if err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(snap) // the arrays may be in its mapping
	key, ok := vector.LookupID("user", snap.info.IDs.User, id)
	if !ok {
		return nil, fmt.Errorf("user %q: %w (version %q has %s user ids)", id, vector.ErrNotFound, snap.info.Version, snap.info.IDs.User)
	}
	row, ok := snap.users.lookup(key)
	if !ok {
		return nil, fmt.Errorf("user %q: %w (version %q)", id, vector.ErrNotFound, snap.info.Version)
	}
	return slices.Clone(snap.users.vec(row)), nil
}

// SearchItems returns the k items nearest to query, nearest first.
func (s *Store) SearchItems(ctx context.Context, query []float32, k int, exclude ...string) ([]vector.Hit, error) {
	snap, err := s.live("search")
	if err != nil {
		return nil, err
	}
	return s.search(snap, query, k, exclude)
}

// SimilarItems returns the k items nearest to item id, nearest first,
// skipping id and the ids in exclude. See vector.SimilarSearcher.
func (s *Store) SimilarItems(ctx context.Context, id string, k int, exclude ...string) ([]vector.Hit, error) {
	snap, err := s.live("search")
	if err != nil {
		return nil, err
	}
	row, ok := snap.items.lookup(id)
	if !ok {
		return nil, fmt.Errorf("item %q: %w (version %q)", id, vector.ErrNotFound, snap.info.Version)
	}
	excl := make([]string, 0, 1+len(exclude))
	return s.search(snap, snap.items.vec(row), k, append(append(excl, id), exclude...))
}

// SearchItemsBatch runs the queries against one version.
func (s *Store) SearchItemsBatch(ctx context.Context, queries []vector.Query) ([][]vector.Hit, error) {
	snap, err := s.live("search")
	if err != nil {
		return nil, err
	}
	out := make([][]vector.Hit, len(queries))
	for i, q := range queries {
		if out[i], err = s.search(snap, q.Vector, q.K, q.Exclude); err != nil {
			return nil, fmt.Errorf("query %d: %w", i+1, err)
		}
	}
	return out, nil
}

func (s *Store) search(snap *snapshot, query []float32, k int, exclude []string) ([]vector.Hit, error) {
	defer runtime.KeepAlive(snap) // the arrays may be in its mapping: keep it mapped until the search ends
	if err := vector.CheckVector(query, snap.info.Dim); err != nil {
		return nil, fmt.Errorf("search %s: query: %w", s, err)
	}
	if k <= 0 {
		return nil, nil
	}
	items := snap.items
	var excl []uint32
	for _, id := range exclude {
		if row, ok := items.lookup(id); ok {
			excl = append(excl, row)
		}
	}
	n := items.len()
	want := min(k+len(excl), n)
	var qbuf [64]float32
	q := normalized(qbuf[:0], query)
	var found []cand
	if snap.graph == nil || want*4 >= n {
		found = exactSearch(items, q, want)
	} else {
		sr := snap.searchers.get()
		defer snap.searchers.put(sr)
		found = sr.search(q, max(s.opts.EfSearch, want))
	}
	hits := make([]vector.Hit, 0, min(k, len(found)))
	for _, c := range found {
		if slices.Contains(excl, c.id) {
			continue
		}
		// A copy: items.ids may be in the version file's mapping.
		hits = append(hits, vector.Hit{ID: strings.Clone(items.id(c.id)), Distance: float64(clampDistance(c.d))})
		if len(hits) == k {
			break
		}
	}
	slices.SortStableFunc(hits, func(a, b vector.Hit) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), strings.Compare(a.ID, b.ID))
	})
	return hits, nil
}

// exactSearch scans every item and returns the want nearest, nearest first.
func exactSearch(t *table, q []float32, want int) []cand {
	h := make(maxHeap, 0, want+1)
	for i := range t.len() {
		row := uint32(i)
		d := 1 - dot(q, t.vec(row))*t.inv[row]
		if len(h) < want {
			h.push(cand{d, row})
		} else if d < h[0].d {
			h.replaceTop(cand{d, row})
		}
	}
	out := []cand(h)
	slices.SortFunc(out, compareCand)
	return out
}

// Load builds the new version in memory, writes it durably and makes it
// live. See vector.Store.
func (s *Store) Load(ctx context.Context, version string, items, users vector.Entries, opts ...vector.LoadOption) (vector.Info, error) {
	fail := func(err error) (vector.Info, error) {
		return vector.Info{}, fmt.Errorf("load version %q into %s: %w", version, s, err)
	}
	lo, err := vector.LoadOptionsOf(opts...)
	if err != nil {
		return fail(err)
	}
	ids := lo.IDs
	if s.closed.Load() {
		return fail(fmt.Errorf("%w: store closed", vector.ErrUnavailable))
	}
	if err := vector.CheckVersion(version); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockDir(filepath.Join(s.dir, "LOCK"))
	if err != nil {
		return fail(fmt.Errorf("%w: lock: %v", vector.ErrUnavailable, err))
	}
	defer unlock()

	start := time.Now()
	// The version's arrays live outside the Go heap (see arena) until the
	// version is dropped; a failed load frees them here.
	ar := &arena{}
	committed := false
	defer func() {
		if !committed {
			ar.release()
		}
	}()
	ib := newTableBuilder(s.dim, lo.Items, ar)
	if err := readEntries(ctx, items, s.dim, "item", ids.Item, ib.add); err != nil {
		return fail(err)
	}
	ub := newTableBuilder(s.dim, lo.Users, ar)
	if err := readEntries(ctx, users, s.dim, "user", ids.User, ub.add); err != nil {
		return fail(err)
	}
	it, err := ib.finish("item")
	if err != nil {
		return fail(err)
	}
	if it.len() == 0 {
		return fail(fmt.Errorf("%w: no item embeddings", vector.ErrEmpty))
	}
	ut, err := ub.finish("user")
	if err != nil {
		return fail(err)
	}
	d := &snapshotData{items: it, users: ut, efCons: s.opts.EfConstruction}
	if it.len() >= s.opts.ExactThreshold {
		s.log.Info("vector store: building HNSW graph", "store", s.String(), "items", it.len(),
			"m", s.opts.M, "ef_construction", s.opts.EfConstruction, "workers", s.opts.BuildWorkers)
		bs := time.Now()
		d.graph, err = buildGraph(ctx, it, hnswParams{
			m: s.opts.M, efConstruction: s.opts.EfConstruction, seed: s.opts.Seed, workers: s.opts.BuildWorkers,
			arena: ar,
		})
		if err != nil {
			return fail(err)
		}
		s.log.Info("vector store: HNSW graph built", "store", s.String(), "took", time.Since(bs).Round(time.Millisecond).String())
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	d.info = footer{
		Version: version, Dim: s.dim, Items: it.len(), Users: ut.len(),
		UserIDs: string(ids.User), ItemIDs: string(ids.Item),
		LoadedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	prev := s.cur.Load()
	name, err := s.commit(d)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", vector.ErrUnavailable, err))
	}
	d.release = ar.release
	committed = true
	snap := newSnapshot(name, d, false)
	s.cur.Store(snap)
	keep := []string{name}
	if prev != nil {
		keep = append(keep, prev.name)
	}
	s.cleanup(keep)
	s.log.Info("vector store loaded version", "store", s.String(), "version", version,
		"items", it.len(), "users", ut.len(), "graph", d.graph != nil, "took", time.Since(start).Round(time.Millisecond).String())
	return snap.info, nil
}

// readEntries checks and collects one table's entries, ids in the
// canonical form of their type.
func readEntries(ctx context.Context, seq vector.Entries, dim int, kind string, typ vector.IDType, add func(string, []float32) error) error {
	if seq == nil {
		return ctx.Err()
	}
	n := 0
	for e, err := range seq {
		if err != nil {
			return fmt.Errorf("read %s embeddings: %w", kind, err)
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := vector.CheckVector(e.Vector, dim); err != nil {
			return fmt.Errorf("%s %q: %w", kind, e.ID, err)
		}
		if e.ID == "" {
			return fmt.Errorf("%w: %s with an empty id", vector.ErrInvalid, kind)
		}
		id, err := vector.CanonicalID(kind, typ, e.ID)
		if err != nil {
			return err
		}
		if err := add(id, e.Vector); err != nil {
			return fmt.Errorf("%s %q: %w", kind, e.ID, err)
		}
	}
	return ctx.Err()
}

// commit writes d as a new version file and points CURRENT at it.
func (s *Store) commit(d *snapshotData) (string, error) {
	vdir := filepath.Join(s.dir, "versions")
	name := fmt.Sprintf("%020d-%08x.rfv", time.Now().UnixNano(), rand.Uint32())
	final := filepath.Join(vdir, name)
	tmp := final + ".tmp"
	if err := writeFileSync(tmp, func(f *os.File) error { return writeSnapshot(f, d) }); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := syncDir(vdir); err != nil {
		os.Remove(final)
		return "", err
	}
	cur := filepath.Join(s.dir, "CURRENT")
	if err := writeFileSync(cur+".tmp", func(f *os.File) error {
		_, err := f.WriteString(name + "\n")
		return err
	}); err != nil {
		os.Remove(cur + ".tmp")
		os.Remove(final)
		return "", err
	}
	if err := os.Rename(cur+".tmp", cur); err != nil {
		os.Remove(cur + ".tmp")
		os.Remove(final)
		return "", err
	}
	if err := syncDir(s.dir); err != nil {
		// CURRENT is renamed: the version is live, if not yet durable.
		s.log.Warn("vector store: sync directory failed", "dir", s.dir, "err", err)
	}
	return name, nil
}

func writeFileSync(path string, write func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// cleanup removes version files other than keep, and temporary files left
// by crashed loads more than an hour ago.
func (s *Store) cleanup(keep []string) {
	vdir := filepath.Join(s.dir, "versions")
	entries, err := os.ReadDir(vdir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".rfv") && !slices.Contains(keep, name):
		case strings.HasSuffix(name, ".tmp"):
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < time.Hour {
				continue
			}
		default:
			continue
		}
		if err := os.Remove(filepath.Join(vdir, name)); err != nil {
			s.log.Warn("vector store: remove old version file", "file", name, "err", err)
		}
	}
}

// Close stops the refresher and releases the live version. Later calls
// fail with vector.ErrUnavailable. Close is safe to repeat.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	s.cur.Store(nil)
	s.mu.Unlock()
	return nil
}
