package seed

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/source"
)

// SpecOptions size a dataset generated for a dataset spec (GeneratedFor).
// Zero sizes take the defaults of GenOptions: Users, Items and
// Interactions play the parts of Customers, Products and Ratings, and a
// *SizeError names them that way ("customers", "products", "ratings"), as
// the seed command's flags do.
type SpecOptions struct {
	Users        int
	Items        int
	Interactions int
	Seed         uint64
	// Shape is the structure beyond the features, as for Generated; nil
	// means DefaultShape().
	Shape *Shape
	Options
}

func (o SpecOptions) gen() GenOptions {
	return GenOptions{Customers: o.Users, Products: o.Items, Ratings: o.Interactions, Seed: o.Seed, Shape: o.Shape, Options: o.Options}
}

// WithDefaults returns o with zero sizes filled in and checked, as
// GenOptions.WithDefaults does.
func (o SpecOptions) WithDefaults() (SpecOptions, error) {
	g, err := o.gen().WithDefaults()
	if err != nil {
		return o, err
	}
	o.Users, o.Items, o.Interactions, o.Shape = g.Customers, g.Products, g.Ratings, g.Shape
	return o, nil
}

// IsClassic reports whether s is the built-in classicmodels spec (with
// every default filled, as Parse returns it).
func IsClassic(s *dataset.Spec) bool {
	c := dataset.Classic()
	a, err1 := dataset.Marshal(s)
	b, err2 := dataset.Marshal(&c)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// GeneratedFor creates the tables of spec s in db — its users, items and
// interactions tables, with the column types SpecTables gives — and fills
// them with a generated dataset of the requested size, deterministic from
// o.Seed: the same spec and options give the same rows on every run and
// backend.
//
// For the built-in classicmodels spec (IsClassic) it is Generated: the
// lab's nine tables, the same rows for the same seed.
//
// Otherwise every user and item gets values for each feature of the spec by
// its kind (see SpecTables), ids of the declared id type, and a hidden
// content vector that its feature values determine; an interaction's
// strength follows the fit of the user's and the item's content vectors
// (what a model learns from the features), the item's own appeal, a latent
// taste of the user for the item that only the ids reveal (Shape's
// LatentWeight), a per-user bias and noise. Which items a user interacts
// with follows a long-tailed popularity and the user's taste (Shape's
// PopularitySkew and SelectionBias), as in Generated. The strength becomes
// the spec's feedback: a rating on the explicit scale, a quantity (1 and
// up), an event type of the weights (heavier events for stronger
// interactions), or nothing for count feedback. A declared timestamp is a
// date in 2024–2025.
//
// A spec whose interactions come from a query is refused: there is no
// table to create. A source that already holds any of the three tables is
// refused with a *NotEmptyError naming them unless o.Replace; a run that
// fails, or is cancelled, drops the tables it created.
func GeneratedFor(ctx context.Context, db *source.DB, s *dataset.Spec, o SpecOptions) (Stats, error) {
	d := s.WithDefaults()
	s = &d
	if IsClassic(s) {
		return Generated(ctx, db, o.gen())
	}
	o, err := o.WithDefaults()
	if err != nil {
		return Stats{}, err
	}
	tables, err := SpecTables(s)
	if err != nil {
		return Stats{}, err
	}
	g := newSpecGen(s, o)
	plan := []tableLoad{
		{table: tables[0].Name, rows: g.userRows, count: int64(g.users)},
		{table: tables[1].Name, rows: g.itemRows, count: int64(len(g.items))},
		{table: tables[2].Name, rows: g.interactionRows, count: int64(g.interactions)},
	}
	return runTables(ctx, db, o.Options, tables, plan)
}

// Column types of generated spec tables. Every one passes dataset.Check
// for the use the spec declares, on SQLite and MySQL/MariaDB.
const (
	stringIDSize    = 36  // VARCHAR(36): ids like "3f2a9c1e-77d0" (users) or "SKU-00A1B2" (items)
	categoricalSize = 50  // VARCHAR(50)
	multiSize       = 200 // VARCHAR(200): up to three categories and their delimiters
	passthroughSize = 50  // VARCHAR(50), nullable
	weightSize      = 50  // VARCHAR(50): the event type
)

// SpecTables returns the tables GeneratedFor creates for s, in creation
// order: users, items, interactions. The column types are chosen for the
// spec's declared uses:
//
//	id (string)               VARCHAR(36)
//	id (integer)              INT
//	categorical               VARCHAR(50)
//	multi_categorical         VARCHAR(200)
//	numeric                   DECIMAL(12,2); SMALLINT when the name says a year or an age
//	text                      TEXT
//	passthrough               VARCHAR(50), nullable
//	interactions keys         the type of the id they join, with foreign keys to it
//	explicit feedback         INT for a scale of whole numbers, else DECIMAL(8,2)
//	quantity feedback         INT
//	weight feedback           VARCHAR(50), the event type
//	timestamp                 DATE
//
// The interactions' primary key is (user key, item key): a user interacts
// with an item at most once. Every other column is NOT NULL.
func SpecTables(s *dataset.Spec) ([]source.Table, error) {
	in := &s.Interactions
	if in.Table == "" {
		return nil, fmt.Errorf("dataset spec %s: its interactions come from a query (interactions.query); seed generates tables, so the spec must name interactions.table", s.Name)
	}
	names := map[string]string{}
	for _, t := range []struct{ key, name string }{{"users.table", s.Users.Table}, {"items.table", s.Items.Table}, {"interactions.table", in.Table}} {
		if prev, dup := names[strings.ToLower(t.name)]; dup {
			return nil, fmt.Errorf("dataset spec %s: %s and %s are both table %q; seed generates three distinct tables", s.Name, prev, t.key, t.name)
		}
		names[strings.ToLower(t.name)] = t.key
	}
	idCol := func(name, idType string) source.Column {
		if idType == dataset.IDInteger {
			return source.Column{Name: name, Type: source.Int}
		}
		return source.Column{Name: name, Type: source.VarChar, Size: stringIDSize}
	}
	entity := func(side string, e *dataset.Entity) (source.Table, error) {
		t := source.Table{Name: e.Table, PrimaryKey: []string{e.ID}}
		t.Columns = append(t.Columns, idCol(e.ID, e.IDType))
		for _, f := range e.Features {
			c := source.Column{Name: f.Column}
			switch f.Kind {
			case dataset.KindCategorical:
				c.Type, c.Size = source.VarChar, categoricalSize
			case dataset.KindMultiCategorical:
				c.Type, c.Size = source.VarChar, multiSize
			case dataset.KindNumeric:
				if numericKind(f.Column) == numAmount {
					c.Type, c.Size, c.Scale = source.Decimal, 12, 2
				} else {
					c.Type = source.SmallInt
				}
			case dataset.KindText:
				c.Type = source.Text
			default:
				return t, fmt.Errorf("dataset spec %s: %s feature %s has unknown kind %q", s.Name, side, f.Column, f.Kind)
			}
			t.Columns = append(t.Columns, c)
		}
		for _, p := range e.Passthrough {
			t.Columns = append(t.Columns, source.Column{Name: p, Type: source.VarChar, Size: passthroughSize, Nullable: true})
		}
		return t, distinctColumns(s.Name, &t)
	}
	users, err := entity("users", &s.Users)
	if err != nil {
		return nil, err
	}
	items, err := entity("items", &s.Items)
	if err != nil {
		return nil, err
	}
	inter := source.Table{
		Name:       in.Table,
		Columns:    []source.Column{idCol(in.UserKey, s.Users.IDType), idCol(in.ItemKey, s.Items.IDType)},
		PrimaryKey: []string{in.UserKey, in.ItemKey},
		Indexes:    [][]string{{in.ItemKey}},
		ForeignKeys: []source.ForeignKey{
			{Columns: []string{in.UserKey}, Ref: s.Users.Table, RefColumns: []string{s.Users.ID}},
			{Columns: []string{in.ItemKey}, Ref: s.Items.Table, RefColumns: []string{s.Items.ID}},
		},
	}
	fb := in.Feedback
	switch fb.Kind {
	case dataset.FeedbackExplicit:
		c := source.Column{Name: fb.Column, Type: source.Int}
		if fb.Scale == nil || !integralScale(fb.Scale) {
			c.Type, c.Size, c.Scale = source.Decimal, 8, 2
		}
		inter.Columns = append(inter.Columns, c)
	case dataset.FeedbackQuantity:
		inter.Columns = append(inter.Columns, source.Column{Name: fb.Column, Type: source.Int})
	case dataset.FeedbackWeight:
		if len(fb.Weights) == 0 {
			return nil, fmt.Errorf("dataset spec %s: weight feedback without weights (interactions.feedback.weights)", s.Name)
		}
		inter.Columns = append(inter.Columns, source.Column{Name: fb.Column, Type: source.VarChar, Size: weightSize})
	case dataset.FeedbackCount:
	default:
		return nil, fmt.Errorf("dataset spec %s: unknown feedback kind %q", s.Name, fb.Kind)
	}
	if in.Timestamp != "" {
		inter.Columns = append(inter.Columns, source.Column{Name: in.Timestamp, Type: source.Date})
	}
	if err := distinctColumns(s.Name, &inter); err != nil {
		return nil, err
	}
	return []source.Table{users, items, inter}, nil
}

func integralScale(sc *dataset.Scale) bool {
	return sc.Min == math.Trunc(sc.Min) && sc.Max == math.Trunc(sc.Max) && math.Abs(sc.Min) < 1e9 && math.Abs(sc.Max) < 1e9
}

func distinctColumns(spec string, t *source.Table) error {
	seen := map[string]bool{}
	for _, c := range t.Columns {
		k := strings.ToLower(c.Name)
		if seen[k] {
			return fmt.Errorf("dataset spec %s: table %q would have column %q twice; seed needs each column of a table to have one use", spec, t.Name, c.Name)
		}
		seen[k] = true
	}
	return nil
}

// runTables creates tables in db, in order, and fills them from plan
// (one load per table, in the same order). It refuses a source holding any
// of them unless opts.Replace, and drops what it created on failure.
func runTables(ctx context.Context, db *source.DB, opts Options, tables []source.Table, plan []tableLoad) (Stats, error) {
	start := time.Now()
	reverse := make([]string, len(tables))
	for i, t := range tables {
		reverse[len(tables)-1-i] = t.Name
	}
	existing, err := existingTables(ctx, db, tables)
	if err != nil {
		return Stats{}, err
	}
	if len(existing) > 0 {
		if !opts.Replace {
			return Stats{}, &NotEmptyError{Source: db.String(), Tables: existing}
		}
		drop := make([]string, 0, len(existing))
		for _, name := range reverse { // referencing tables first
			for _, e := range existing {
				if strings.EqualFold(e.Table, name) {
					drop = append(drop, e.Table)
				}
			}
		}
		if err := dropTables(ctx, db, drop); err != nil {
			return Stats{}, err
		}
	}
	if err := db.CreateTables(ctx, tables); err != nil {
		dropTablesQuietly(ctx, db, reverse)
		return Stats{}, err
	}
	var total int64
	for _, p := range plan {
		total += p.count
	}
	prog := &progress{fn: opts.Progress, total: total}
	var stats Stats
	for i := range tables {
		t0 := time.Now()
		n, err := db.Dialect.Load(ctx, db.SQL, &tables[i], prog.count(plan[i].rows))
		if err == nil && n != plan[i].count {
			err = fmt.Errorf("stored %d rows, want %d", n, plan[i].count)
		}
		if err != nil {
			dropTablesQuietly(ctx, db, reverse)
			if ctx.Err() != nil {
				return Stats{}, fmt.Errorf("seed cancelled while loading %s (tables dropped): %w", tables[i].Name, ctx.Err())
			}
			return Stats{}, fmt.Errorf("load %s into %s: %w (the seeded tables were dropped)", tables[i].Name, db, err)
		}
		stats.Tables = append(stats.Tables, TableStats{Table: tables[i].Name, Rows: n, Elapsed: time.Since(t0)})
		stats.Rows += n
	}
	prog.report()
	stats.Elapsed = time.Since(start)
	return stats, nil
}

// existingTables returns, for each of tables present in db (names matched
// case-insensitively, as MySQL may), its name there and its row count.
func existingTables(ctx context.Context, db *source.DB, tables []source.Table) ([]source.TableCount, error) {
	names, err := db.TableNames(ctx)
	if err != nil {
		return nil, err
	}
	var out []source.TableCount
	for _, t := range tables {
		for _, n := range names {
			if !strings.EqualFold(n, t.Name) {
				continue
			}
			var rows int64
			if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db.Quote(n)).Scan(&rows); err != nil {
				return nil, fmt.Errorf("count rows of %s in %s: %w", n, db, err)
			}
			out = append(out, source.TableCount{Table: n, Rows: rows})
			break
		}
	}
	return out, nil
}

