package seed

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/recoflow/recoflow/sample"
)

// Regions group the sample's countries for the hidden taste model.
const (
	NorthAmerica = iota
	WesternEurope
	Nordic
	AsiaPacific
	OtherRegion
	numRegions
)

// RegionNames name the regions, indexed by region.
var RegionNames = [numRegions]string{"North America", "Western Europe", "Nordic", "Asia-Pacific", "Other"}

// Region returns the region of a country as written in the source
// (surrounding spaces and case are ignored); unknown countries are
// OtherRegion.
func Region(country string) int {
	switch strings.ToLower(strings.TrimSpace(country)) {
	case "usa", "canada":
		return NorthAmerica
	case "france", "germany", "spain", "portugal", "italy", "belgium", "netherlands", "switzerland", "austria", "uk", "ireland":
		return WesternEurope
	case "norway", "sweden", "denmark", "finland":
		return Nordic
	case "australia", "new zealand", "japan", "singapore", "hong kong", "philippines":
		return AsiaPacific
	default:
		return OtherRegion
	}
}

// Lines are the seven product lines of the sample, the columns of Affinity.
var Lines = [7]string{"Classic Cars", "Motorcycles", "Planes", "Ships", "Trains", "Trucks and Buses", "Vintage Cars"}

// Affinity is the hidden taste of each region for each product line, added
// to a generated rating before noise. It is fixed (not drawn from the seed)
// so that tests and demos can count on its direction: North America likes
// classic cars and trucks, Western Europe vintage cars and trains, the
// Nordics ships and motorcycles, Asia-Pacific planes and motorcycles.
var Affinity = [numRegions][7]float64{
	//                Classic Motor  Planes Ships  Trains Trucks Vintage
	NorthAmerica:  {+1.0, +0.3, -0.3, -0.8, -0.6, +0.7, -0.4},
	WesternEurope: {-0.3, +0.2, -0.5, +0.4, +0.8, -0.6, +1.0},
	Nordic:        {-0.6, +0.9, +0.3, +1.0, +0.2, -0.2, -0.5},
	AsiaPacific:   {+0.2, +0.8, +1.0, -0.2, -0.9, -0.4, -0.6},
	OtherRegion:   {+0.5, -0.5, +0.6, -0.6, +0.3, +0.5, 0.0},
}

// lineIndex returns the index of a product line in Lines, or -1.
func lineIndex(line string) int { return slices.Index(Lines[:], line) }

// scaleTaste is a small preference for big models.
func scaleTaste(scale string) float64 {
	switch scale {
	case "1:10", "1:12":
		return 0.25
	case "1:18":
		return 0.1
	case "1:24":
		return 0
	case "1:32":
		return -0.1
	default: // 1:50, 1:72, 1:700
		return -0.15
	}
}

// vocab is what the generator draws from: the sample's own values, so that
// generated rows look like classicmodels rows.
type vocab struct {
	customers    []sample.Customer
	repsByRegion [numRegions][]int // sales reps (employeeNumber) serving each region
	products     [7][]sample.Product
	lineWeights  [7]int // number of sample products per line
	addresses2   []string
}

var loadVocab = sync.OnceValues(func() (*vocab, error) {
	v := &vocab{}
	var err error
	if v.customers, err = sample.Customers(); err != nil {
		return nil, err
	}
	for _, c := range v.customers {
		if c.AddressLine2 != nil {
			v.addresses2 = append(v.addresses2, *c.AddressLine2)
		}
	}
	products, err := sample.Products()
	if err != nil {
		return nil, err
	}
	for _, p := range products {
		i := lineIndex(p.Line)
		if i < 0 {
			return nil, fmt.Errorf("sample product %s has unknown line %q", p.Code, p.Line)
		}
		v.products[i] = append(v.products[i], p)
		v.lineWeights[i]++
	}
	// Sales reps by the region of their office, as in the sample.
	emp, err := sample.TableData("employees")
	if err != nil {
		return nil, err
	}
	officeRegion := map[string]int{"1": NorthAmerica, "2": NorthAmerica, "3": NorthAmerica,
		"4": WesternEurope, "5": AsiaPacific, "6": AsiaPacific, "7": WesternEurope}
	num, office, title := emp.Column("employeeNumber"), emp.Column("officeCode"), emp.Column("jobTitle")
	for _, r := range emp.Rows {
		if r[title] != "Sales Rep" {
			continue
		}
		n, _ := r[num].(int64)
		o, _ := r[office].(string)
		reg := officeRegion[o]
		v.repsByRegion[reg] = append(v.repsByRegion[reg], int(n))
	}
	// Nordic and other customers are served from Europe.
	v.repsByRegion[Nordic] = v.repsByRegion[WesternEurope]
	v.repsByRegion[OtherRegion] = v.repsByRegion[WesternEurope]
	for i, reps := range v.repsByRegion {
		if len(reps) == 0 {
			return nil, fmt.Errorf("sample has no sales rep for region %s", RegionNames[i])
		}
	}
	return v, nil
})

// leadingYear splits "1969 Ford Falcon" into 1969 and " Ford Falcon".
func leadingYear(name string) (int, string, bool) {
	if len(name) < 5 || name[4] != ' ' {
		return 0, name, false
	}
	y, err := strconv.Atoi(name[:4])
	if err != nil {
		return 0, name, false
	}
	return y, name[4:], true
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
