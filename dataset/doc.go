// Package dataset is the dataset spec: one declarative YAML file that says
// where a shop's data is and what it means, so recoflow can work on any
// shop's schema, not only the lab's.
//
// A spec names the interactions table (or a SQL query) with its user and
// item keys and its feedback — an explicit rating on a scale, or implicit
// feedback: a count of rows, a quantity column, or event types with
// weights — and an optional timestamp; the users' and items' tables with
// their id columns and id types (string or integer); each feature column
// with its kind (categorical with an optional cap, multi_categorical with a
// delimiter, numeric with standard or log scaling, free text as tokens);
// the lake dataset's name and partition column; and how the fields of a
// stream event map onto the user's id, features and browsed items.
//
// A spec goes through three gates before any work is done:
//
//	s, err := dataset.Load("shop.yaml")  // strict YAML: unknown keys, wrong types, invalid settings
//	err = dataset.Check(ctx, db, s)      // against the source: tables, columns, types; no row read
//
// Both return an *Error whose problems name the key path and the file's
// line, e.g.
//
//	shop.yaml:14: items.features[2].kind: unknown kind "categoricl"; did you mean "categorical"? (want …)
//
// Classic is the built-in spec of the lab's classicmodels shop, used when
// no spec is given; ClassicYAML is the same as a commented file. DraftFrom
// guesses a spec from a database's schema for a person to edit.
//
// Every stage follows a spec: seed, the ETL, training, evaluation and
// produce take one; the vector store, the API and the stream follow the
// one recorded in a model's artifacts.
package dataset