// dropTables drops the named tables that exist, in order, quoting each name.
func dropTables(ctx context.Context, db *source.DB, names []string) error {
	for _, n := range names {
		if _, err := db.SQL.ExecContext(ctx, "DROP TABLE IF EXISTS "+db.Quote(n)); err != nil {
			return fmt.Errorf("drop table %s in %s: %w", n, db, err)
		}
	}
	return nil
}

// dropTablesQuietly removes the tables of a failed run, best effort, even
// when ctx is cancelled.
func dropTablesQuietly(ctx context.Context, db *source.DB, names []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = dropTables(ctx, db, names)
}

// contentDims is the size of the hidden content vector a user's or an
// item's feature values determine.
const contentDims = 4

// Streams of the spec generator, apart from Generated's.
const (
	streamSpecUser = iota + 101
	streamSpecItems
	streamSpecHidden
	streamSpecInteractions
	streamSpecLatent
	streamSpecPopularity
	streamSpecMeta
)

// specGen produces the rows of a dataset generated for a spec. A user is a
// pure function of (seed, index), so the users and interactions passes
// agree without keeping users in memory; items are held in memory (at most
// MaxProducts).
type specGen struct {
	s            *dataset.Spec
	seed         uint64
	shape        Shape
	users        int
	interactions uint64
	userSide     sideGen
	itemSide     sideGen
	items        []specItem
	itemMain     [contentDims]float64 // how an item's content adds to its appeal
	events       []string             // weight feedback: event types, lightest first

	spread      uint64
	totalWeight uint64
}

