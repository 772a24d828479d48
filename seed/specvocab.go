package seed

import "strings"

// Small vocabularies the spec generator draws feature values from, chosen
// by the column's name (a "country" column gets countries, "genres" gets
// genres), so generated data reads like a shop's.
var (
	specCountries = []string{"USA", "Germany", "France", "UK", "Spain", "Canada", "Brazil", "Japan", "India",
		"Australia", "Italy", "Netherlands", "Sweden", "Mexico", "Poland", "Portugal", "Kenya", "Norway",
		"Argentina", "Singapore", "Ireland", "South Africa", "New Zealand", "Finland", "Chile", "Austria"}
	specCities = []string{"London", "Paris", "Berlin", "Madrid", "New York", "Toronto", "São Paulo", "Tokyo",
		"Mumbai", "Sydney", "Milan", "Amsterdam", "Stockholm", "Mexico City", "Warsaw", "Lisbon", "Nairobi",
		"Oslo", "Buenos Aires", "Singapore", "Dublin", "Cape Town", "Auckland", "Helsinki"}
	specGenres = []string{"Drama", "Comedy", "Action", "Thriller", "Romance", "Documentary", "Horror",
		"Animation", "Adventure", "Crime", "Sci-Fi", "Fantasy", "Family", "Mystery", "Musical", "War",
		"Western", "History", "Biography", "Sport"}
	specTags = []string{"new", "sale", "eco", "bestseller", "gift", "limited", "handmade", "vintage",
		"premium", "bundle", "organic", "classic", "kids", "outdoor", "travel", "smart", "compact", "local"}
	specWords = []string{"Amber", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Garnet", "Harbor", "Indigo",
		"Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz", "Raven", "Sierra",
		"Tundra", "Umber", "Vertex", "Willow", "Zephyr"}
	specText = []string{"a", "the", "of", "and", "with", "for", "in", "story", "journey", "classic", "modern",
		"family", "night", "city", "light", "dark", "love", "war", "quiet", "bold", "small", "great", "old",
		"new", "river", "road", "home", "friends", "secret", "summer", "winter", "game", "power", "heart",
		"world", "last", "first", "wild", "gentle", "bright", "fast", "simple", "perfect", "everyday", "premium",
		"soft", "strong", "design", "garden", "kitchen", "music", "film", "book", "edition", "collection"}
)

// specVocab returns the vocabulary for a categorical or multi_categorical
// column, by its name.
func specVocab(column string) []string {
	c := strings.ToLower(column)
	switch {
	case strings.Contains(c, "country") || strings.Contains(c, "nation"):
		return specCountries
	case strings.Contains(c, "city") || strings.Contains(c, "town"):
		return specCities
	case strings.Contains(c, "genre"):
		return specGenres
	case strings.Contains(c, "tag") || strings.Contains(c, "label"):
		return specTags
	default:
		return specWords
	}
}

// Kinds of generated numbers, by the column's name.
const (
	numAmount = iota // a positive amount with two decimals (log-normal)
	numYear          // a year, 1950..2025
	numAge           // an age, 16..90
)

func numericKind(column string) int {
	c := strings.ToLower(column)
	switch {
	case strings.Contains(c, "year"):
		return numYear
	case c == "age" || strings.HasSuffix(c, "_age") || strings.HasPrefix(c, "age_") || strings.HasSuffix(column, "Age"):
		return numAge
	default:
		return numAmount
	}
}

// numericMedian is the median of a generated amount, by the column's name.
func numericMedian(column string) float64 {
	c := strings.ToLower(column)
	switch {
	case strings.Contains(c, "price") || strings.Contains(c, "cost") || strings.Contains(c, "msrp"):
		return 15
	case strings.Contains(c, "limit") || strings.Contains(c, "income") || strings.Contains(c, "salary"):
		return 50000
	case strings.Contains(c, "stock") || strings.Contains(c, "count") || strings.Contains(c, "qty") || strings.Contains(c, "quantity"):
		return 200
	default:
		return 40
	}
}
