package seed

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/sample"
	"github.com/recoflow/recoflow/source"
)

// GenOptions size a generated dataset. Zero sizes take defaults (see
// WithDefaults); Seed picks the dataset: the same options give the same rows
// on every run and backend.
type GenOptions struct {
	Customers int
	Products  int
	Ratings   int
	Seed      uint64
	// Shape sets the structure of the ratings beyond the features; nil
	// means DefaultShape().
	Shape *Shape
	Options
}

// Shape is the structure a generated dataset has beyond what the customers'
// and products' features explain, each part a knob (0 turns it off):
//
//   - LatentWeight scales a hidden per-customer and per-product taste: each
//     customer and product gets a latent vector of LatentDims standard
//     normal numbers, and a rating gains LatentWeight · u·v/√LatentDims (a
//     term of standard deviation LatentWeight that no feature predicts, so
//     only a model that learns from the ids can pick it up).
//   - PopularitySkew makes item popularity long-tailed: the products, in a
//     seeded random order, are chosen with weight rank^−PopularitySkew
//     (Zipf's law when it is 1).
//   - SelectionBias makes customers rate what they like: a product's weight
//     is also multiplied by exp(SelectionBias · the rating the customer
//     would expect to give it), so which products a customer rates says
//     something about their taste, as in real shops (ratings missing not at
//     random).
//
// Customers choose their products by weighted sampling without replacement
// (the Gumbel-top-k trick, Kool, van Hoof and Welling 2019); with
// PopularitySkew and SelectionBias both 0 the choice is uniform.
type Shape struct {
	LatentWeight   float64
	PopularitySkew float64
	SelectionBias  float64
}

// LatentDims is the number of hidden taste dimensions of a generated
// customer or product.
const LatentDims = 8

// Bounds of the Shape knobs.
const (
	MaxLatentWeight   = 5
	MaxPopularitySkew = 3
	MaxSelectionBias  = 5
)

// DefaultShape is the structure of generated datasets unless told otherwise:
// a latent taste as strong as the features' region × line affinity, Zipf
// popularity and a moderate selection bias, so that a model using ids and
// features can beat both a content-only model and popularity.
func DefaultShape() Shape { return Shape{LatentWeight: 0.8, PopularitySkew: 1, SelectionBias: 1} }

func (s Shape) check() error {
	for _, k := range []struct {
		name   string
		v, max float64
	}{{"latent-weight", s.LatentWeight, MaxLatentWeight}, {"popularity-skew", s.PopularitySkew, MaxPopularitySkew}, {"selection-bias", s.SelectionBias, MaxSelectionBias}} {
		if !(k.v >= 0 && k.v <= k.max) {
			return &SizeError{Option: k.name, Msg: fmt.Sprintf("%v is outside 0..%v", k.v, k.max)}
		}
	}
	return nil
}

// Limits and defaults of generated datasets.
const (
	DefaultRatings = 100_000
	MaxCustomers   = 50_000_000
	MaxProducts    = 200_000
	MaxRatings     = 2_000_000_000
	minCustomers   = 50
	minProducts    = 110
)

// WithDefaults returns g with zero sizes filled in and checks the result:
// Ratings defaults to DefaultRatings, Customers to Ratings/100 (at least
// 50), Products to enough for every customer to choose among twice as many
// products as the average customer rates (at least 110, the sample's
// count). A size out of range, or more ratings than customer-product pairs,
// is a *SizeError naming the option.
func (g GenOptions) WithDefaults() (GenOptions, error) {
	for _, f := range []struct {
		name string
		v    int
	}{{"customers", g.Customers}, {"products", g.Products}, {"ratings", g.Ratings}} {
		if f.v < 0 {
			return g, &SizeError{Option: f.name, Msg: fmt.Sprintf("%d is negative", f.v)}
		}
	}
	if g.Ratings == 0 {
		g.Ratings = DefaultRatings
	}
	if g.Customers == 0 {
		g.Customers = max(minCustomers, g.Ratings/100)
	}
	if g.Products == 0 {
		g.Products = max(minProducts, int((2*int64(g.Ratings)+int64(g.Customers)-1)/int64(g.Customers)))
	}
	switch {
	case g.Customers > MaxCustomers:
		return g, &SizeError{Option: "customers", Msg: fmt.Sprintf("%d is more than the maximum %d", g.Customers, MaxCustomers)}
	case g.Products > MaxProducts:
		return g, &SizeError{Option: "products", Msg: fmt.Sprintf("%d is more than the maximum %d", g.Products, MaxProducts)}
	case g.Ratings > MaxRatings:
		return g, &SizeError{Option: "ratings", Msg: fmt.Sprintf("%d is more than the maximum %d", g.Ratings, MaxRatings)}
	case int64(g.Ratings) > int64(g.Customers)*int64(g.Products):
		return g, &SizeError{Option: "ratings", Msg: fmt.Sprintf("%d is more than customers × products = %d × %d; each customer rates a product at most once",
			g.Ratings, g.Customers, g.Products)}
	}
	if g.Shape == nil {
		d := DefaultShape()
		g.Shape = &d
	}
	if err := g.Shape.check(); err != nil {
		return g, err
	}
	return g, nil
}