// sideGen generates the features of one side (users or items).
type sideGen struct {
	e     *dataset.Entity
	feats []featGen
}

// featGen generates one feature's values.
type featGen struct {
	f       dataset.Feature
	vocab   []string
	cum     []float64 // cumulative skewed weights of vocab
	hidden  [][contentDims]float64
	numKind int
	median  float64
	dir     [contentDims]float64 // a numeric feature's direction in content space
}

type specItem struct {
	row     []any
	id      any
	content [contentDims]float64
	latent  [LatentDims]float64
	appeal  float64
	logPop  float64
}

func (g *specGen) rng(stream, i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, splitmix(stream<<56^i)))
}

func newSpecGen(s *dataset.Spec, o SpecOptions) *specGen {
	g := &specGen{s: s, seed: o.Seed, shape: *o.Shape, users: o.Users, interactions: uint64(o.Interactions)}
	g.userSide = g.newSide(0, &s.Users)
	g.itemSide = g.newSide(1, &s.Items)
	r := g.rng(streamSpecHidden, 1<<40)
	for d := range contentDims {
		g.itemMain[d] = r.NormFloat64()
	}
	if s.Interactions.Feedback.Kind == dataset.FeedbackWeight {
		for e := range s.Interactions.Feedback.Weights {
			g.events = append(g.events, e)
		}
		w := s.Interactions.Feedback.Weights
		sort.Slice(g.events, func(i, j int) bool {
			a, b := g.events[i], g.events[j]
			return w[a] < w[b] || w[a] == w[b] && a < b
		})
	}
	g.makeItems(o.Items)

	// How unequal users are: leave every user room to choose among the
	// items (the same rule as Generated, without idle users).
	p := float64(len(g.items))
	avg := float64(g.interactions) / float64(g.users)
	if p-avg >= 10 {
		g.spread = uint64(1000 * min(0.8, 0.9*(p/avg-1)))
	}
	for i := range g.users {
		g.totalWeight += g.weight(i)
	}
	return g
}

