// Package datasettest gives tests a shop unlike the lab's, in any source
// backend: a movie shop whose users have string ids and live in a table
// named with a space ("shop users"), whose movies have integer ids and
// several genres each ("Action|Comedy"), and whose interactions are
// purchases with a quantity and a date in a table named with a reserved
// word ("order"). ShopSpecYAML is the spec that describes it.
package datasettest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
)

// Table names of the movie shop.
const (
	Users  = "shop users"
	Movies = "movies"
	Orders = "order"
)

// ShopTables returns the movie shop's tables, in creation order.
func ShopTables() []source.Table {
	return []source.Table{
		{
			Name: Users,
			Columns: []source.Column{
				{Name: "user_id", Type: source.VarChar, Size: 36},
				{Name: "country", Type: source.VarChar, Size: 50},
				{Name: "age", Type: source.Int, Nullable: true},
				{Name: "signup_date", Type: source.Date},
			},
			PrimaryKey: []string{"user_id"},
		},
		{
			Name: Movies,
			Columns: []source.Column{
				{Name: "movie_id", Type: source.Int},
				{Name: "title", Type: source.VarChar, Size: 200},
				{Name: "genres", Type: source.VarChar, Size: 200},
				{Name: "release_year", Type: source.SmallInt},
				{Name: "price", Type: source.Decimal, Size: 6, Scale: 2},
				{Name: "overview", Type: source.Text, Nullable: true},
			},
			PrimaryKey: []string{"movie_id"},
		},
		{
			Name: Orders,
			Columns: []source.Column{
				{Name: "user_id", Type: source.VarChar, Size: 36},
				{Name: "movie_id", Type: source.Int},
				{Name: "quantity", Type: source.Int},
				{Name: "ordered_at", Type: source.Date},
			},
			PrimaryKey: []string{"user_id", "movie_id", "ordered_at"},
			Indexes:    [][]string{{"movie_id"}},
			ForeignKeys: []source.ForeignKey{
				{Columns: []string{"user_id"}, Ref: Users, RefColumns: []string{"user_id"}},
				{Columns: []string{"movie_id"}, Ref: Movies, RefColumns: []string{"movie_id"}},
			},
		},
	}
}

// Shop returns a new database of backend b holding the movie shop with a
// few rows in each table.
func Shop(t testing.TB, b seedtest.Backend) *source.DB {
	t.Helper()
	db := b.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

// ShopURL returns the URL of a new database of backend b holding the
// movie shop, as a user would pass it to recoflow.
func ShopURL(t testing.TB, b seedtest.Backend) string {
	t.Helper()
	url := b.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := connect.Source(ctx, url, connect.SourceOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	return url
}

// Create creates the movie shop's tables in db and fills them with a few
// rows.
func Create(ctx context.Context, db *source.DB) error {
	tables := ShopTables()
	if err := db.CreateTables(ctx, tables); err != nil {
		return err
	}
	data := [][][]any{
		{
			{"3f2a-ana", "Portugal", int64(34), "2024-01-05"},
			{"9c1e-ben", "Kenya", nil, "2024-02-11"},
			{"77d0-chloe", "Canada", int64(27), "2025-06-30"},
		},
		{
			{int64(1), "Night Train", "Action|Thriller", int64(2019), "9.99", "A chase across Europe."},
			{int64(2), "Paper Moons", "Comedy|Romance", int64(2021), "4.50", nil},
			{int64(3), "The Long Field", "Drama", int64(2008), "12.00", "Farmers, drought, hope."},
		},
		{
			{"3f2a-ana", int64(1), int64(2), "2025-03-01"},
			{"3f2a-ana", int64(3), int64(1), "2025-03-04"},
			{"9c1e-ben", int64(2), int64(1), "2025-04-12"},
			{"77d0-chloe", int64(1), int64(3), "2025-05-20"},
		},
	}
	for i := range tables {
		rows := func(yield func([]any, error) bool) {
			for _, r := range data[i] {
				if !yield(r, nil) {
					return
				}
			}
		}
		if _, err := db.Dialect.Load(ctx, db.SQL, &tables[i], rows); err != nil {
			return fmt.Errorf("load %s into %s: %w", tables[i].Name, db, err)
		}
	}
	return nil
}

// ShopSpecYAML is the dataset spec of the movie shop, as a person would
// write it (docs/DATASET_SPEC.md shows the same file).
const ShopSpecYAML = `version: 1
name: movie-shop

interactions:
  table: order               # a reserved word: recoflow quotes every identifier
  user_key: user_id
  item_key: movie_id
  feedback:
    kind: quantity           # implicit: copies bought
    column: quantity
  timestamp: ordered_at

users:
  table: shop users          # a space in the name
  id: user_id
  id_type: string
  features:
    - column: country
      kind: categorical
      max_categories: 50     # the 50 most frequent countries; the rest become "other"
    - column: age
      kind: numeric

items:
  table: movies
  id: movie_id
  id_type: integer
  features:
    - column: genres
      kind: multi_categorical
      delimiter: "|"         # "Action|Thriller"
      max_categories: 30
      overflow: hash
    - column: release_year
      kind: numeric
    - column: price
      kind: numeric
      scaling: log
    - column: overview
      kind: text
      max_tokens: 5000

lake:
  dataset: movie_orders
  partition: user_id

stream:
  session: session
  user_id: user
  user_features:
    country: country
    age: age
  browsed_items: viewed
  item_id: movie
  quantity: copies
`
