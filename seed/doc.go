// Package seed fills a source database with the shop's data: the schema of
// package source, then either the real classicmodels sample or a generated
// dataset of any size.
//
// Seeding a test database takes one call after opening it:
//
//	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shop.db"), true)
//	stats, err := seed.Classicmodels(ctx, db, seed.Options{})
//	// 122 customers, 110 products, 2,532 ratings, …
//
//	stats, err = seed.Generated(ctx, db, seed.GenOptions{Ratings: 50_000, Seed: 7,
//		Options: seed.Options{Replace: true}})
//
// (package seed/seedtest wraps this for tests, on SQLite and on the MariaDB
// of RECOFLOW_TEST_MYSQL.)
//
// A seed never mixes with existing data: a source that already holds any of
// the schema's tables is refused with a *NotEmptyError naming them and their
// row counts, unless Options.Replace asks to drop and recreate them. A seed
// that fails, or is cancelled, drops the tables it created.
//
// Generated data is deterministic: the same GenOptions give the same rows on
// every run and backend (on one CPU architecture; another may round a rare
// floating-point value differently), and rows are produced while they are loaded, in
// primary-key order, so ten million ratings take minutes and constant
// memory. Ratings depend on features a content-based model sees (the
// customer's country and credit limit, the product's line, scale and price)
// through a fixed hidden taste (Affinity), on a latent taste of each customer
// for each product that only the ids reveal, plus noise; which products a
// customer rates follows a long-tailed popularity and the customer's taste
// (see Shape, whose knobs turn each part off).
package seed
