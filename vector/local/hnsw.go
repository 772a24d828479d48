package local

// An HNSW graph (Malkov & Yashunin, "Efficient and robust approximate
// nearest neighbor search using Hierarchical Navigable Small World graphs",
// 2016/2018) over a table's vectors, by cosine distance.
//
// Layout, chosen so that the graph is written and read as a few flat arrays:
// every node has a level (levels); layer 0 holds m0 = 2m link slots per node
// in l0; a node of level L ≥ 1 also has L·m slots in up, starting at
// upOff[node], for layers 1..L. A list is filled from the front and ends at
// the first slot holding none (or at its capacity).
//
// The build inserts nodes concurrently, as hnswlib does: each node's link
// lists are guarded by that node's mutex, and the entry point by a global
// one, held for the whole insertion of a node that raises the top level.
// Levels are drawn up front from a seeded generator, so the graph's shape is
// deterministic with one worker and nearly so with several.

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

const none = math.MaxUint32

// upperEf is the candidate list size of searches in the layers above 0.
// The paper uses 1 (a greedy walk); a few more keep a query from being
// led into the wrong cluster when clusters are linked by few nodes.
var upperEf = 8

// maxLevel bounds node levels; with m ≥ 2 a level above it has a probability
// below 2⁻³¹ per node.
const maxLevelCap = 31

type graph struct {
	m, m0    int
	maxLevel int
	entry    uint32
	levels   []uint8
	upOff    []uint32
	up       []uint32
	l0       []uint32
}

// links returns the link slots of node i at level lv.
func (g *graph) links(i uint32, lv int) []uint32 {
	if lv == 0 {
		s := int(i) * g.m0
		return g.l0[s : s+g.m0 : s+g.m0]
	}
	s := int(g.upOff[i]) + (lv-1)*g.m
	return g.up[s : s+g.m : s+g.m]
}

// cand is a node with its distance to the current query.
type cand struct {
	d  float32
	id uint32
}

func compareCand(a, b cand) int {
	return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.id, b.id))
}

// minHeap and maxHeap are binary heaps of candidates by distance.
type minHeap []cand

