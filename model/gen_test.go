package model

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// genConfig describes a synthetic, classicmodels-shaped dataset whose
// ratings depend on the features: each country has a taste for each product
// line, each city for each scale, rich customers prefer expensive models,
// well-stocked products are liked a little more, plus noise.
type genConfig struct {
	users, items, perUser int
	countries, cities     int
	noise                 float64
	// latent is the weight of tastes the features do not explain: each
	// user and item has a random 8-dim vector whose dot product adds to
	// the affinity (0: none).
	latent float64
	seed   uint64
}

var (
	genLines  = []string{"Classic Cars", "Motorcycles", "Planes", "Ships", "Trains", "Trucks and Buses", "Vintage Cars"}
	genScales = []string{"1:10", "1:12", "1:18", "1:24", "1:32", "1:50", "1:700", "1:72"}
)

func (r *rng) normal() float64 {
	u := 1 - r.float64() // (0, 1]
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float64())
}

// generate returns the ratings of a synthetic dataset, in a scrambled
// order. Text values carry stray spaces and mixed case, as the source does.
func generate(c genConfig) []Rating {
	if c.countries == 0 {
		c.countries = 20
	}
	if c.cities == 0 {
		c.cities = 100
	}
	if c.noise == 0 {
		c.noise = 0.4
	}
	r := newRNG(c.seed, 99)
	countryPref := make([][]float64, c.countries)
	for i := range countryPref {
		countryPref[i] = make([]float64, len(genLines))
		for j := range countryPref[i] {
			countryPref[i][j] = r.normal()
		}
	}
	cityCountry := make([]int, c.cities)
	cityPref := make([][]float64, c.cities)
	for i := range cityPref {
		cityCountry[i] = r.intn(c.countries)
		cityPref[i] = make([]float64, len(genScales))
		for j := range cityPref[i] {
			cityPref[i][j] = 0.7 * r.normal()
		}
	}
	type user struct {
		city int
		f    UserFeatures
		z    float64
	}
	users := make([]user, c.users)
	for i := range users {
		city := r.intn(c.cities)
		z := r.normal()
		credit := math.Round(math.Exp(11+0.5*z)*100) / 100
		name := "City " + strconv.Itoa(city)
		switch i % 3 {
		case 1:
			name += " "
		case 2:
			name = " city " + strconv.Itoa(city)
		}
		users[i] = user{city: city, z: z, f: UserFeatures{
			City:        name,
			Country:     fmt.Sprintf("Country%02d", cityCountry[city]),
			CreditLimit: credit,
		}}
	}
	type item struct {
		line, scale int
		f           ItemFeatures
		zp, zq      float64
		w           float64
	}
	items := make([]item, c.items)
	for i := range items {
		line, scale := r.intn(len(genLines)), r.intn(len(genScales))
		buy := 15 + 90*r.float64()
		msrp := buy * (1.4 + 0.8*r.float64())
		qty := float64(r.intn(10000))
		items[i] = item{line: line, scale: scale,
			zp: (msrp - 108) / 45, zq: (qty - 5000) / 2900,
			w: 1 / math.Pow(float64(i%97)+5, 0.5),
			f: ItemFeatures{
				ProductLine:     genLines[line],
				ProductScale:    genScales[scale],
				QuantityInStock: qty,
				BuyPrice:        math.Round(buy*100) / 100,
				MSRP:            math.Round(msrp*100) / 100,
			}}
	}
	const latentDim = 8
	lu := make([]float64, c.users*latentDim)
	li := make([]float64, c.items*latentDim)
	if c.latent != 0 {
		lr := newRNG(c.seed, 77)
		for i := range lu {
			lu[i] = lr.normal() / math.Sqrt(latentDim)
		}
		for i := range li {
			li[i] = lr.normal()
		}
	}
	sigma := math.Sqrt(1 + 0.49 + 0.64 + 0.16 + c.noise*c.noise + c.latent*c.latent)
	cuts := []float64{-1.2 * sigma, -0.4 * sigma, 0.4 * sigma, 1.2 * sigma}
	// Shoppers rate what they bought, and buy more of what they like: each
	// user picks perUser distinct items with weights popularity·e^(affinity)
	// (Efraimidis–Spirakis sampling without replacement).
	var out []Rating
	k := min(c.perUser, c.items)
	keys := make([]float64, c.items)
	order := make([]int, 0, k+1)
	aff := make([]float64, c.items)
	for ui, u := range users {
		for i, it := range items {
			aff[i] = countryPref[cityCountry[u.city]][it.line] + cityPref[u.city][it.scale] +
				0.8*u.z*it.zp + 0.4*it.zq
			if c.latent != 0 {
				aff[i] += c.latent * dot(lu[ui*latentDim:][:latentDim], li[i*latentDim:][:latentDim])
			}
			keys[i] = math.Log(1-r.float64()) / (it.w * math.Exp(0.7*aff[i]))
		}
		for _, i := range topKeys(order[:0], keys, k) {
			it := items[i]
			s := aff[i] + c.noise*r.normal()
			v := 1.0
			for _, cut := range cuts {
				if s > cut {
					v++
				}
			}
			out = append(out, Rating{
				UserID: strconv.Itoa(100 + ui), User: u.f,
				ItemID: fmt.Sprintf("S%02d_%04d", it.scale, i), Item: it.f,
				Value: v,
			})
		}
	}
	// scramble the order, as a lake's partitions might come
	for i := len(out) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func datasetOf(tb interface{ Fatal(...any) }, rs []Rating) *Dataset {
	d := NewDataset()
	for _, r := range rs {
		if err := d.Add(r); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

// topKeys appends to dst the indices of the k largest keys, largest first.
func topKeys(dst []int, keys []float64, k int) []int {
	for i, key := range keys {
		if len(dst) == k && key <= keys[dst[k-1]] {
			continue
		}
		j, _ := slices.BinarySearchFunc(dst, key, func(e int, t float64) int { return cmp.Compare(t, keys[e]) })
		dst = slices.Insert(dst, j, i)
		if len(dst) > k {
			dst = dst[:k]
		}
	}
	return dst
}