// SizeError reports a bad size or Shape knob in GenOptions.
type SizeError struct {
	Option string // "customers", "products", "ratings", "latent-weight", "popularity-skew" or "selection-bias"
	Msg    string
}

func (e *SizeError) Error() string { return e.Option + ": " + e.Msg }

// Generated creates the schema in db and fills it with a classicmodels-
// shaped dataset of the requested size, deterministic from g.Seed.
//
// Product lines, offices and employees are the sample's. Customers and
// products are drawn from the sample's own values: a customer takes the
// city, state, postal code (digits varied) and country of a sample customer
// — so NULL states and postal codes, and the source's trailing spaces, occur
// as often as there — and gets a credit limit; about one customer in five
// (when the sizes leave room) has a zero credit limit and no ratings, like
// the sample's customers without orders. Products get the sample's lines and
// scales, names, vendors and prices varied from a sample product of the same
// line, and codes in the sample's form (S18_1234). orders, orderdetails and
// payments stay empty.
//
// Each rating customer rates distinct products, chosen as g.Shape says
// (long-tailed popularity, and a preference for products the customer
// likes). The rating is round(2.9 + Affinity[region][line] +
// 0.35·clamp(z_credit·z_msrp) + scale taste + latent taste + a per-customer
// bias + noise), clamped to 1..5: a hidden affinity between the customer's
// region and the product line, richer customers preferring dearer products,
// a slight preference for big scales, and a taste of this customer for this
// product that no feature explains (see Shape). A content-based model can
// learn the feature terms; the latent taste needs the ids.
//
// Rows are generated while they are written, in primary-key order, so
// memory does not grow with the size (the products, at most MaxProducts,
// are held in memory).
func Generated(ctx context.Context, db *source.DB, g GenOptions) (Stats, error) {
	g, err := g.WithDefaults()
	if err != nil {
		return Stats{}, err
	}
	gen, err := newGenerator(g)
	if err != nil {
		return Stats{}, err
	}
	tables, err := sample.Tables()
	if err != nil {
		return Stats{}, err
	}
	var plan []tableLoad
	for _, name := range []string{source.ProductLines, source.Offices, source.Employees} {
		st, _ := source.Lookup(name)
		i := slices.IndexFunc(tables, func(t sample.Table) bool { return t.Name == name })
		rows, err := dumpRows(&st, &tables[i])
		if err != nil {
			return Stats{}, err
		}
		plan = append(plan, tableLoad{table: name, rows: rows, count: int64(len(tables[i].Rows))})
	}
	plan = append(plan,
		tableLoad{table: source.Products, rows: gen.productRows, count: int64(len(gen.products))},
		tableLoad{table: source.Customers, rows: gen.customerRows, count: int64(g.Customers)},
		tableLoad{table: source.Ratings, rows: gen.ratingRows, count: int64(g.Ratings)},
	)
	return run(ctx, db, g.Options, plan)
}

// generator produces the rows of one generated dataset. Every customer is a
// pure function of (seed, index), so the customers and ratings passes agree
// without keeping customers in memory.
type generator struct {
	v         *vocab
	seed      uint64
	customers int
	ratings   uint64
	products  []genProduct // sorted by code

	shape       Shape
	idle        bool   // some customers have no ratings
	spread      uint64 // weights are 1000±spread
	totalWeight uint64
}

type genProduct struct {
	code, name, line, scale, vendor, desc string
	qty                                   int64
	buyCents, msrpCents                   int64
	lineIdx                               int
	taste                                 float64 // scale preference
	priceZ                                float64 // standardised log MSRP
	latent                                [LatentDims]float64
	logPop                                float64 // log popularity weight
}

