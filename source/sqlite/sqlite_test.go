package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/source/sqlite"
)

func TestAcceptance(t *testing.T) {
	seedtest.SourceAcceptance(t, seedtest.SQLite)
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		create  bool
		wantErr string
		notExis bool
	}{
		{name: "missing file without create", path: filepath.Join(dir, "x", "y.db"), wantErr: "sqlite source " + filepath.Join(dir, "x", "y.db") + ": file does not exist", notExis: true},
		{name: "create with parent directories", path: filepath.Join(dir, "a", "b", "shop.db"), create: true},
		{name: "reopen existing without create", path: filepath.Join(dir, "a", "b", "shop.db")},
		{name: "a directory", path: dir, create: true, wantErr: "is a directory"},
		{name: "not a database", path: notDB, wantErr: "notes.txt"},
		{name: "empty path", path: "", create: true, wantErr: "empty file path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlite.Open(ctx, tt.path, tt.create)
			if tt.wantErr != "" {
				if err == nil {
					db.Close()
					t.Fatalf("Open succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Open error = %q, want it to contain %q", err, tt.wantErr)
				}
				if tt.notExis != errors.Is(err, source.ErrNotExist) {
					t.Errorf("errors.Is(err, ErrNotExist) = %v, want %v", !tt.notExis, tt.notExis)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Address != tt.path || db.Dialect.Name() != "sqlite" || db.String() != "sqlite "+tt.path {
				t.Errorf("DB = %+v", db)
			}
			var mode string
			if err := db.SQL.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("journal_mode = %q, %v; want wal", mode, err)
			}
			var timeout int
			if err := db.SQL.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout != int(sqlite.BusyTimeout.Milliseconds()) {
				t.Errorf("busy_timeout = %d, %v", timeout, err)
			}
		})
	}
}

func TestSpecialCharactersInPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my shop?#%.db")
	db, err := sqlite.Open(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at the exact path: %v", err)
	}
}

func TestDDL(t *testing.T) {
	var d sqlite.Dialect
	for _, tbl := range source.Schema() {
		stmts := d.CreateTable(&tbl)
		ddl := strings.Join(stmts, ";\n")
		if tbl.Name == source.Products && !strings.Contains(ddl, `"buyPrice" TEXT`) {
			t.Errorf("products: decimals must have TEXT affinity:\n%s", ddl)
		}
		if tbl.Name == source.Ratings && (!strings.Contains(ddl, "WITHOUT ROWID") || strings.Contains(ddl, "FOREIGN KEY")) {
			t.Errorf("ratings DDL:\n%s", ddl)
		}
	}
}
