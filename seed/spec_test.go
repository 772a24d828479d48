package seed_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/seed"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
)

func shopSpec(t *testing.T) *dataset.Spec {
	t.Helper()
	s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// specDigest hashes every row of the spec's three tables, in key order.
func specDigest(t *testing.T, db *source.DB, s *dataset.Spec) uint64 {
	t.Helper()
	q := db.Quote
	in := &s.Interactions
	return digestQueries(t, db,
		"SELECT * FROM "+q(s.Users.Table)+" ORDER BY "+q(s.Users.ID),
		"SELECT * FROM "+q(s.Items.Table)+" ORDER BY "+q(s.Items.ID),
		"SELECT * FROM "+q(in.Table)+" ORDER BY "+q(in.UserKey)+", "+q(in.ItemKey))
}

// TestGeneratedForMovieShop seeds the movie shop of datasettest (string
// user ids, a table named with a space and one with a reserved word,
// multi-valued genres, quantity feedback with dates) on every backend:
// the spec checks against the result, the counts and kinds are right, the
// same seed gives the same rows on every backend, and a second seed is
// refused naming the tables.
func TestGeneratedForMovieShop(t *testing.T) {
	s := shopSpec(t)
	opts := seed.SpecOptions{Users: 120, Items: 150, Interactions: 3000, Seed: 7}
	var first uint64
	for i, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			ctx := context.Background()
			// The queries below quote the shop's odd table names the
			// backend's way.
			quoted := strings.NewReplacer(`"shop users"`, db.Quote("shop users"), `"order"`, db.Quote("order"))
			scalarQ := func(q string) int64 { return scalar[int64](t, db, quoted.Replace(q)) }
			var calls int
			o := opts
			o.Progress = func(done, total int64) {
				calls++
				if total != 120+150+3000 {
					t.Errorf("progress total %d", total)
				}
			}
			stats, err := seed.GeneratedFor(ctx, db, s, o)
			if err != nil {
				t.Fatal(err)
			}
			if calls == 0 {
				t.Error("no progress reported")
			}
			for table, n := range map[string]int64{"shop users": 120, "movies": 150, "order": 3000} {
				if got := stats.Count(table); got != n {
					t.Errorf("stats: %s has %d rows, want %d", table, got, n)
				}
				if got := scalar[int64](t, db, "SELECT COUNT(*) FROM "+db.Quote(table)); got != n {
					t.Errorf("%s has %d rows, want %d", table, got, n)
				}
			}
			if err := dataset.Check(ctx, db, s); err != nil {
				t.Fatalf("the spec does not check against the data generated for it: %v", err)
			}

			// String ids are unique, look like ids, and every order joins.
			if n := scalarQ(`SELECT COUNT(DISTINCT user_id) FROM "shop users"`); n != 120 {
				t.Errorf("%d distinct user ids, want 120", n)
			}
			id := scalar[string](t, db, quoted.Replace(`SELECT MIN(user_id) FROM "shop users"`))
			if len(id) != 13 || id[8] != '-' {
				t.Errorf("user id %q does not look like 3f2a9c1e-77d0", id)
			}
			joined := scalarQ(`SELECT COUNT(*) FROM "order" o JOIN "shop users" u ON u.user_id = o.user_id JOIN movies m ON m.movie_id = o.movie_id`)
			if joined != 3000 {
				t.Errorf("%d orders join their user and movie, want 3000", joined)
			}
			// Genres: some with several, joined by "|", from a small vocabulary.
			if n := scalarQ(`SELECT COUNT(*) FROM movies WHERE genres LIKE '%|%'`); n < 30 {
				t.Errorf("only %d movies with several genres", n)
			}
			if n := scalarQ(`SELECT COUNT(*) FROM movies WHERE genres = '' OR genres LIKE '%||%'`); n != 0 {
				t.Errorf("%d movies with an empty genre", n)
			}
			// Quantities are positive, vary, and every order has a date.
			if lo, hi := scalarQ(`SELECT MIN(quantity) FROM "order"`), scalarQ(`SELECT MAX(quantity) FROM "order"`); lo < 1 || hi < 2 {
				t.Errorf("quantities %d..%d, want ≥ 1 and varied", lo, hi)
			}
			if n := scalarQ(`SELECT COUNT(*) FROM "order" WHERE ordered_at IS NULL`); n != 0 {
				t.Errorf("%d orders without a date", n)
			}
			d := scalar[string](t, db, quoted.Replace(`SELECT MIN(ordered_at) FROM "order"`))
			if !strings.HasPrefix(d, "2024-") {
				t.Errorf("first order date %q, want a date in 2024", d)
			}
			// Prices are positive decimals; years plausible.
			if p := scalar[float64](t, db, `SELECT MIN(CAST(price AS DECIMAL(10,2))) FROM movies`); p <= 0 {
				t.Errorf("minimum price %v", p)
			}
			if y := scalarQ(`SELECT MIN(release_year) FROM movies`); y < 1950 {
				t.Errorf("release year %d", y)
			}

			got := specDigest(t, db, s)
			if i == 0 {
				first = got
			} else if got != first {
				t.Errorf("seed %d on %s gave different rows than on %s", opts.Seed, b.Name, seedtest.Backends[0].Name)
			}

			// A second seed is refused and names the tables.
			_, err = seed.GeneratedFor(ctx, db, s, opts)
			var ne *seed.NotEmptyError
			if !errors.As(err, &ne) || !strings.Contains(err.Error(), "shop users (120 rows)") ||
				!strings.Contains(err.Error(), "order (3000 rows)") || !strings.Contains(err.Error(), "--replace") {
				t.Fatalf("second seed: %v", err)
			}
			// With Replace, another seed gives other rows.
			other := opts
			other.Seed, other.Replace = 8, true
			if _, err := seed.GeneratedFor(ctx, db, s, other); err != nil {
				t.Fatal(err)
			}
			if specDigest(t, db, s) == first {
				t.Error("another seed gave the same rows")
			}
		})
	}
}

