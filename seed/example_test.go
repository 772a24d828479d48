package seed_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/recoflow/recoflow/seed"
	"github.com/recoflow/recoflow/source/sqlite"
)

// Load the real sample into a new SQLite file.
func ExampleClassicmodels() {
	dir, err := os.MkdirTemp("", "seed-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), true)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	stats, err := seed.Classicmodels(ctx, db, seed.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.Count("customers"), "customers,", stats.Count("products"), "products,", stats.Count("ratings"), "ratings")
	// Output: 122 customers, 110 products, 2532 ratings
}

// Generate a dataset of 10,000 ratings; the other sizes follow from it.
func ExampleGenerated() {
	dir, err := os.MkdirTemp("", "seed-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), true)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	stats, err := seed.Generated(ctx, db, seed.GenOptions{Ratings: 10_000, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.Count("customers"), "customers,", stats.Count("products"), "products,", stats.Count("ratings"), "ratings")
	// Output: 100 customers, 200 products, 10000 ratings
}