func (g *specGen) newSide(side uint64, e *dataset.Entity) sideGen {
	sg := sideGen{e: e}
	for fi, f := range e.Features {
		fg := featGen{f: f}
		r := g.rng(streamSpecHidden, side<<32|uint64(fi))
		switch f.Kind {
		case dataset.KindCategorical, dataset.KindMultiCategorical:
			fg.vocab = slices.Clone(specVocab(f.Column))
			r.Shuffle(len(fg.vocab), func(i, j int) { fg.vocab[i], fg.vocab[j] = fg.vocab[j], fg.vocab[i] })
			// Zipf-like skew: the k-th category has weight 1/(k+1)^0.9.
			var c float64
			for k := range fg.vocab {
				c += math.Pow(float64(k+1), -0.9)
				fg.cum = append(fg.cum, c)
			}
			fg.hidden = make([][contentDims]float64, len(fg.vocab))
			for k := range fg.hidden {
				for d := range contentDims {
					fg.hidden[k][d] = r.NormFloat64()
				}
			}
		case dataset.KindNumeric:
			fg.numKind, fg.median = numericKind(f.Column), numericMedian(f.Column)
			for d := range contentDims {
				fg.dir[d] = r.NormFloat64()
			}
		}
		sg.feats = append(sg.feats, fg)
	}
	return sg
}

