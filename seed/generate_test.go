package seed

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		in, want GenOptions
		badOpt   string
	}{
		{in: GenOptions{}, want: GenOptions{Customers: 1000, Products: 200, Ratings: 100_000}},
		{in: GenOptions{Ratings: 2532}, want: GenOptions{Customers: 50, Products: 110, Ratings: 2532}},
		{in: GenOptions{Ratings: 10_000_000}, want: GenOptions{Customers: 100_000, Products: 200, Ratings: 10_000_000}},
		{in: GenOptions{Ratings: 1000, Customers: 3}, want: GenOptions{Customers: 3, Products: 667, Ratings: 1000}},
		{in: GenOptions{Ratings: 12, Customers: 3, Products: 4}, want: GenOptions{Customers: 3, Products: 4, Ratings: 12}},
		{in: GenOptions{Ratings: 13, Customers: 3, Products: 4}, badOpt: "ratings"},
		{in: GenOptions{Customers: -1}, badOpt: "customers"},
		{in: GenOptions{Products: MaxProducts + 1}, badOpt: "products"},
		{in: GenOptions{Customers: MaxCustomers + 1}, badOpt: "customers"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("c%d_p%d_r%d", tt.in.Customers, tt.in.Products, tt.in.Ratings), func(t *testing.T) {
			got, err := tt.in.WithDefaults()
			if tt.badOpt != "" {
				var se *SizeError
				if !errors.As(err, &se) || se.Option != tt.badOpt {
					t.Fatalf("error = %v, want a SizeError for %s", err, tt.badOpt)
				}
				return
			}
			if err != nil || got.Customers != tt.want.Customers || got.Products != tt.want.Products || got.Ratings != tt.want.Ratings {
				t.Errorf("WithDefaults = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// drain runs a generator's three streams and checks what every dataset
// must satisfy: exact counts, primary-key order, ratings in 1..5 naming
// generated customers and products. It returns a digest of all rows.
func drain(t *testing.T, o GenOptions) (digest uint64, perCustomer map[int64]int) {
	t.Helper()
	o, err := o.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGenerator(o)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	add := func(row []any) { fmt.Fprintf(h, "%q\n", row) }

	codes := map[string]bool{}
	var lastCode string
	for row, err := range g.productRows {
		if err != nil {
			t.Fatal(err)
		}
		code := row[0].(string)
		if code <= lastCode {
			t.Fatalf("product %s after %s: not in key order", code, lastCode)
		}
		lastCode = code
		codes[code] = true
		add(row)
	}
	if len(codes) != o.Products {
		t.Fatalf("%d products, want %d", len(codes), o.Products)
	}
	customers := map[int64]bool{}
	var lastNum int64
	for row, err := range g.customerRows {
		if err != nil {
			t.Fatal(err)
		}
		n := row[0].(int64)
		if n <= lastNum {
			t.Fatalf("customer %d after %d: not in key order", n, lastNum)
		}
		lastNum = n
		customers[n] = true
		add(row)
	}
	if len(customers) != o.Customers {
		t.Fatalf("%d customers, want %d", len(customers), o.Customers)
	}
	perCustomer = map[int64]int{}
	var last [2]string
	var count int
	for row, err := range g.ratingRows {
		if err != nil {
			t.Fatal(err)
		}
		c, p, r := row[0].(int64), row[1].(string), row[2].(int64)
		key := [2]string{fmt.Sprintf("%012d", c), p}
		if key[0] < last[0] || key[0] == last[0] && key[1] <= last[1] {
			t.Fatalf("rating %v after %v: not in key order or duplicate", key, last)
		}
		last = key
		if !customers[c] || !codes[p] || r < 1 || r > 5 {
			t.Fatalf("bad rating row %v", row)
		}
		perCustomer[c]++
		count++
		add(row)
	}
	if count != o.Ratings {
		t.Fatalf("%d ratings, want %d", count, o.Ratings)
	}
	return h.Sum64(), perCustomer
}

func TestGeneratorSizes(t *testing.T) {
	for _, o := range []GenOptions{
		{Ratings: 1, Customers: 1, Products: 1},
		{Ratings: 12, Customers: 3, Products: 4},    // dense: every pair rated
		{Ratings: 110, Customers: 1, Products: 110}, // one customer rates all
		{Ratings: 2532, Seed: 1},
		{Ratings: 5000, Customers: 60, Products: 100},    // near dense
		{Ratings: 20_000, Customers: 50, Products: 5000}, // sparse, Floyd's sampling
		{Ratings: 50_000, Seed: 99},
	} {
		t.Run(fmt.Sprintf("c%d_p%d_r%d", o.Customers, o.Products, o.Ratings), func(t *testing.T) {
			drain(t, o)
		})
	}
}

func TestGeneratorDeterminism(t *testing.T) {
	a, _ := drain(t, GenOptions{Ratings: 20_000, Seed: 42})
	b, _ := drain(t, GenOptions{Ratings: 20_000, Seed: 42})
	c, _ := drain(t, GenOptions{Ratings: 20_000, Seed: 43})
	if a != b {
		t.Error("same seed gave different rows")
	}
	if a == c {
		t.Error("different seeds gave the same rows")
	}
}

func TestIdleCustomersAndSpread(t *testing.T) {
	o, _ := GenOptions{Ratings: 20_000, Seed: 5}.WithDefaults()
	_, per := drain(t, o)
	idle := o.Customers - len(per)
	if idle < o.Customers/10 || idle > o.Customers*3/10 {
		t.Errorf("%d of %d customers have no ratings, want about 20%%", idle, o.Customers)
	}
	lo, hi := o.Ratings, 0
	for _, n := range per {
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi > o.Products || lo == hi {
		t.Errorf("ratings per active customer range %d..%d (products %d), want unequal and at most the product count", lo, hi, o.Products)
	}
}

func TestGeneratedValuesLookReal(t *testing.T) {
	o, _ := GenOptions{Ratings: 30_000, Seed: 3}.WithDefaults()
	g, err := newGenerator(o)
	if err != nil {
		t.Fatal(err)
	}
	var nullState, nullPostal, padded, zeroCredit int
	for row := range g.customerRows {
		if row[8] == nil {
			nullState++
		}
		if row[9] == nil {
			nullPostal++
		}
		if s := row[10].(string); s != strings.TrimSpace(s) {
			padded++
		}
		if row[12] == "0.00" {
			zeroCredit++
		}
		if len(row[1].(string)) > 50 {
			t.Fatalf("customerName longer than 50 bytes: %q", row[1])
		}
	}
	n := o.Customers
	if nullState < n/3 || nullPostal == 0 || nullPostal > n/5 || padded == 0 || padded > n/10 || zeroCredit < n/10 {
		t.Errorf("of %d customers: %d NULL state, %d NULL postalCode, %d padded country, %d zero credit",
			n, nullState, nullPostal, padded, zeroCredit)
	}
	lines, scales := map[string]bool{}, map[string]bool{}
	for row := range g.productRows {
		lines[row[2].(string)] = true
		scales[row[3].(string)] = true
		if len(row[1].(string)) > 70 || len(row[0].(string)) > 15 {
			t.Fatalf("product values too long: %q", row[:2])
		}
	}
	if len(lines) != 7 || len(scales) < 6 {
		t.Errorf("products use %d lines and %d scales", len(lines), len(scales))
	}
}

func TestCents(t *testing.T) {
	for c, want := range map[int64]string{0: "0.00", 5: "0.05", 2100000: "21000.00", 4881: "48.81", 12345678: "123456.78"} {
		if got := cents(c); got != want {
			t.Errorf("cents(%d) = %q, want %q", c, got, want)
		}
	}
}

// shapeStats generates a sparse dataset (each customer rates about a tenth of
// the products) with the given shape and measures what the Shape knobs
// control: the share of ratings on the most popular tenth of products, the
// correlation of each rating's part that features do not explain with the
// latent taste u·v/√d, and how much more the chosen products are liked than
// the average product (in expected rating).
func shapeStats(t *testing.T, sh *Shape) (topShare, latentCorr, chosenLift float64) {
	t.Helper()
	o, err := GenOptions{Ratings: 20_000, Customers: 400, Products: 500, Seed: 4, Shape: sh}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGenerator(o)
	if err != nil {
		t.Fatal(err)
	}
	byNumber := map[int64]int{}
	for i := range g.customers {
		byNumber[customerNumber(i, g.meta(i))] = i
	}
	byCode := map[string]int{}
	for j, p := range g.products {
		byCode[p.code] = j
	}
	perProduct := make([]int, len(g.products))
	var sx, sy, sxx, syy, sxy, n, lift float64
	for row, err := range g.ratingRows {
		if err != nil {
			t.Fatal(err)
		}
		i, j := byNumber[row[0].(int64)], byCode[row[1].(string)]
		perProduct[j]++
		c, u, p := g.customer(i), g.customerLatent(i), &g.products[j]
		var z float64
		for d := range LatentDims {
			z += u[d] * p.latent[d]
		}
		z /= math.Sqrt(LatentDims)
		resid := float64(row[2].(int64)) - rating(c.region, c.creditZ, p)
		sx, sy, sxx, syy, sxy, n = sx+z, sy+resid, sxx+z*z, syy+resid*resid, sxy+z*resid, n+1
		var mean float64
		for k := range g.products {
			mean += rating(c.region, c.creditZ, &g.products[k])
		}
		lift += rating(c.region, c.creditZ, p) - mean/float64(len(g.products))
	}
	slices.SortFunc(perProduct, func(a, b int) int { return b - a })
	top := 0
	for _, k := range perProduct[:len(perProduct)/10] {
		top += k
	}
	latentCorr = (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
	return float64(top) / n, latentCorr, lift / n
}

func TestShapeKnobs(t *testing.T) {
	def := DefaultShape()
	top, corr, lift := shapeStats(t, &def)
	t.Logf("default shape %+v: top-10%% share %.3f, latent correlation %.3f, chosen-product lift %.3f", def, top, corr, lift)
	if top < 0.3 {
		t.Errorf("default: the top tenth of products has %.0f%% of the ratings, want a long tail (≥ 30%%)", 100*top)
	}
	if corr < 0.3 {
		t.Errorf("default: latent taste correlates %.3f with what features leave unexplained, want ≥ 0.3", corr)
	}
	if lift < 0.15 {
		t.Errorf("default: rated products are liked %.3f above average (by features), want ≥ 0.15", lift)
	}

	top, corr, lift = shapeStats(t, &Shape{})
	t.Logf("no shape: top-10%% share %.3f, latent correlation %.3f, chosen-product lift %.3f", top, corr, lift)
	if top > 0.15 || math.Abs(corr) > 0.05 || math.Abs(lift) > 0.05 {
		t.Errorf("Shape{} should be uniform and feature-only: top share %.3f, latent corr %.3f, lift %.3f", top, corr, lift)
	}

	// Each knob alone.
	top, _, _ = shapeStats(t, &Shape{PopularitySkew: 1})
	if top < 0.3 {
		t.Errorf("PopularitySkew 1 alone: top-tenth share %.3f", top)
	}
	_, corr, _ = shapeStats(t, &Shape{LatentWeight: 0.8})
	if corr < 0.3 {
		t.Errorf("LatentWeight 0.8 alone: latent correlation %.3f", corr)
	}
	_, _, lift = shapeStats(t, &Shape{SelectionBias: 1})
	if lift < 0.15 {
		t.Errorf("SelectionBias 1 alone: lift %.3f", lift)
	}
}

func TestShapeBounds(t *testing.T) {
	for _, tt := range []struct {
		sh  Shape
		opt string
	}{
		{Shape{LatentWeight: -0.1}, "latent-weight"},
		{Shape{PopularitySkew: MaxPopularitySkew + 1}, "popularity-skew"},
		{Shape{SelectionBias: math.NaN()}, "selection-bias"},
	} {
		_, err := GenOptions{Shape: &tt.sh}.WithDefaults()
		var se *SizeError
		if !errors.As(err, &se) || se.Option != tt.opt {
			t.Errorf("%+v: error %v, want a SizeError for %s", tt.sh, err, tt.opt)
		}
	}
}
