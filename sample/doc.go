// Package sample embeds the classicmodels sample database — the MySQL dump
// the lab starts from — and the lab's ratings, and hands them out as Go
// values.
//
// The files under data/ are byte-identical copies of the published ones
// (see data/SOURCE.md for origin and checksum). Nothing here touches a
// database: package seed loads these values into a source, and the stream
// simulator draws shoppers and products from Customers and Products.
//
//	products, err := sample.Products()   // 110 products, by code
//	ratings, err := sample.Ratings()     // 2,532 ratings 1..5
//	t, err := sample.TableData("orders") // any of the 8 tables, raw
//
// The dump is parsed by ParseDump, a small hand-written reader for the
// INSERT statements of MySQL dumps; it is fuzz-tested (FuzzParseDump).
package sample