// pick draws a category index with the feature's skew.
func (fg *featGen) pick(r *rand.Rand) int {
	x := r.Float64() * fg.cum[len(fg.cum)-1]
	k, _ := slices.BinarySearch(fg.cum, x)
	return min(k, len(fg.cum)-1)
}

// values fills row (after the id) with one entity's feature and
// passthrough values and returns its content vector.
func (sg *sideGen) values(r *rand.Rand, row []any) (content [contentDims]float64) {
	var contributing int
	for fi := range sg.feats {
		fg := &sg.feats[fi]
		var v [contentDims]float64
		switch fg.f.Kind {
		case dataset.KindCategorical:
			k := fg.pick(r)
			row[fi] = fg.vocab[k]
			v = fg.hidden[k]
			contributing++
		case dataset.KindMultiCategorical:
			n := 1 + r.IntN(3)
			var ks []int
			for range n + 2 { // a few tries for distinct categories
				if k := fg.pick(r); !slices.Contains(ks, k) {
					ks = append(ks, k)
				}
				if len(ks) == n {
					break
				}
			}
			slices.Sort(ks)
			parts := make([]string, len(ks))
			for i, k := range ks {
				parts[i] = fg.vocab[k]
				for d := range contentDims {
					v[d] += fg.hidden[k][d] / float64(len(ks))
				}
			}
			delim := fg.f.Delimiter
			if delim == "" {
				delim = dataset.DefaultDelimiter
			}
			row[fi] = strings.Join(parts, delim)
			contributing++
		case dataset.KindNumeric:
			z := r.NormFloat64()
			switch fg.numKind {
			case numYear:
				row[fi] = int64(min(max(2025-math.Abs(z)*14, 1950), 2025))
			case numAge:
				row[fi] = int64(min(max(38+13*z, 16), 90))
			default:
				c := int64(math.Round(fg.median * math.Exp(0.6*z) * 100))
				row[fi] = cents(max(c, 1))
			}
			for d := range contentDims {
				v[d] = z * fg.dir[d]
			}
			contributing++
		case dataset.KindText:
			n := 4 + r.IntN(9)
			words := make([]string, n)
			for i := range words {
				words[i] = specText[r.IntN(len(specText))]
			}
			s := strings.Join(words, " ") + "."
			row[fi] = strings.ToUpper(s[:1]) + s[1:]
		}
		for d := range contentDims {
			content[d] += v[d]
		}
	}
	if contributing > 0 {
		for d := range contentDims {
			content[d] /= math.Sqrt(float64(contributing))
		}
	}
	for pi := range sg.e.Passthrough {
		i := len(sg.feats) + pi
		if r.IntN(10) == 0 {
			row[i] = nil
		} else {
			row[i] = fmt.Sprintf("%05d", r.IntN(100000))
		}
	}
	return content
}