// Stream identifiers mixed into the seed so that each use of randomness is
// independent.
const (
	streamProducts = iota + 1
	streamCustomer
	streamRatings
	streamMeta
	streamLatent
	streamPopularity
)

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

func (g *generator) rng(stream, i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, splitmix(stream<<56^i)))
}

func newGenerator(o GenOptions) (*generator, error) {
	v, err := loadVocab()
	if err != nil {
		return nil, err
	}
	g := &generator{v: v, seed: o.Seed, customers: o.Customers, ratings: uint64(o.Ratings), shape: DefaultShape()}
	if o.Shape != nil {
		g.shape = *o.Shape
	}
	g.makeProducts(o.Products)
	g.shapeProducts()

	// Decide whether some customers may be idle and how unequal the
	// others are, leaving every customer room to rate without exceeding
	// the number of products.
	p := float64(len(g.products))
	g.idle = true
	active := 0
	for i := range g.customers {
		if !g.isIdle(g.meta(i)) {
			active++
		}
	}
	if active == 0 || float64(g.ratings)/float64(active) > 0.9*p {
		g.idle, active = false, g.customers
	}
	avg := float64(g.ratings) / float64(active)
	if p-avg >= 10 {
		g.spread = uint64(1000 * min(0.8, 0.9*(p/avg-1)))
	}
	for i := range g.customers {
		g.totalWeight += g.weight(g.meta(i))
	}
	return g, nil
}

// meta is the per-customer hash behind its number, idleness and weight.
func (g *generator) meta(i int) uint64 { return splitmix(g.seed ^ splitmix(streamMeta<<56^uint64(i))) }

func (g *generator) isIdle(h uint64) bool { return g.idle && h%1000 < 200 }

func (g *generator) weight(h uint64) uint64 {
	if g.isIdle(h) {
		return 0
	}
	return 1000 - g.spread + (h>>16)%(2*g.spread+1)
}

// customerNumber is increasing in i, with gaps like the sample's.
func customerNumber(i int, h uint64) int64 { return 100 + 3*int64(i) + int64((h>>40)%3) }

func (g *generator) makeProducts(n int) {
	r := g.rng(streamProducts, 0)
	var totalWeight int
	for _, w := range g.v.lineWeights {
		totalWeight += w
	}
	perPrefix := map[string]int{}
	g.products = make([]genProduct, n)
	for j := range g.products {
		x, line := r.IntN(totalWeight), 0
		for x >= g.v.lineWeights[line] {
			x -= g.v.lineWeights[line]
			line++
		}
		pool := g.v.products[line]
		tmpl := pool[r.IntN(len(pool))]
		prefix := "S" + strings.TrimPrefix(tmpl.Scale, "1:")
		c := perPrefix[prefix]
		perPrefix[prefix] = c + 1
		code := prefix + "_" + fmt.Sprintf("%04d", 1000+7*c+r.IntN(7))

		name := tmpl.Name
		if year, rest, ok := leadingYear(name); ok {
			name = strconv.Itoa(year+r.IntN(17)-8) + rest
		}
		switch r.IntN(6) {
		case 0:
			name += " Limited Edition"
		case 1:
			name += " Deluxe"
		}
		buy := int64(math.Round(tmpl.BuyPrice * 100 * (0.8 + 0.45*r.Float64())))
		buy = max(buy, 1000)
		msrp := int64(math.Round(float64(buy) * (1.35 + 0.95*r.Float64())))
		g.products[j] = genProduct{
			code: code, name: truncate(name, 70), line: tmpl.Line, scale: tmpl.Scale,
			vendor: pool[r.IntN(len(pool))].Vendor, desc: tmpl.Description,
			qty: int64(r.IntN(10000)), buyCents: buy, msrpCents: msrp,
			lineIdx: line, taste: scaleTaste(tmpl.Scale),
			priceZ: (math.Log(float64(msrp)/100) - math.Log(95)) / 0.4,
		}
	}
	slices.SortFunc(g.products, func(a, b genProduct) int { return strings.Compare(a.code, b.code) })
}

// shapeProducts draws each product's latent taste and popularity from
// streams of their own, so the products' visible attributes do not depend
// on the Shape.
func (g *generator) shapeProducts() {
	r := g.rng(streamLatent, 0)
	for j := range g.products {
		g.products[j].latent = latentDraw(r)
	}
	logPop := logPopularity(g.rng(streamPopularity, 0), len(g.products), g.shape.PopularitySkew)
	for j := range g.products {
		g.products[j].logPop = logPop[j]
	}
}

