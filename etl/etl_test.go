package etl_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/seed"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/training"
)

// sourceKind opens a fresh, empty source database of one backend.
type sourceKind struct {
	name string
	open func(t *testing.T) *source.DB
}

func sqliteSource(t *testing.T) *source.DB {
	t.Helper()
	db, err := connect.Source(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "shop.db"), connect.SourceOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mysqlSource(t *testing.T) *source.DB {
	t.Helper()
	base := testenv.URL(t, testenv.MySQLVar)
	name := fmt.Sprintf("recoflow_etl_%d", rand.Uint32())
	db, err := connect.Source(context.Background(), strings.TrimSuffix(base, "/")+"/"+name, connect.SourceOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.SQL.Exec("DROP DATABASE " + name)
		db.Close()
	})
	return db
}

var sources = []sourceKind{{"sqlite", sqliteSource}, {"mariadb", mysqlSource}}

func fileLake(t *testing.T) lake.Bucket {
	t.Helper()
	b, err := lakefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testS3Prefix returns the URL of a fresh prefix of the S3 test bucket.
func testS3Prefix(t *testing.T) string {
	t.Helper()
	u := testenv.URL(t, testenv.S3Var)
	// Each test gets its own prefix in the test bucket.
	bucketURL, query, _ := strings.Cut(u, "?")
	return fmt.Sprintf("%s/etl-%d?%s&create=true", strings.TrimSuffix(bucketURL, "/"), rand.Uint32(), query)
}

func s3Lake(t *testing.T) lake.Bucket {
	t.Helper()
	prefixed := testS3Prefix(t)
	b, err := connect.Lake(context.Background(), prefixed, connect.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		b.List(ctx, "", func(k string) error { keys = append(keys, k); return nil })
		for _, k := range keys {
			b.Delete(ctx, k)
		}
		b.Close()
	})
	return b
}

func seedClassic(t *testing.T, db *source.DB) {
	t.Helper()
	if _, err := seed.Classicmodels(context.Background(), db, seed.Options{}); err != nil {
		t.Fatalf("seed classicmodels: %v", err)
	}
}