// permute24 and permute32 are bijections of the 24- and 32-bit integers,
// keyed by the seed, so ids made from them are unique and look random.
func permute32(x uint32, key uint64) uint32 {
	x ^= uint32(key)
	x *= 0x9E3779B1
	x ^= x >> 16
	x *= 0x85EBCA6B
	x ^= x >> 13
	x ^= uint32(key >> 32)
	return x
}

func permute24(x uint32, key uint64) uint32 {
	const mask = 1<<24 - 1
	x = (x ^ uint32(key)) & mask
	x = (x * 0x9E3779) & mask // odd: a bijection mod 2^24
	x ^= x >> 12
	x = (x * 0x85EBCB) & mask
	x ^= x >> 11
	return x
}

// userID is user i's id: increasing integers with gaps, or strings like
// "3f2a9c1e-77d0".
func (g *specGen) userID(i int, h uint64) any {
	if g.s.Users.IDType == dataset.IDInteger {
		return 1000 + 3*int64(i) + int64(h%3)
	}
	return fmt.Sprintf("%08x-%04x", permute32(uint32(i), g.seed), h>>48)
}

// itemID is item j's id: increasing integers with gaps, or SKUs like
// "SKU-00A1B2".
func (g *specGen) itemID(j int, h uint64) any {
	if g.s.Items.IDType == dataset.IDInteger {
		return 1 + 2*int64(j) + int64(h%2)
	}
	return fmt.Sprintf("SKU-%06X", permute24(uint32(j), g.seed))
}

func (g *specGen) makeItems(n int) {
	r := g.rng(streamSpecItems, 0)
	width := 1 + len(g.s.Items.Features) + len(g.s.Items.Passthrough)
	g.items = make([]specItem, n)
	for j := range g.items {
		it := &g.items[j]
		it.row = make([]any, width)
		it.id = g.itemID(j, r.Uint64())
		it.row[0] = it.id
		it.content = g.itemSide.values(r, it.row[1:])
		var main float64
		for d := range contentDims {
			main += it.content[d] * g.itemMain[d]
		}
		it.appeal = 0.3*main/math.Sqrt(contentDims) + 0.25*r.NormFloat64()
	}
	lr := g.rng(streamSpecLatent, 0)
	for j := range g.items {
		g.items[j].latent = latentDraw(lr)
	}
	logPop := logPopularity(g.rng(streamSpecPopularity, 0), n, g.shape.PopularitySkew)
	for j := range g.items {
		g.items[j].logPop = logPop[j]
	}
}

// specUser is one generated user.
type specUser struct {
	row     []any
	id      any
	content [contentDims]float64
	latent  [LatentDims]float64
}

func (g *specGen) meta(i int) uint64 {
	return splitmix(g.seed ^ splitmix(streamSpecMeta<<56^uint64(i)))
}

func (g *specGen) weight(i int) uint64 {
	h := g.meta(i)
	return 1000 - g.spread + (h>>16)%(2*g.spread+1)
}

func (g *specGen) user(i int, row []any) specUser {
	r := g.rng(streamSpecUser, uint64(i))
	u := specUser{row: row, id: g.userID(i, r.Uint64())}
	row[0] = u.id
	u.content = g.userSide.values(r, row[1:])
	u.latent = latentDraw(g.rng(streamSpecLatent, 1+uint64(i)))
	return u
}

func (g *specGen) userRows(yield func([]any, error) bool) {
	row := make([]any, 1+len(g.s.Users.Features)+len(g.s.Users.Passthrough))
	for i := range g.users {
		g.user(i, row)
		if !yield(row, nil) {
			return
		}
	}
}