// customerLatent is customer i's latent taste.
func (g *generator) customerLatent(i int) (u [LatentDims]float64) {
	return latentDraw(g.rng(streamLatent, 1+uint64(i)))
}

// latentDraw draws a latent taste: LatentDims standard normal numbers.
// The lab's generator and the spec generator draw every latent vector
// with it.
func latentDraw(r *rand.Rand) (v [LatentDims]float64) {
	for d := range v {
		v[d] = r.NormFloat64()
	}
	return v
}

// logPopularity returns the log popularity weight of each of n items: in
// an order drawn from r, the k-th (from 0) gets −skew·log(1 + k), so the
// weights follow rank^−skew.
func logPopularity(r *rand.Rand, n int, skew float64) []float64 {
	rank := r.Perm(n)
	out := make([]float64, n)
	for j := range out {
		out[j] = -skew * math.Log(float64(1+rank[j]))
	}
	return out
}

// latentTaste is what a latent taste adds to an interaction's strength:
// weight · u·v/√LatentDims.
func latentTaste(weight float64, u, v *[LatentDims]float64) float64 {
	var z float64
	for d := range LatentDims {
		z += u[d] * v[d]
	}
	return weight * z / math.Sqrt(LatentDims)
}

// keyed is a product and its sampling key (larger is chosen first).
type keyed struct {
	j   int
	key float64
}

// worse orders keys: a is worse than b when its key is smaller, or equal
// with a larger index (so ties go to the lower index).
func worse(a, b keyed) bool { return a.key < b.key || a.key == b.key && a.j > b.j }

