package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/source/mysql"
)

func TestAcceptance(t *testing.T) {
	seedtest.SourceAcceptance(t, seedtest.MySQL)
}

// The INSERT path is what MySQL 8 gets by default (local_infile=OFF).
func TestAcceptanceInsertPath(t *testing.T) {
	defer mysql.DisableInfile()()
	seedtest.SourceAcceptance(t, seedtest.MySQL)
}

func TestInfileChunks(t *testing.T) {
	defer mysql.SetRowsPerInfile(1000)()
	for _, n := range []int{999, 1000, 2500, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db := seedtest.MySQL(t)
			ctx := context.Background()
			if err := db.CreateTables(ctx, source.Schema()); err != nil {
				t.Fatal(err)
			}
			rows := func(yield func([]any, error) bool) {
				for i := range n {
					if !yield([]any{int64(i), "S10_1678", int64(1 + i%5)}, nil) {
						return
					}
				}
			}
			got, err := db.Load(ctx, source.Ratings, rows)
			if err != nil || got != int64(n) {
				t.Fatalf("Load = %d, %v; want %d", got, err, n)
			}
			if c, err := db.CountRows(ctx, source.Ratings); err != nil || c != int64(n) {
				t.Errorf("CountRows = %d, %v; want %d", c, err, n)
			}
		})
	}
}

// A value MySQL would silently truncate under LOAD DATA LOCAL must fail the
// load, as it fails an INSERT in strict mode.
func TestTruncationIsAnError(t *testing.T) {
	for _, path := range []string{"infile", "insert"} {
		t.Run(path, func(t *testing.T) {
			if path == "insert" {
				defer mysql.DisableInfile()()
			}
			db := seedtest.MySQL(t)
			ctx := context.Background()
			if err := db.CreateTables(ctx, source.Schema()); err != nil {
				t.Fatal(err)
			}
			long := strings.Repeat("x", 16) // productCode is VARCHAR(15)
			_, err := db.Load(ctx, source.Ratings, func(yield func([]any, error) bool) {
				yield([]any{int64(1), long, int64(3)}, nil)
			})
			if err == nil {
				t.Fatal("loading a 16-character product code succeeded")
			}
			t.Logf("error (as expected): %v", err)
			if n, err := db.CountRows(ctx, source.Ratings); err != nil || n != 0 {
				t.Errorf("after the failed load ratings has %d rows (%v), want 0: the batch must roll back", n, err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	raw := seedtest.MySQLURL(t)
	u, _ := url.Parse(raw)
	ctx := context.Background()
	db, err := mysql.Open(ctx, raw, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if want := u.Host + u.Path; db.Address != want || db.String() != "mysql "+want {
		t.Errorf("Address = %q, want %q", db.Address, want)
	}
}

func TestOpenErrors(t *testing.T) {
	base, err := url.Parse(testenv.URL(t, testenv.MySQLVar))
	if err != nil {
		t.Fatal(err)
	}
	host := base.Host
	if base.Port() == "" {
		host += ":3306"
	}
	user := base.User.Username()
	const secret = "Sup3r-Secret-pw"
	withPassword := func(h, db string) string {
		return (&url.URL{Scheme: "mysql", User: url.UserPassword(user, secret), Host: h, Path: "/" + db}).String()
	}
	plain := func(db string) string {
		return (&url.URL{Scheme: "mysql", User: base.User, Host: host, Path: "/" + db}).String()
	}
	tests := []struct {
		name        string
		url         string
		create      bool
		want        []string
		unreachable bool
		notExist    bool
	}{
		{name: "wrong password", url: withPassword(host, "mysql"), unreachable: true,
			want: []string{host, `"mysql"`, fmt.Sprintf("%q", user), "Access denied"}},
		{name: "closed port", url: withPassword("127.0.0.1:1", "shop"), unreachable: true,
			want: []string{"127.0.0.1:1", `"shop"`, fmt.Sprintf("%q", user), "refused"}},
		{name: "missing database without create", url: plain("recoflow_t_missing_db"), notExist: true,
			want: []string{host, `database "recoflow_t_missing_db" does not exist`}},
		{name: "bad name to create", url: plain("bad-name"), create: true,
			want: []string{`"bad-name"`, "cannot create"}},
		{name: "no database", url: plain(""), want: []string{"no database name"}},
		{name: "bad port keeps password out", url: "mysql://root:" + secret + "@localhost:abc/db", want: []string{"invalid port"}},
		{name: "bad parameter", url: plain("mysql") + "?parseTime=maybe", want: []string{"parameters"}},
		{name: "wrong scheme", url: "postgres://x@y/z", want: []string{"scheme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := mysql.Open(context.Background(), tt.url, tt.create)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q reveals the password", msg)
			}
			if got := errors.Is(err, source.ErrUnreachable); got != tt.unreachable {
				t.Errorf("errors.Is(err, ErrUnreachable) = %v, want %v", got, tt.unreachable)
			}
			if got := errors.Is(err, source.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
}