// sourceJoin returns the inner join as the contract defines it, straight
// from the source, in (customerNumber, productCode) order.
func sourceJoin(t *testing.T, db *source.DB) []training.Record {
	t.Helper()
	rows, err := db.SQL.Query(`SELECT r.customerNumber, c.city, c.state, c.postalCode, c.country, c.creditLimit,
 p.productCode, p.productLine, p.productScale, p.quantityInStock, p.buyPrice, p.MSRP, r.productRating
FROM ratings r JOIN products p ON p.productCode = r.productCode JOIN customers c ON c.customerNumber = r.customerNumber
ORDER BY r.customerNumber, r.productCode`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []training.Record
	for rows.Next() {
		var r training.Record
		var state, postal sql.NullString
		var credit, buy, msrp float64
		if err := rows.Scan(&r.CustomerNumber, &r.City, &state, &postal, &r.Country, &credit,
			&r.ProductCode, &r.ProductLine, &r.ProductScale, &r.QuantityInStock, &buy, &msrp, &r.ProductRating); err != nil {
			t.Fatal(err)
		}
		if state.Valid {
			r.State = &state.String
		}
		if postal.Valid {
			r.PostalCode = &postal.String
		}
		r.CreditLimit = cents(credit)
		r.BuyPrice = cents(buy)
		r.MSRP = cents(msrp)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func cents(f float64) int64 {
	if f < 0 {
		return int64(f*100 - 0.5)
	}
	return int64(f*100 + 0.5)
}

func readDataset(t *testing.T, b lake.BucketReader) ([]training.Record, *training.Manifest) {
	t.Helper()
	var out []training.Record
	m, err := training.Read(context.Background(), b, func(r *training.Record) error {
		c := *r
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("read committed dataset: %v", err)
	}
	return out, m
}

func strp(s *string) string {
	if s == nil {
		return "<NULL>"
	}
	return fmt.Sprintf("%q", *s)
}

func formatRecord(r training.Record) string {
	return fmt.Sprintf("{%d %q %s %s %q %d %q %q %q %d %d %d %d}", r.CustomerNumber, r.City, strp(r.State), strp(r.PostalCode),
		r.Country, r.CreditLimit, r.ProductCode, r.ProductLine, r.ProductScale, r.QuantityInStock, r.BuyPrice, r.MSRP, r.ProductRating)
}

// TestClassicmodels is the contract test: the real sample data through
// every source backend into every lake backend.
func TestClassicmodels(t *testing.T) {
	lakes := []struct {
		name string
		open func(t *testing.T) lake.Bucket
	}{{"file", fileLake}, {"s3", s3Lake}}
	for _, src := range sources {
		for _, lk := range lakes {
			if src.name == "mariadb" && lk.name == "s3" {
				continue // every backend is covered by the other pairs; keep the test short
			}
			t.Run(src.name+"_to_"+lk.name, func(t *testing.T) {
				db := src.open(t)
				seedClassic(t, db)
				b := lk.open(t)
				sum, err := etl.Run(context.Background(), db, b, etl.Options{})
				if err != nil {
					t.Fatalf("etl: %v", err)
				}
				if sum.Rows != 2532 || sum.Partitions != 98 || sum.Rejected != 0 {
					t.Errorf("summary: %d rows in %d partitions, %d rejected; want 2532 rows in 98 partitions, 0 rejected", sum.Rows, sum.Partitions, sum.Rejected)
				}
				got, m := readDataset(t, b)
				want := sourceJoin(t, db)
				if len(got) != 2532 || len(want) != 2532 {
					t.Fatalf("dataset has %d rows, source join %d; want 2532 each", len(got), len(want))
				}
				if len(m.Partitions) != 98 {
					t.Errorf("manifest lists %d partitions, want 98", len(m.Partitions))
				}
				for i := range want {
					if g, w := formatRecord(got[i]), formatRecord(want[i]); g != w {
						t.Fatalf("row %d differs:\n lake   %s\n source %s", i, g, w)
					}
				}
				checkLayout(t, b, m)
			})
		}
	}
}

// checkLayout checks the Hive layout and the Parquet schema of the files
// as an outside reader (Spark, DuckDB) finds them by listing the lake.
func checkLayout(t *testing.T, b lake.Bucket, m *training.Manifest) {
	t.Helper()
	ctx := context.Background()
	var files []string
	err := b.List(ctx, training.Dataset+"/", func(k string) error {
		// Outside readers skip names starting with "_" (the catalogue).
		if strings.HasSuffix(k, ".parquet") && !strings.HasPrefix(k, training.Dataset+"/_") {
			files = append(files, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nfiles := 0
	for _, p := range m.Partitions {
		nfiles += len(p.Files)
	}
	if len(files) != nfiles {
		t.Fatalf("listing %s/ finds %d Parquet files, the manifest lists %d", training.Dataset, len(files), nfiles)
	}
	for _, f := range files {
		parts := strings.Split(f, "/")
		if len(parts) != 3 || !strings.HasPrefix(parts[1], "customerNumber=") || !strings.HasPrefix(parts[2], "part-") || !strings.HasSuffix(parts[2], ".snappy.parquet") {
			t.Fatalf("file %s is not ratings_ml_training/customerNumber=<N>/part-*.snappy.parquet", f)
		}
	}
	rc, err := b.Get(ctx, files[0])
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	pf, err := parquet.OpenFile(strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	const wantSchema = `message Row {
	required binary city (STRING);
	optional binary state (STRING);
	optional binary postalCode (STRING);
	required binary country (STRING);
	required int64 creditLimit (DECIMAL(10,2));
	required binary productCode (STRING);
	required binary productLine (STRING);
	required binary productScale (STRING);
	required int32 quantityInStock (INT(32,true));
	required int64 buyPrice (DECIMAL(10,2));
	required int64 MSRP (DECIMAL(10,2));
	required int32 productRating (INT(32,true));
}`
	if got := pf.Schema().String(); got != wantSchema {
		t.Errorf("schema of %s:\n%s\nwant\n%s", files[0], got, wantSchema)
	}
	if md := pf.Metadata(); len(md.RowGroups) > 0 && len(md.RowGroups[0].Columns) > 0 {
		if codec := md.RowGroups[0].Columns[0].MetaData.Codec.String(); codec != "SNAPPY" {
			t.Errorf("compression %s, want SNAPPY", codec)
		}
	}
}

// insertBadRatings adds ratings that cannot be training data.
func insertBadRatings(t *testing.T, db *source.DB) {
	t.Helper()
	for _, r := range []struct {
		cust   int
		code   string
		rating int
	}{
		{103, "S10_1949", 7},   // out of range (103 has not rated S10_1949)
		{103, "S10_4757", 0},   // out of range
		{99999, "S10_1678", 4}, // no such customer
		{103, "NOPE_0001", 3},  // no such product
	} {
		if _, err := db.SQL.Exec("INSERT INTO ratings (customerNumber, productCode, productRating) VALUES (?, ?, ?)", r.cust, r.code, r.rating); err != nil {
			t.Fatalf("insert bad rating: %v", err)
		}
	}
}

func TestBadRowsQuarantine(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			db := src.open(t)
			seedClassic(t, db)
			insertBadRatings(t, db)
			b := fileLake(t)
			sum, err := etl.Run(context.Background(), db, b, etl.Options{})
			if err != nil {
				t.Fatalf("etl: %v", err)
			}
			if sum.Rows != 2532 || sum.Rejected != 4 {
				t.Fatalf("%d rows, %d rejected; want 2532 and 4", sum.Rows, sum.Rejected)
			}
			want := map[string]int64{"rating_out_of_range": 2, "unknown_customer": 1, "unknown_product": 1}
			for k, n := range want {
				if sum.Rejects[k] != n {
					t.Errorf("rejects[%s] = %d, want %d (all: %v)", k, sum.Rejects[k], n, sum.Rejects)
				}
			}
			rc, err := b.Get(context.Background(), sum.RejectsKey)
			if err != nil {
				t.Fatalf("rejects file %q: %v", sum.RejectsKey, err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) != 4 {
				t.Fatalf("rejects file has %d lines, want 4:\n%s", len(lines), data)
			}
			var reasons []string
			for _, l := range lines {
				var r etl.Reject
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("rejects line %q: %v", l, err)
				}
				reasons = append(reasons, r.Reason)
			}
			all := strings.Join(reasons, "\n")
			for _, w := range []string{"productRating 7 is outside 1..5", "productRating 0 is outside 1..5",
				"customer 99999 does not exist in customers", `product "NOPE_0001" does not exist in products`} {
				if !strings.Contains(all, w) {
					t.Errorf("rejects reasons lack %q:\n%s", w, all)
				}
			}
			_, m := readDataset(t, b)
			if m.Rejected != 4 || m.Rejects != sum.RejectsKey {
				t.Errorf("manifest: rejected %d, rejects %q; want 4 and %q", m.Rejected, m.Rejects, sum.RejectsKey)
			}
		})
	}
}

func TestBadRowsFailKeepsPreviousDataset(t *testing.T) {
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	first, err := etl.Run(context.Background(), db, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	insertBadRatings(t, db)
	_, err = etl.Run(context.Background(), db, b, etl.Options{OnBadRows: etl.Fail})
	var bad *etl.BadRowError
	if !errors.As(err, &bad) {
		t.Fatalf("error %v, want a BadRowError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "customerNumber=") || !strings.Contains(msg, "productCode=") || !strings.Contains(msg, "outside 1..5") && !strings.Contains(msg, "does not exist") {
		t.Errorf("error %q does not name the row and the reason", msg)
	}
	_, m := readDataset(t, b)
	if m.RunID != first.RunID || m.Rows != 2532 {
		t.Errorf("after a failed run the committed dataset is run %s with %d rows; want the first run %s with 2532", m.RunID, m.Rows, first.RunID)
	}
	assertNoStagedRunsBut(t, b, first.RunID)
}

// assertNoStagedRunsBut checks that only the given runs have files under the
// staging area.
func assertNoStagedRunsBut(t *testing.T, b lake.Bucket, runs ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, r := range runs {
		ok[r] = true
	}
	err := b.List(context.Background(), ".recoflow/runs/"+training.Dataset+"/", func(k string) error {
		run := strings.Split(strings.TrimPrefix(k, ".recoflow/runs/"+training.Dataset+"/"), "/")[0]
		if !ok[run] {
			return fmt.Errorf("staged file %s belongs to run %s", k, run)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestFailureBeforePublishKeepsPreviousDataset(t *testing.T) {
	for _, lk := range []struct {
		name string
		open func(t *testing.T) lake.Bucket
	}{{"file", fileLake}, {"s3", s3Lake}} {
		t.Run(lk.name, func(t *testing.T) {
			db := sqliteSource(t)
			seedClassic(t, db)
			b := lk.open(t)
			first, err := etl.Run(context.Background(), db, b, etl.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec("DELETE FROM ratings WHERE customerNumber > 200"); err != nil {
				t.Fatal(err)
			}
			boom := errors.New("connection dropped")
			// The new data is much smaller: allow the shrink.
			_, err = etl.Run(context.Background(), db, b, etl.Options{MaxShrink: 1, AfterStage: func(context.Context) error { return boom }})
			if !errors.Is(err, boom) {
				t.Fatalf("error %v, want %v", err, boom)
			}
			got, m := readDataset(t, b)
			if m.RunID != first.RunID || len(got) != 2532 {
				t.Fatalf("committed dataset is run %s with %d rows, want run %s with 2532", m.RunID, len(got), first.RunID)
			}
			assertNoStagedRunsBut(t, b, first.RunID)
			// A clean re-run commits the new data.
			second, err := etl.Run(context.Background(), db, b, etl.Options{MaxShrink: 1})
			if err != nil {
				t.Fatal(err)
			}
			got, m = readDataset(t, b)
			if m.RunID != second.RunID || int64(len(got)) != second.Rows || second.Rows >= 2532 {
				t.Fatalf("after re-run: run %s with %d rows (summary %d), want run %s with fewer than 2532", m.RunID, len(got), second.Rows, second.RunID)
			}
			var files int
			b.List(context.Background(), training.Dataset+"/", func(k string) error {
				if strings.HasSuffix(k, ".parquet") && !strings.HasPrefix(k, training.Dataset+"/_") {
					files++
					if !strings.Contains(k, second.RunID) {
						t.Errorf("listing finds %s, a file of another run", k)
					}
				}
				return nil
			})
			if files != second.Files {
				t.Errorf("listing finds %d files, the run wrote %d", files, second.Files)
			}
		})
	}
}

func TestCancelKeepsPreviousDataset(t *testing.T) {
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	first, err := etl.Run(context.Background(), db, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := etl.Run(ctx, db, b, etl.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	_, m := readDataset(t, b)
	if m.RunID != first.RunID {
		t.Fatalf("committed run %s, want %s", m.RunID, first.RunID)
	}
}

func TestMissingTableAndColumn(t *testing.T) {
	cases := []struct {
		name, stmt, want string
	}{
		{"missing table", "DROP TABLE ratings", "table ratings is missing or unreadable"},
		{"missing column", "ALTER TABLE products DROP COLUMN MSRP", "table products has no column MSRP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := sqliteSource(t)
			seedClassic(t, db)
			if _, err := db.SQL.Exec(c.stmt); err != nil {
				t.Fatal(err)
			}
			_, err := etl.Run(context.Background(), db, fileLake(t), etl.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestOldRunsAreRemoved(t *testing.T) {
	db := sqliteSource(t)
	seedClassic(t, db)
	dir := t.TempDir()
	b, err := lakefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for i := 0; i < 3; i++ {
		// GCWait: the run waits for the removal of old runs to finish
		// (on evidence, however loaded the machine), so it can be checked.
		s, err := etl.Run(context.Background(), db, b, etl.Options{GCWait: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, s.RunID)
	}
	// The current and the previous run stay (readers may still be on the
	// previous one); older ones go.
	assertNoStagedRunsBut(t, b, runs[1], runs[2])
	matches, _ := filepath.Glob(filepath.Join(dir, training.Dataset, "customerNumber=*", "*.parquet"))
	if len(matches) != 98 {
		t.Errorf("glob finds %d files through the dataset link, want 98", len(matches))
	}
	if fi, err := os.Lstat(filepath.Join(dir, training.Dataset)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is not a link to the committed run (%v)", training.Dataset, err)
	}
}

// TestNotSeededSaysSeed: an ETL against an empty database says to run
// recoflow seed.
func TestNotSeededSaysSeed(t *testing.T) {
	db := sqliteSource(t)
	_, err := etl.Run(context.Background(), db, fileLake(t), etl.Options{})
	if !errors.Is(err, etl.ErrNotSeeded) || !strings.Contains(err.Error(), "run `recoflow seed`") {
		t.Fatalf("error %v, want ErrNotSeeded saying to run recoflow seed", err)
	}
}
