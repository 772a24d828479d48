// Package source is recoflow's view of the shop's relational database: the
// classicmodels schema plus the lab's ratings table.
//
// A source is a database/sql handle plus the dialect that knows how the
// backend differs (DDL, bulk loading, error wording). The backends live in
// subpackages — source/mysql (MySQL 8, MariaDB 10.11) and source/sqlite (pure
// Go, the embedded default) — and are the only packages that import a driver.
// internal/connect picks one from a URL.
package source

import (
	"database/sql"
	"errors"
)

// ErrUnreachable wraps failures to connect to or authenticate with a source.
var ErrUnreachable = errors.New("source database unreachable")

// Dialect describes what differs between source backends.
type Dialect interface {
	// Name is the backend's short name: "mysql" or "sqlite".
	Name() string
}

// DB is an open source database.
type DB struct {
	// SQL is the connection pool. Every statement run on it is parameterised.
	SQL *sql.DB
	// Dialect says which backend this is.
	Dialect Dialect
	// Address names the database for messages: host and database, or the
	// file path. It never holds a password.
	Address string
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.SQL.Close() }

// String returns the redacted address.
func (db *DB) String() string { return db.Dialect.Name() + " " + db.Address }