func (h *minHeap) push(c cand) {
	*h = append(*h, c)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].d <= a[i].d {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *minHeap) pop() cand {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && a[r].d < a[l].d {
			c = r
		}
		if a[i].d <= a[c].d {
			break
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
	*h = a
	return top
}

type maxHeap []cand

func (h *maxHeap) push(c cand) {
	*h = append(*h, c)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].d >= a[i].d {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *maxHeap) pop() cand {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	*h = a
	h.down()
	return top
}

// replaceTop replaces the farthest candidate by c.
func (h *maxHeap) replaceTop(c cand) {
	(*h)[0] = c
	h.down()
}

func (h *maxHeap) down() {
	a := *h
	n := len(a)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && a[r].d > a[l].d {
			c = r
		}
		if a[i].d >= a[c].d {
			break
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
}

// searcher holds one goroutine's scratch space for graph searches.
type searcher struct {
	g     *graph
	t     *table
	locks nodeLocks // non-nil while building: read link lists under them
	// visit is a bitset of the nodes seen in this search (an eighth of a
	// MiB per million nodes, so that it stays in cache); touched lists its
	// non-zero words, cleared by reset.
	visit   []uint64
	touched []uint32
	cands   minHeap
	res     maxHeap
	out     []cand
	eps     []cand
	buf     []uint32
	batch   []uint32  // neighbours whose distances are computed together
	ds      []float32 // their distances to the query
	q       []float32
	// quant, when set, holds the quantized rows that searches walk the
	// graph with (then re-ranking with exact distances); q8 and qf are
	// the query quantized and its factor.
	quant  *quantTable
	q8     [quantDim]int8
	qf     float32
	rerank []uint32
	exact  []float32
	// scratch space of builder.link
	linkCands, linkKept []cand
}

func newSearcher(g *graph, t *table, locks nodeLocks) *searcher {
	return &searcher{g: g, t: t, locks: locks, visit: make([]uint64, (t.len()+63)/64), buf: make([]uint32, g.m0),
		batch: make([]uint32, 0, g.m0), ds: make([]float32, g.m0)}
}

func (s *searcher) reset() {
	for _, w := range s.touched {
		s.visit[w] = 0
	}
	s.touched = s.touched[:0]
}

// seen marks node i visited and reports whether it already was.
func (s *searcher) seen(i uint32) bool {
	w, bit := i>>6, uint64(1)<<(i&63)
	x := s.visit[w]
	if x&bit != 0 {
		return true
	}
	if x == 0 {
		s.touched = append(s.touched, w)
	}
	s.visit[w] = x | bit
	return false
}

// dist is the cosine distance from the unit query q to node i.
func (s *searcher) dist(q []float32, i uint32) float32 {
	return 1 - dot(q, s.t.vec(i))*s.t.inv[i]
}

// dists returns the distances from q to the nodes ids, in s.ds (valid
// until the next call): exact, or from the quantized rows when s.quant is
// set (q must then be the query s.q8 was made from).
func (s *searcher) dists(q []float32, ids []uint32) []float32 {
	if len(ids) > cap(s.ds) {
		s.ds = make([]float32, len(ids))
	}
	if s.quant != nil {
		ds := dotsQ(s.q8[:], s.quant, ids, s.ds)
		for k := range ds {
			ds[k] = 1 - ds[k]*s.qf
		}
		return ds
	}
	ds := dots(q, s.t.vecs, ids, s.ds)
	for k, e := range ids {
		ds[k] = 1 - ds[k]*s.t.inv[e]
	}
	return ds
}

// neighbours returns node i's links at level lv: the slots themselves when
// the graph is read-only, a copy taken under i's lock while it is built.
func (s *searcher) neighbours(i uint32, lv int) []uint32 {
	l := s.g.links(i, lv)
	if s.locks == nil {
		return l
	}
	b := s.buf[:0]
	s.locks.of(i).Lock()
	for _, e := range l {
		if e == none {
			break
		}
		b = append(b, e)
	}
	s.locks.of(i).Unlock()
	return b
}

// greedy walks level lv from ep towards q, one best neighbour at a time.
func (s *searcher) greedy(q []float32, ep uint32, epd float32, lv int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		for _, e := range s.neighbours(ep, lv) {
			if e == none {
				break
			}
			if d := s.dist(q, e); d < epd {
				ep, epd, changed = e, d, true
			}
		}
	}
	return ep, epd
}

// searchLayer is the paper's SEARCH-LAYER: the ef nodes of level lv nearest
// to q reachable from eps, nearest first, in s.out.
func (s *searcher) searchLayer(q []float32, eps []cand, ef, lv int) []cand {
	s.reset()
	s.cands, s.res = s.cands[:0], s.res[:0]
	for _, e := range eps {
		if s.seen(e.id) {
			continue
		}
		s.cands.push(e)
		s.res.push(e)
		if len(s.res) > ef {
			s.res.pop()
		}
	}
	for len(s.cands) > 0 {
		c := s.cands.pop()
		if len(s.res) >= ef && c.d > s.res[0].d {
			break
		}
		if lv == 0 && len(s.cands) > 0 {
			// The next candidate is likely expanded next: fetch its links
			// while this one's are scored.
			prefetch2(&s.g.l0[int(s.cands[0].id)*s.g.m0])
		}
		// The unvisited neighbours' distances in one batch, so that their
		// rows are fetched from memory in parallel.
		ids := s.batch[:0]
		for _, e := range s.neighbours(c.id, lv) {
			if e == none {
				break
			}
			if s.seen(e) {
				continue
			}
			ids = append(ids, e)
		}
		s.batch = ids
		ds := s.dists(q, ids)
		for k, e := range ids {
			d := ds[k]
			if len(s.res) < ef || d < s.res[0].d {
				s.cands.push(cand{d, e})
				s.res.push(cand{d, e})
				if len(s.res) > ef {
					s.res.pop()
				}
			}
		}
	}
	// Popping the max-heap yields the farthest first: fill from the back.
	n := len(s.res)
	s.out = slices.Grow(s.out[:0], n)[:n]
	for i := n - 1; i >= 0; i-- {
		s.out[i] = s.res.pop()
	}
	return s.out
}

// search returns the ef nodes nearest to the unit vector q, nearest first.
// The result is s.out, valid until the next search.
func (s *searcher) search(q []float32, ef int) []cand {
	g := s.g
	ep := g.entry
	if s.quant != nil {
		s.qf = quantizeQuery(s.q8[:], q)
	}
	s.batch = append(s.batch[:0], ep)
	s.eps = append(s.eps[:0], cand{s.dists(q, s.batch)[0], ep})
	for lv := g.maxLevel; lv > 0; lv-- {
		w := s.searchLayer(q, s.eps, upperEf, lv)
		s.eps = append(s.eps[:0], w...)
	}
	out := s.searchLayer(q, s.eps, ef, 0)
	if s.quant == nil {
		return out
	}
	// Re-rank the candidates by their exact distances.
	s.rerank = s.rerank[:0]
	for _, c := range out {
		s.rerank = append(s.rerank, c.id)
	}
	s.exact = slices.Grow(s.exact[:0], len(out))[:len(out)]
	ds := dots(q, s.t.vecs, s.rerank, s.exact)
	for k := range out {
		out[k].d = 1 - ds[k]*s.t.inv[out[k].id]
	}
	slices.SortFunc(out, compareCand)
	return out
}

// hnswParams tune a build.
type hnswParams struct {
	m              int
	efConstruction int
	seed           uint64
	workers        int
	arena          *arena // where the graph's arrays go (nil: the heap)
	// serial is how many first nodes one worker inserts before the others
	// join (0: serialNodes).
	serial int
}

// serialNodes is how many first nodes a build inserts on one worker. Nodes
// inserted at the same time do not see each other, which costs little in a
// large graph but much in a small one, where two concurrent inserts are
// often neighbours: on 600 clustered vectors two workers gave recall@10 of
// 0.972–1.000 from one build to the next, one worker 1.000 every time. So
// graphs up to this size are built the same way every time, and a large
// build only starts its workers on a graph that already has a shape (4,096
// nodes are ≈ 0.4 % of a million-node build).
const serialNodes = 4096

// nodeLocks guard the nodes' link lists while a graph is built: node i's
// list is read and written under of(i). There are at most maxNodeLocks of
// them, shared by the nodes whose numbers agree in the low bits, so that
// their memory does not grow with the graph (one lock a node took 8 MiB at
// a million nodes); no code holds two at once, so sharing cannot deadlock,
// and with a few workers two inserts rarely want the same one.
type nodeLocks []sync.Mutex

// maxNodeLocks bounds a build's locks (512 KiB of them).
const maxNodeLocks = 1 << 16

// newNodeLocks returns the locks of an n-node build: a power of two, at
// most maxNodeLocks.
func newNodeLocks(n int) nodeLocks {
	k := 1
	for k < n && k < maxNodeLocks {
		k <<= 1
	}
	return make(nodeLocks, k)
}

// of returns the lock of node i's link lists.
func (l nodeLocks) of(i uint32) *sync.Mutex { return &l[i&uint32(len(l)-1)] }

// builder inserts nodes into a graph under construction.
type builder struct {
	g      *graph
	t      *table
	efc    int
	locks  nodeLocks
	global sync.Mutex // guards g.entry and g.maxLevel
}

// buildGraph builds the HNSW graph of t. It stops early with ctx's error.
func buildGraph(ctx context.Context, t *table, p hnswParams) (*graph, error) {
	n := t.len()
	g := &graph{m: p.m, m0: 2 * p.m, levels: arenaSlice[uint8](p.arena, n), upOff: arenaSlice[uint32](p.arena, n)}
	rng := rand.New(rand.NewPCG(p.seed, 0x9e3779b97f4a7c15))
	ml := 1 / math.Log(float64(p.m))
	slots := 0
	for i := range n {
		lv := int(-math.Log(1-rng.Float64()) * ml)
		lv = min(lv, maxLevelCap)
		g.levels[i] = uint8(lv)
		g.upOff[i] = uint32(slots)
		slots += lv * g.m
	}
	g.up = arenaSlice[uint32](p.arena, slots)
	g.l0 = arenaSlice[uint32](p.arena, n*g.m0)
	for i := range g.up {
		g.up[i] = none
	}
	for i := range g.l0 {
		g.l0[i] = none
	}
	g.entry, g.maxLevel = 0, int(g.levels[0])
	if n == 1 {
		return g, nil
	}

	b := &builder{g: g, t: t, efc: max(p.efConstruction, p.m), locks: newNodeLocks(n)}
	serial := p.serial
	if serial <= 0 {
		serial = serialNodes
	}
	serial = min(serial, n)
	first := newSearcher(g, t, b.locks)
	for i := 1; i < serial; i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.insert(first, uint32(i))
	}
	workers := max(1, min(p.workers, n-serial))
	var next atomic.Uint64
	next.Store(uint64(max(serial, 1)))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			s := newSearcher(g, t, b.locks)
			for !stop.Load() {
				i := next.Add(1) - 1
				if i >= uint64(n) {
					return
				}
				if i%1024 == 0 && ctx.Err() != nil {
					stop.Store(true)
					return
				}
				b.insert(s, uint32(i))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return g, nil
}

func (b *builder) insert(s *searcher, i uint32) {
	g, t := b.g, b.t
	lv := int(g.levels[i])
	b.global.Lock()
	ep, top := g.entry, g.maxLevel
	raises := lv > top
	if !raises {
		b.global.Unlock()
	}
	q := normalized(s.q, t.vec(i))
	s.q = q
	epd := s.dist(q, ep)
	for l := top; l > lv; l-- {
		ep, epd = s.greedy(q, ep, epd, l)
	}
	eps := append(s.eps[:0], cand{epd, ep})
	var sel []cand
	for l := min(lv, top); l >= 0; l-- {
		w := s.searchLayer(q, eps, b.efc, l)
		sel = b.selectNeighbours(sel[:0], w, g.m)
		b.locks.of(i).Lock()
		own := g.links(i, l)
		for j := range own {
			if j < len(sel) {
				own[j] = sel[j].id
			} else {
				own[j] = none
			}
		}
		b.locks.of(i).Unlock()
		capacity := g.m
		if l == 0 {
			capacity = g.m0
		}
		for _, c := range sel {
			b.link(s, c.id, i, c.d, l, capacity)
		}
		eps = append(eps[:0], w...)
	}
	s.eps = eps
	if raises {
		g.entry, g.maxLevel = i, lv
		b.global.Unlock()
	}
}

// nodeDist is the cosine distance between nodes a and b.
func (b *builder) nodeDist(a, c uint32) float32 {
	t := b.t
	return 1 - dot(t.vec(a), t.vec(c))*t.inv[a]*t.inv[c]
}

// selectNeighbours is the paper's heuristic (algorithm 4, without extending
// or keeping pruned candidates): walking w nearest first, keep a candidate
// only if it is nearer to the base than to every candidate kept so far. It
// spreads links across directions, which keeps clusters connected.
func (b *builder) selectNeighbours(dst, w []cand, m int) []cand {
	if len(w) <= m {
		return append(dst, w...)
	}
	for _, c := range w {
		if len(dst) >= m {
			break
		}
		keep := true
		for _, r := range dst {
			if b.nodeDist(c.id, r.id) < c.d {
				keep = false
				break
			}
		}
		if keep {
			dst = append(dst, c)
		}
	}
	return dst
}

// link adds i (at distance d) to node n's list at level l, shrinking the
// list with the heuristic when it is full.
func (b *builder) link(s *searcher, n, i uint32, d float32, l, capacity int) {
	mu := b.locks.of(n)
	mu.Lock()
	defer mu.Unlock()
	list := b.g.links(n, l)
	k := 0
	for k < len(list) && list[k] != none {
		if list[k] == i {
			return
		}
		k++
	}
	if k < capacity {
		list[k] = i
		return
	}
	cands := append(s.linkCands[:0], cand{d, i})
	for _, e := range list {
		cands = append(cands, cand{b.nodeDist(n, e), e})
	}
	slices.SortFunc(cands, compareCand)
	kept := b.selectNeighbours(s.linkKept[:0], cands, capacity)
	s.linkCands, s.linkKept = cands, kept
	for j := range list {
		if j < len(kept) {
			list[j] = kept[j].id
		} else {
			list[j] = none
		}
	}
}