// TestGeneratedForFeedbackKinds: explicit ratings stay on a fractional
// scale, weight feedback uses the declared event types, heavier ones for
// stronger interactions, and count feedback has no column.
func TestGeneratedForFeedbackKinds(t *testing.T) {
	const base = `version: 1
interactions:
  table: events
  user_key: visitor
  item_key: sku
%s
users:
  table: visitors
  id: visitor
  id_type: integer
  features:
    - {column: segment, kind: categorical}
items:
  table: products
  id: sku
  id_type: string
  features:
    - {column: tags, kind: multi_categorical, delimiter: ";"}
    - {column: blurb, kind: text}
  passthrough: [vendor]
`
	for _, tt := range []struct {
		name, feedback string
		check          func(t *testing.T, db *source.DB)
	}{
		{"explicit", "  feedback: {kind: explicit, column: stars, scale: {min: 0.5, max: 5}}", func(t *testing.T, db *source.DB) {
			rows, err := db.SQL.Query("SELECT stars FROM events")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			seen := map[string]bool{}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				v, err := strconv.ParseFloat(s, 64)
				if err != nil || v < 0.5 || v > 5 {
					t.Fatalf("rating %q outside 0.5..5", s)
				}
				seen[s] = true
			}
			if len(seen) < 20 {
				t.Errorf("only %d distinct ratings", len(seen))
			}
		}},
		{"weight", "  feedback: {kind: weight, column: event_type, weights: {view: 1, cart: 3, purchase: 5}}\n  timestamp: at", func(t *testing.T, db *source.DB) {
			counts := map[string]int64{}
			rows, err := db.SQL.Query("SELECT event_type, COUNT(*) FROM events GROUP BY event_type")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var e string
				var n int64
				if err := rows.Scan(&e, &n); err != nil {
					t.Fatal(err)
				}
				counts[e] = n
			}
			if len(counts) != 3 || counts["view"] == 0 || counts["cart"] == 0 || counts["purchase"] == 0 {
				t.Errorf("event types %v, want view, cart and purchase", counts)
			}
		}},
		{"count", "  feedback: {kind: count}", func(t *testing.T, db *source.DB) {
			if n := scalar[int64](t, db, "SELECT COUNT(*) FROM events"); n != 2000 {
				t.Errorf("%d events", n)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := dataset.Parse([]byte(fmt.Sprintf(base, tt.feedback)), tt.name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			db := seedtest.SQLite(t)
			if _, err := seed.GeneratedFor(context.Background(), db, s, seed.SpecOptions{Interactions: 2000, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			if err := dataset.Check(context.Background(), db, s); err != nil {
				t.Fatal(err)
			}
			if n := scalar[int64](t, db, "SELECT COUNT(*) FROM products WHERE tags LIKE '%;%'"); n == 0 {
				t.Error("no product with several tags")
			}
			if n := scalar[int64](t, db, "SELECT COUNT(DISTINCT sku) FROM products"); n != scalar[int64](t, db, "SELECT COUNT(*) FROM products") {
				t.Error("product ids are not unique")
			}
			tt.check(t, db)
		})
	}
}

// TestGeneratedForClassicIsGenerated: the built-in spec generates the lab's
// tables, the same rows as Generated.
func TestGeneratedForClassicIsGenerated(t *testing.T) {
	opts := seed.GenOptions{Ratings: 3000, Customers: 60, Products: 120, Seed: 5}
	want := digest(t, seedtest.Generated(t, seedtest.Backends[0], opts))
	db := seedtest.SQLite(t)
	c := dataset.Classic()
	stats, err := seed.GeneratedFor(context.Background(), db, &c, seed.SpecOptions{Users: 60, Items: 120, Interactions: 3000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Tables) != 9 || stats.Count("ratings") != 3000 {
		t.Errorf("stats %+v, want the nine classicmodels tables", stats.Tables)
	}
	if got := digest(t, db); got != want {
		t.Error("GeneratedFor(classicmodels) gave other rows than Generated")
	}
	// A parsed copy of the built-in spec is recognised too.
	p, err := dataset.Parse(dataset.ClassicYAML(), "classicmodels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !seed.IsClassic(p) {
		t.Error("IsClassic(parsed built-in spec) = false")
	}
	if seed.IsClassic(shopSpec(t)) {
		t.Error("IsClassic(movie shop) = true")
	}
}

// TestGeneratedForFailureDropsTables: a cancelled seed leaves none of the
// spec's tables behind; a spec over a query is refused before any table
// is made.
func TestGeneratedForFailureDropsTables(t *testing.T) {
	s := shopSpec(t)
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := seed.GeneratedFor(ctx, db, s, seed.SpecOptions{Interactions: 60_000, Options: seed.Options{
				Progress: func(done, total int64) {
					if done > 10_000 {
						cancel()
					}
				},
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled seed returned %v", err)
			}
			if names, err := db.TableNames(context.Background()); err != nil || len(names) != 0 {
				t.Errorf("after a cancelled seed the source holds %v (%v), want no tables", names, err)
			}
		})
	}
	q := *s
	q.Interactions.Table, q.Interactions.Query = "", `SELECT user_id, movie_id, quantity, ordered_at FROM "order"`
	db := seedtest.SQLite(t)
	_, err := seed.GeneratedFor(context.Background(), db, &q, seed.SpecOptions{Interactions: 100})
	if err == nil || !strings.Contains(err.Error(), "interactions.query") {
		t.Errorf("a spec over a query: %v", err)
	}
	if names, _ := db.TableNames(context.Background()); len(names) != 0 {
		t.Errorf("refused seed created %v", names)
	}
}

// TestGeneratedForFeedbackFollowsFeatures: the features explain a large
// part of the feedback, so a model can learn from them: the mean rating of
// a (user segment, item category) pair varies far more than noise would
// make it.
func TestGeneratedForFeedbackFollowsFeatures(t *testing.T) {
	const spec = `version: 1
interactions: {table: ratings, user_key: uid, item_key: iid, feedback: {kind: explicit, column: stars, scale: {min: 1, max: 5}}}
users: {table: people, id: uid, id_type: string, features: [{column: segment, kind: categorical}]}
items: {table: things, id: iid, id_type: integer, features: [{column: category, kind: categorical}]}
`
	s, err := dataset.Parse([]byte(spec), "features.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := seedtest.SQLite(t)
	if _, err := seed.GeneratedFor(context.Background(), db, s, seed.SpecOptions{Interactions: 40_000, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	rows, err := db.SQL.Query(`SELECT AVG(r.stars), COUNT(*) FROM ratings r JOIN people p ON p.uid = r.uid
		JOIN things i ON i.iid = r.iid GROUP BY p.segment, i.category HAVING COUNT(*) >= 50`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var means []float64
	for rows.Next() {
		var m float64
		var n int64
		if err := rows.Scan(&m, &n); err != nil {
			t.Fatal(err)
		}
		means = append(means, m)
	}
	if len(means) < 20 {
		t.Fatalf("only %d (segment, category) pairs with 50 ratings", len(means))
	}
	var sum, sq float64
	for _, m := range means {
		sum += m
	}
	avg := sum / float64(len(means))
	for _, m := range means {
		sq += (m - avg) * (m - avg)
	}
	// Noise alone: a ~1.2 standard deviation over ≥ 50 ratings, < 0.2.
	if sd := math.Sqrt(sq / float64(len(means)-1)); sd < 0.4 {
		t.Errorf("mean ratings of (segment, category) pairs vary by %.2f, want ≥ 0.4: the features barely matter", sd)
	} else {
		t.Logf("mean ratings of %d (segment, category) pairs: sd %.2f around %.2f", len(means), sd, avg)
	}
}
