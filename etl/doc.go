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
//
// # Any shop: a run that follows a dataset spec
//
// Options.Spec (recoflow etl --dataset FILE) names the dataset spec a run
// follows; without one, or with a spec whose interactions, users, items
// and lake are the built-in spec's, the run is the lab's as described
// above, byte for byte. With any other spec the run writes
// <lake>/<lake.dataset>/, stages in .recoflow/runs/<lake.dataset>/, keeps
// its history and lease under that name and its rejects in
// rejects/<lake.dataset>/; atomic commits, the lease, the empty and
// shrink guards and the bad-row policies are the same.
//
// The spec is checked against the source first (dataset.Check: tables,
// columns, types), before the lake is touched or a row is read. The run
// then reads
//
//	SELECT x.<user_key>, x.<item_key>, <the training columns>
//	FROM <interactions table, or (query)> AS x
//	LEFT JOIN <users table> AS u ON u.<users.id> = x.<user_key>
//	LEFT JOIN <items table> AS m ON m.<items.id> = x.<item_key>
//	ORDER BY <partition column>, x.<user_key>, x.<item_key>
//
// with every identifier quoted the backend's way (source.DB.Quote), and
// writes one row per interaction whose user and item exist. The training
// columns are, in this order:
//
//  1. the user's id (named as users.id, read from the users' table);
//  2. the users' features (named by their name:) and passthrough columns,
//     in the order of the users' table's columns;
//  3. the item's id, then the items' features and passthrough columns, in
//     the order of the items' table's columns;
//  4. the feedback column (none for feedback of kind count);
//  5. the timestamp column, if any.
//
// The built-in spec follows the same rule: its customers' columns city,
// state, postalCode, country, creditLimit are in table order.
//
// Each column's Parquet type comes from the source column's type:
// text → STRING; TINYINT, SMALLINT, MEDIUMINT, INT (signed) and BOOLEAN →
// INT32; BIGINT, unsigned INT and SQLite's INTEGER (64-bit) → INT64;
// DECIMAL(p,s) with p ≤ 18 → DECIMAL(p,s) on INT32 (p ≤ 9) or INT64 (more digits are
// refused); FLOAT, DOUBLE, REAL and a DECIMAL without precision → DOUBLE;
// DATE → DATE; DATETIME and TIMESTAMP → TIMESTAMP(MICROS, UTC); TIME → STRING;
// YEAR → INT32; binary → BYTE_ARRAY; a column of no declared type → STRING.
// The timestamp column is a DATE when the source's is a DATE, and
// TIMESTAMP(MICROS, UTC) otherwise: integers are Unix seconds, SQLite's
// text ISO-8601 and reals Julian days. A nullable source column is
// OPTIONAL; ids are never NULL.
//
// The partition column (lake.partition) is not stored in the files: rows
// are written under <lake>/<lake.dataset>/<column>=<value>/part-*.snappy.parquet,
// the value escaped as Hive does (training.PartitionDirOf). The manifest
// records the spec's name and hash, the partition column, each
// partition's value and the schema.
//
// Rows that cannot be training data are rejected with a reason, like the
// built-in path's: an unknown user or item (unknown_user, unknown_item), a
// NULL key (null_key), a NULL in a column that is not nullable
// (null_value), a value that does not fit its type (bad_value), explicit
// feedback outside its scale (feedback_out_of_range), an event type
// without a weight (unknown_event). The feedback column of kind weight is
// always STRING (integer event codes as decimal text), to match the
// weights' keys.
//
// The catalogue export (every user and item, rated or not) is the built-in
// path's only, for now.
package etl
