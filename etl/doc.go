// Package etl is recoflow's batch job: it reads the shop's ratings joined
// with their customers and products from a source database and writes the
// training dataset of DESIGN.md §4 — snappy Parquet, Hive-partitioned by
// customerNumber — into a lake.
//
// A run streams: rows arrive from the database in customerNumber order, one
// partition's Parquet file is encoded at a time, and finished files are
// uploaded by a small pool of workers, so memory is bounded by a constant
// (a few files' worth), not by the table size.
//
// A run commits atomically. Files are written under a hidden staging prefix
// (.recoflow/runs/ratings_ml_training/<run id>/), the manifest last; then the
// run is published. On a local lake, publishing swaps a symbolic link, so any
// reader sees the previous complete dataset or the new one. On S3, the files
// (whose names carry the run id) are copied into ratings_ml_training/, the
// manifest _manifest.json is written there as the commit point, and the
// previous run's files are deleted; readers that follow the manifest (as
// recoflow train does) always see one complete run. A run that fails or is
// killed leaves the previous dataset untouched.
//
// The same run exports the whole catalogue — every customer and product,
// rated or not — as ratings_ml_training/_catalog/<run id>/customers and
// products Parquet files, committed by the same manifest
// (training.ReadCatalog reads it).
//
// One run at a time writes a lake's dataset: a run holds the lake's lease
// (lake.Leaser; LeaseName) from before it stages anything until it has
// committed, and a second run fails with ErrBusy naming the holder. Only
// the holder removes staged runs, and a run that loses its lease commits
// nothing.
//
// A run that would commit zero rows, or shrink the dataset by more than
// Options.MaxShrink, fails with ErrRefused unless allowed. The last
// Options.KeepRuns committed runs stay staged: Runs lists them and Rollback
// commits one again.
//
// Rows that cannot be training data — a rating outside 1..5, a NULL key, a
// customer or product that does not exist, a value that does not fit the
// schema — are kept out and, by default, written with the reason to
// rejects/ratings_ml_training/<run id>.ndjson (Options.OnBadRows).
package etl
