// Package sqlite is the embedded source backend: a SQLite file opened with
// the pure-Go driver modernc.org/sqlite (no C compiler, no server).
//
// Open sets every connection to WAL journaling with synchronous=NORMAL, a
// busy timeout, and IMMEDIATE write transactions, so one writer and many
// readers (the ETL while a seed runs, several tests) wait for each other
// instead of failing with "database is locked".
//
// Types follow the source schema: integers are INTEGER; VARCHAR(n) keeps
// its declared name (TEXT affinity); DECIMAL and DATE columns are TEXT, so
// "21000.00" and "2003-01-06" read back byte for byte. Foreign keys are
// declared as in MySQL but, as is SQLite's default, not enforced. ratings is
// a WITHOUT ROWID table clustered on its primary key, like InnoDB's.
//
// Bulk loads use multi-row prepared INSERTs inside large transactions.
package sqlite
