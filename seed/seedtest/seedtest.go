// Package seedtest gives tests a fresh source database — SQLite always,
// MariaDB/MySQL when RECOFLOW_TEST_MYSQL names a server — empty or seeded
// in one call, and holds the acceptance suite every source backend passes.
//
//	func TestETL(t *testing.T) {
//		for _, b := range seedtest.Backends {
//			t.Run(b.Name, func(t *testing.T) {
//				db := seedtest.Classicmodels(t, b) // or seedtest.Generated(t, b, opts)
//				…
//			})
//		}
//	}
//
// Each MySQL test gets its own database recoflow_t_<random>, dropped when
// the test ends; each SQLite test its own file under t.TempDir().
package seedtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/seed"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/source/mysql"
	"github.com/recoflow/recoflow/source/sqlite"
)

// Backend opens a fresh, empty source database for a test.
type Backend struct {
	Name string
	// Open returns a new empty database, closed (and for MySQL dropped)
	// when the test ends. It skips or fails the test when the backend's
	// service is not configured, as testenv decides.
	Open func(t testing.TB) *source.DB
	// URL returns the URL of a new empty database, as a user would pass it
	// to recoflow; the database is removed when the test ends.
	URL func(t testing.TB) string
}

// Backends are the source backends, the embedded one first.
var Backends = []Backend{
	{Name: "sqlite", Open: SQLite, URL: SQLiteURL},
	{Name: "mysql", Open: MySQL, URL: MySQLURL},
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// SQLiteURL returns sqlite:// URL of a database file in a new temporary
// directory (the file does not exist yet).
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "shop.db")
}

// SQLite returns a new empty SQLite database in a temporary directory.
func SQLite(t testing.TB) *source.DB {
	t.Helper()
	db, err := sqlite.Open(testContext(t), filepath.Join(t.TempDir(), "shop.db"), true)
	if err != nil {
		t.Fatalf("open sqlite test source: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// MySQLURL creates a new database recoflow_t_<random> on the server of
// RECOFLOW_TEST_MYSQL, drops it when the test ends, and returns its URL.
func MySQLURL(t testing.TB) string {
	t.Helper()
	base := testenv.URL(t, testenv.MySQLVar)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", testenv.MySQLVar, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "recoflow_t_" + hex.EncodeToString(b[:])
	u.Path = "/" + name
	raw := u.String()
	ctx := testContext(t)
	db, err := mysql.Open(ctx, raw, true)
	if err != nil {
		t.Fatalf("create MySQL test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The name is generated above from hex digits.
		if _, err := db.SQL.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop MySQL test database %s: %v", name, err)
		}
		db.Close()
	})
	return raw
}

// MySQL returns a new empty database on the server of RECOFLOW_TEST_MYSQL.
func MySQL(t testing.TB) *source.DB {
	t.Helper()
	raw := MySQLURL(t)
	db, err := mysql.Open(testContext(t), raw, false)
	if err != nil {
		t.Fatalf("open MySQL test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Classicmodels returns a new database of backend b holding the real
// classicmodels sample and the lab's ratings.
func Classicmodels(t testing.TB, b Backend) *source.DB {
	t.Helper()
	db := b.Open(t)
	if _, err := seed.Classicmodels(testContext(t), db, seed.Options{}); err != nil {
		t.Fatalf("seed classicmodels into %s: %v", db, err)
	}
	return db
}

// Generated returns a new database of backend b holding a generated
// dataset (see seed.Generated; zero sizes take the defaults).
func Generated(t testing.TB, b Backend, opts seed.GenOptions) *source.DB {
	t.Helper()
	db := b.Open(t)
	if _, err := seed.Generated(testContext(t), db, opts); err != nil {
		t.Fatalf("seed generated dataset into %s: %v", db, err)
	}
	return db
}