// siftUp and siftDown keep h a min-heap under worse (the worst at h[0]).
func siftUp(h []keyed, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !worse(h[i], h[parent]) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func siftDown(h []keyed, i int) {
	for {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && worse(h[l], h[m]) {
			m = l
		}
		if r < len(h) && worse(h[r], h[m]) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// cents formats an amount in cents as DECIMAL text: 2100000 → "21000.00".
func cents(c int64) string {
	return strconv.FormatInt(c/100, 10) + "." + fmt.Sprintf("%02d", c%100)
}

func (g *generator) productRows(yield func([]any, error) bool) {
	row := make([]any, 9)
	for _, p := range g.products {
		row[0], row[1], row[2], row[3], row[4], row[5] = p.code, p.name, p.line, p.scale, p.vendor, p.desc
		row[6], row[7], row[8] = p.qty, cents(p.buyCents), cents(p.msrpCents)
		if !yield(row, nil) {
			return
		}
	}
}

// genCustomer is one generated customer.
type genCustomer struct {
	number                          int64
	name, last, first, phone, addr1 string
	addr2, state, postal            *string
	city, country                   string
	rep                             *int64
	creditCents                     int64
	region                          int
	creditZ                         float64
}

// varyDigits replaces the digits of s after the first keep bytes with
// random digits, keeping its format ("S-958 22", "01-012").
func varyDigits(r *rand.Rand, s string, keep int) string {
	b := []byte(s)
	for i := keep; i < len(b); i++ {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = byte('0' + r.IntN(10))
		}
	}
	return string(b)
}

func (g *generator) customer(i int) genCustomer {
	h := g.meta(i)
	r := g.rng(streamCustomer, uint64(i))
	cs := g.v.customers
	pick := func() *sample.Customer { return &cs[r.IntN(len(cs))] }

	t := pick()
	c := genCustomer{number: customerNumber(i, h), city: t.City, country: t.Country, state: t.State}
	c.region = Region(c.country)
	if t.PostalCode != nil {
		p := varyDigits(r, *t.PostalCode, 2)
		c.postal = &p
	}
	// Name: the start of one sample name and the end of another.
	a, b := strings.Fields(pick().Name), strings.Fields(pick().Name)
	c.name = truncate(strings.Join(append(a[:(len(a)+1)/2:(len(a)+1)/2], b[len(b)/2:]...), " "), 50)
	c.last, c.first = pick().ContactLastName, pick().ContactFirstName
	c.phone = varyDigits(r, t.Phone, 3)
	c.addr1 = varyDigits(r, pick().AddressLine1, 0)
	if r.IntN(5) == 0 {
		c.addr2 = &g.v.addresses2[r.IntN(len(g.v.addresses2))]
	}
	if g.isIdle(h) {
		if r.IntN(8) == 0 {
			rep := int64(g.v.repsByRegion[c.region][r.IntN(len(g.v.repsByRegion[c.region]))])
			c.rep = &rep
		}
		return c
	}
	rep := int64(g.v.repsByRegion[c.region][r.IntN(len(g.v.repsByRegion[c.region]))])
	c.rep = &rep
	credit := math.Exp(math.Log(80000) + 0.45*r.NormFloat64())
	credit = math.Round(min(max(credit, 5000), 250000)/100) * 100
	c.creditCents = int64(credit) * 100
	c.creditZ = (math.Log(credit) - math.Log(80000)) / 0.45
	return c
}

func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func (g *generator) customerRows(yield func([]any, error) bool) {
	row := make([]any, 13)
	for i := range g.customers {
		c := g.customer(i)
		row[0], row[1], row[2], row[3], row[4], row[5] = c.number, c.name, c.last, c.first, c.phone, c.addr1
		row[6], row[7], row[8], row[9], row[10] = nullable(c.addr2), c.city, nullable(c.state), nullable(c.postal), c.country
		row[11], row[12] = nullable(c.rep), cents(c.creditCents)
		if !yield(row, nil) {
			return
		}
	}
}

// rating is the expected score a generated customer gives a product before
// the latent taste, the per-customer bias and the noise: the part a
// content-based model can learn.
func rating(region int, creditZ float64, p *genProduct) float64 {
	fit := min(max(creditZ*p.priceZ, -2), 2)
	return 2.9 + Affinity[region][p.lineIdx] + 0.35*fit + p.taste
}

// expected is rating plus the latent taste of the customer (latent u) for p.
func (g *generator) expected(c *genCustomer, u *[LatentDims]float64, p *genProduct) float64 {
	e := rating(c.region, c.creditZ, p)
	if g.shape.LatentWeight != 0 {
		e += latentTaste(g.shape.LatentWeight, u, &p.latent)
	}
	return e
}

func (g *generator) ratingRows(yield func([]any, error) bool) {
	nProd := len(g.products)
	marks := make([]uint32, nProd) // marks[j] == gen: product j chosen
	var gen uint32
	chosen := make([]int, 0, nProd)
	var keys []keyed
	row := make([]any, 3)
	var cum, emitted uint64
	for i := range g.customers {
		h := g.meta(i)
		cum += g.weight(h)
		hi, lo := bits.Mul64(g.ratings, cum)
		target, _ := bits.Div64(hi, lo, g.totalWeight)
		k := min(int(target-emitted), nProd)
		if k == 0 {
			continue
		}
		emitted += uint64(k)
		c := g.customer(i)
		r := g.rng(streamRatings, uint64(i))
		bias := 0.35 * r.NormFloat64()

		u := g.customerLatent(i)

		// Choose k distinct products, in code order.
		chosen = chosen[:0]
		switch {
		case k < nProd && (g.shape.PopularitySkew != 0 || g.shape.SelectionBias != 0):
			// Weighted, without replacement: the k largest of
			// log weight + Gumbel noise.
			// A min-heap of the k best so far keeps this O(products · log k).
			keys = keys[:0]
			for j := range g.products {
				p := &g.products[j]
				w := p.logPop
				if g.shape.SelectionBias != 0 {
					w += g.shape.SelectionBias * g.expected(&c, &u, p)
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
			for _, kj := range keys {
				chosen = append(chosen, kj.j)
			}
			slices.Sort(chosen)
		case k*4 >= nProd: // dense: selection sampling, already sorted
			need := k
			for j := 0; j < nProd && need > 0; j++ {
				if r.IntN(nProd-j) < need {
					chosen = append(chosen, j)
					need--
				}
			}
		default: // sparse: Floyd's algorithm, then sort
			gen++
			if gen == 0 {
				clear(marks)
				gen = 1
			}
			for j := nProd - k; j < nProd; j++ {
				t := r.IntN(j + 1)
				if marks[t] == gen {
					t = j
				}
				marks[t] = gen
				chosen = append(chosen, t)
			}
			slices.Sort(chosen)
		}
		for _, j := range chosen {
			p := &g.products[j]
			score := g.expected(&c, &u, p) + bias + 0.7*r.NormFloat64()
			row[0], row[1], row[2] = c.number, p.code, int64(min(max(math.Round(score), 1), 5))
			if !yield(row, nil) {
				return
			}
		}
	}
	if emitted != g.ratings {
		yield(nil, fmt.Errorf("generator allocated %d of %d ratings", emitted, g.ratings))
	}
}