func (g *specGen) itemRows(yield func([]any, error) bool) {
	for j := range g.items {
		if !yield(g.items[j].row, nil) {
			return
		}
	}
}

// expected is the strength of u's interaction with item it before the
// user's bias and the noise, in standard units: the fit of their contents,
// the item's appeal and u's latent taste for it.
func (g *specGen) expected(u *specUser, it *specItem) float64 {
	var fit float64
	for d := range contentDims {
		fit += u.content[d] * it.content[d]
	}
	e := 0.8*fit/math.Sqrt(contentDims) + it.appeal
	if g.shape.LatentWeight != 0 {
		e += latentTaste(g.shape.LatentWeight, &u.latent, &it.latent)
	}
	return e
}

var specEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (g *specGen) interactionRows(yield func([]any, error) bool) {
	in := &g.s.Interactions
	width := 2
	if in.Feedback.Kind != dataset.FeedbackCount {
		width++
	}
	if in.Timestamp != "" {
		width++
	}
	out := make([]any, width)
	urow := make([]any, 1+len(g.s.Users.Features)+len(g.s.Users.Passthrough))
	nItems := len(g.items)
	var keys []keyed
	var chosen []int
	var cum, emitted uint64
	for i := range g.users {
		cum += g.weight(i)
		hi, lo := bits.Mul64(g.interactions, cum)
		target, _ := bits.Div64(hi, lo, g.totalWeight)
		k := min(int(target-emitted), nItems)
		if k == 0 {
			continue
		}
		emitted += uint64(k)
		u := g.user(i, urow)
		r := g.rng(streamSpecInteractions, uint64(i))
		bias := 0.35 * r.NormFloat64()

		// Choose k distinct items: the k largest of log popularity +
		// selection bias · expected strength + Gumbel noise (weighted
		// sampling without replacement, as Generated does).
		keys = keys[:0]
		for j := range g.items {
			it := &g.items[j]
			w := it.logPop
			if g.shape.SelectionBias != 0 {
				w += g.shape.SelectionBias * g.expected(&u, it)
			}
			kj := keyed{j, w - math.Log(-math.Log(1-r.Float64()))}
			if len(keys) < k {
				keys = append(keys, kj)
				siftUp(keys, len(keys)-1)
			} else if worse(keys[0], kj) {
				keys[0] = kj
				siftDown(keys, 0)
			}
		}
		chosen = chosen[:0]
		for _, kj := range keys {
			chosen = append(chosen, kj.j)
		}
		slices.Sort(chosen)
		for _, j := range chosen {
			it := &g.items[j]
			score := g.expected(&u, it) + bias + 0.7*r.NormFloat64()
			out[0], out[1] = u.id, it.id
			c := 2
			switch in.Feedback.Kind {
			case dataset.FeedbackExplicit:
				out[c] = g.rating(score)
				c++
			case dataset.FeedbackQuantity:
				out[c] = int64(min(max(math.Round(math.Exp(0.45*score)), 1), 99))
				c++
			case dataset.FeedbackWeight:
				p := 1 / (1 + math.Exp(-score))
				out[c] = g.events[min(int(p*float64(len(g.events))), len(g.events)-1)]
				c++
			}
			if in.Timestamp != "" {
				out[c] = specEpoch.AddDate(0, 0, r.IntN(731)).Format(time.DateOnly)
			}
			if !yield(out, nil) {
				return
			}
		}
	}
	if emitted != g.interactions {
		yield(nil, fmt.Errorf("generator allocated %d of %d interactions", emitted, g.interactions))
	}
}

// rating maps a strength in standard units onto the explicit scale: the
// middle of the scale for 0, a quarter of its span per unit, rounded to a
// whole number (or to hundredths for a fractional scale) and clamped.
func (g *specGen) rating(score float64) any {
	sc := g.s.Interactions.Feedback.Scale
	v := (sc.Min+sc.Max)/2 + 0.25*(sc.Max-sc.Min)*score
	v = min(max(v, sc.Min), sc.Max)
	if integralScale(sc) {
		return int64(math.Round(v))
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', 2, 64)
}
