package etl_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/training"
)

func shopSpec(t *testing.T, edit func(string) string) *dataset.Spec {
	t.Helper()
	y := datasettest.ShopSpecYAML
	if edit != nil {
		y = edit(y)
	}
	s, err := dataset.Parse([]byte(y), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newShop returns the movie shop in a source that open opens, a new file
// lake, and the shop's spec edited by edit (nil: as it is).
func newShop(t *testing.T, open func(*testing.T) *source.DB, edit func(string) string) (*source.DB, lake.Bucket, *dataset.Spec) {
	t.Helper()
	return shopSource(t, open), fileLake(t), shopSpec(t, edit)
}

func shopSource(t *testing.T, open func(*testing.T) *source.DB) *source.DB {
	t.Helper()
	db := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := datasettest.Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

// arrowText formats one value of an Arrow array as the test's expected
// tables write it: decimals with their scale, dates as YYYY-MM-DD.
func arrowText(t *testing.T, a arrow.Array, j int) *string {
	t.Helper()
	if a.IsNull(j) {
		return nil
	}
	var v string
	switch x := a.(type) {
	case *array.String:
		v = x.Value(j)
	case *array.Int32:
		v = strconv.FormatInt(int64(x.Value(j)), 10)
	case *array.Int64:
		v = strconv.FormatInt(x.Value(j), 10)
	case *array.Decimal128:
		dt := x.DataType().(*arrow.Decimal128Type)
		v = x.Value(j).ToString(dt.Scale)
	case *array.Date32:
		v = x.Value(j).ToTime().Format(time.DateOnly)
	default:
		t.Fatalf("arrow: unexpected array %T", a)
	}
	return &v
}

// TestSpecMovieShop runs the ETL with the movie shop's spec (string user
// ids in "shop users", integer movie ids, genres, purchases with a date in
// "order") on SQLite and MariaDB, then reads the lake back with Apache
// Arrow's reader: the schema and its logical types (the price stays a
// DECIMAL(6,2), the date a DATE), the Hive partitions and every value.
func TestSpecMovieShop(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			ctx := context.Background()
			db, b, spec := newShop(t, src.open, nil)
			sum, err := etl.Run(ctx, db, b, etl.Options{Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Rows != 4 || sum.Rejected != 0 || sum.Partitions != 3 {
				t.Fatalf("run: %d rows, %d rejected, %d partitions; want 4, 0, 3", sum.Rows, sum.Rejected, sum.Partitions)
			}
			if sum.ManifestKey != "movie_orders/_manifest.json" {
				t.Errorf("manifest at %s, want movie_orders/_manifest.json", sum.ManifestKey)
			}

			// SQLite's INTEGER is 64-bit; MariaDB's INT and SMALLINT are 32.
			var intArrow arrow.DataType = arrow.PrimitiveTypes.Int32
			intType := "INT32"
			if src.name == "sqlite" {
				intArrow, intType = arrow.PrimitiveTypes.Int64, "INT64"
			}
			want := []arrowField{
				{"country", arrowString, false},
				{"age", intArrow, true},
				{"movie_id", intArrow, false},
				{"genres", arrowString, false},
				{"release_year", intArrow, false},
				{"price", &arrow.Decimal128Type{Precision: 6, Scale: 2}, false},
				{"overview", arrowString, true},
				{"quantity", intArrow, false},
				{"ordered_at", arrow.FixedWidthTypes.Date32, false},
			}

			// The manifest: spec, hash, partition column, schema.
			loc, err := training.LocationOf(ctx, b, "movie_orders")
			if err != nil {
				t.Fatal(err)
			}
			m, err := training.ReadManifest(ctx, b, loc)
			if err != nil {
				t.Fatal(err)
			}
			if m.Spec != "movie-shop" || m.SpecHash != dataset.Hash(spec) || m.Dataset != "movie_orders" || m.PartitionColumn != "user_id" {
				t.Errorf("manifest names spec %q hash %q dataset %q partition %q; want movie-shop %s movie_orders user_id",
					m.Spec, m.SpecHash, m.Dataset, m.PartitionColumn, dataset.Hash(spec))
			}
			var schema []string
			for _, c := range m.Schema {
				schema = append(schema, fmt.Sprintf("%s %s null=%v part=%v", c.Name, c.Type, c.Nullable, c.Partition))
			}
			wantSchema := []string{
				"user_id STRING null=false part=true", "country STRING null=false part=false",
				"age " + intType + " null=true part=false", "movie_id " + intType + " null=false part=false",
				"genres STRING null=false part=false", "release_year " + intType + " null=false part=false",
				"price DECIMAL(6,2) null=false part=false", "overview STRING null=true part=false",
				"quantity " + intType + " null=false part=false", "ordered_at DATE null=false part=false",
			}
			if !slices.Equal(schema, wantSchema) {
				t.Errorf("manifest schema\n %q\nwant\n %q", schema, wantSchema)
			}

			// Every file the manifest lists, read by Arrow; and nothing else
			// in the dataset.
			var got []string
			listed := map[string]bool{}
			for _, p := range m.Partitions {
				if dir := "user_id=" + p.Value; p.Dir != dir {
					t.Errorf("partition %q in directory %q, want %q", p.Value, p.Dir, dir)
				}
				for _, f := range p.Files {
					key := path.Join("movie_orders", f.Path)
					listed[key] = true
					if !strings.HasPrefix(f.Path, p.Dir+"/") {
						t.Fatalf("%s is not under %s", f.Path, p.Dir)
					}
					tbl := arrowTable(t, b, key)
					if tbl.NumRows() != f.Rows {
						t.Fatalf("arrow: %s has %d rows, manifest says %d", key, tbl.NumRows(), f.Rows)
					}
					s := tbl.Schema()
					if s.NumFields() != len(want) {
						t.Fatalf("arrow: %s has columns %v, want %d", key, s, len(want))
					}
					for i, w := range want {
						f := s.Field(i)
						if f.Name != w.name || !arrow.TypeEqual(f.Type, w.typ) || f.Nullable != w.nullable {
							t.Fatalf("arrow: %s column %d is %s %s (nullable %v), want %s %s (nullable %v)", key, i, f.Name, f.Type, f.Nullable, w.name, w.typ, w.nullable)
						}
					}
					for r := 0; r < int(tbl.NumRows()); r++ {
						vals := []string{p.Value}
						for i := range want {
							chunks := tbl.Column(i).Data().Chunks()
							if len(chunks) != 1 {
								t.Fatalf("arrow: %s column %d has %d chunks", key, i, len(chunks))
							}
							vals = append(vals, strp(arrowText(t, chunks[0], r)))
						}
						got = append(got, strings.Join(vals, " "))
					}
				}
			}
			err = b.List(ctx, "movie_orders/", func(key string) error {
				// Names starting with "_" (the manifest, the run's marker) are
				// skipped by Hive, Spark and Athena.
				if !listed[key] && !strings.HasPrefix(path.Base(key), "_") {
					t.Errorf("the dataset holds %s, which the manifest does not list", key)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The source's rows (datasettest.Create), joined by hand.
			wantRows := []string{
				`3f2a-ana "Portugal" "34" "1" "Action|Thriller" "2019" "9.99" "A chase across Europe." "2" "2025-03-01"`,
				`3f2a-ana "Portugal" "34" "3" "Drama" "2008" "12.00" "Farmers, drought, hope." "1" "2025-03-04"`,
				`77d0-chloe "Canada" "27" "1" "Action|Thriller" "2019" "9.99" "A chase across Europe." "3" "2025-05-20"`,
				`9c1e-ben "Kenya" <NULL> "2" "Comedy|Romance" "2021" "4.50" <NULL> "1" "2025-04-12"`,
			}
			slices.Sort(got)
			if !slices.Equal(got, wantRows) {
				t.Errorf("arrow reads\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(wantRows, "\n "))
			}

			// The model's reader gives the same rows.
			var generic []string
			_, err = training.ReadTable(ctx, b, spec, func(r *training.GenericRow) error {
				age, _ := r.Value("age")
				price, _ := r.Value("price")
				genres, _ := r.Value("genres")
				over, _ := r.Value("overview")
				generic = append(generic, fmt.Sprintf("%s %s %g %s age=%v/%g price=%g genres=%s overview-null=%v",
					r.UserID, r.ItemID, r.Feedback, r.Time.Format(time.RFC3339), age.Kind, age.Num, price.Num, genres.Str, over.Kind == training.Null))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(generic)
			wantGeneric := []string{
				"3f2a-ana 1 2 2025-03-01T00:00:00Z age=2/34 price=9.99 genres=Action|Thriller overview-null=false",
				"3f2a-ana 3 1 2025-03-04T00:00:00Z age=2/34 price=12 genres=Drama overview-null=false",
				"77d0-chloe 1 3 2025-05-20T00:00:00Z age=2/27 price=9.99 genres=Action|Thriller overview-null=false",
				"9c1e-ben 2 1 2025-04-12T00:00:00Z age=0/0 price=4.5 genres=Comedy|Romance overview-null=true",
			}
			if !slices.Equal(generic, wantGeneric) {
				t.Errorf("ReadTable gives\n %s\nwant\n %s", strings.Join(generic, "\n "), strings.Join(wantGeneric, "\n "))
			}
		})
	}
}

// TestSpecMistakeWritesNothing: a spec that does not fit the source — a
// missing column, a column of the wrong type — fails before the lake is
// touched, naming the keys.
func TestSpecMistakeWritesNothing(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			ctx := context.Background()
			db, b, spec := newShop(t, src.open, func(y string) string {
				y = strings.Replace(y, "- column: genres", "- column: genre", 1)
				// price is a DECIMAL: not the text a multi_categorical needs.
				return strings.Replace(y, "- column: price\n      kind: numeric\n      scaling: log", "- column: price\n      kind: multi_categorical", 1)
			})
			_, err := etl.Run(ctx, db, b, etl.Options{Spec: spec})
			var se *dataset.Error
			if !errors.As(err, &se) {
				t.Fatalf("run: %v, want a *dataset.Error", err)
			}
			for _, want := range []string{"items.features[0].column", `"genre"`, "items.features[2].column", "price"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			var keys []string
			if err := b.List(ctx, "", func(k string) error { keys = append(keys, k); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 0 {
				t.Errorf("a rejected spec left %v in the lake", keys)
			}
		})
	}
}

// TestSpecQueryRejects: interactions from a query, with a row for a user
// the shop does not have; it is kept out with its reason, and with
// --on-bad-rows=fail the run stops naming it and commits nothing.
func TestSpecQueryRejects(t *testing.T) {
	ctx := context.Background()
	db := shopSource(t, sqliteSource)
	q := func(s string) string { return db.Quote(s) }
	query := fmt.Sprintf("SELECT %s, %s, %s, %s FROM %s UNION ALL SELECT 'ghost', 2, 5, '2025-06-01'",
		q("user_id"), q("movie_id"), q("quantity"), q("ordered_at"), q("order"))
	spec := shopSpec(t, func(y string) string {
		return strings.Replace(y, "  table: order ", "  query: \""+strings.ReplaceAll(query, `"`, `\"`)+"\" ", 1)
	})
	b := fileLake(t)
	if _, err := etl.Run(ctx, db, b, etl.Options{Spec: spec, OnBadRows: etl.Fail}); err == nil ||
		!strings.Contains(err.Error(), "user ghost does not exist in shop users") {
		t.Fatalf("run with fail: %v, want it to name user ghost", err)
	}
	if _, err := training.LocationOf(ctx, b, "movie_orders"); !errors.Is(err, training.ErrNoDataset) {
		t.Fatalf("a failed run committed something: %v", err)
	}
	sum, err := etl.Run(ctx, db, b, etl.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 4 || sum.Rejected != 1 || sum.Rejects["unknown_user"] != 1 {
		t.Fatalf("run: %d rows, %d rejected %v; want 4 and 1 unknown_user", sum.Rows, sum.Rejected, sum.Rejects)
	}
	rej := string(readObject(t, b, sum.RejectsKey))
	if !strings.HasPrefix(sum.RejectsKey, "rejects/movie_orders/") || !strings.Contains(rej, `"user":"ghost"`) || !strings.Contains(rej, `"kind":"unknown_user"`) {
		t.Errorf("rejects %s: %s", sum.RejectsKey, rej)
	}
}

// TestSpecBuiltInIsTheLabsPath: the built-in spec given as a file takes
// the lab's own path: the same Parquet bytes as a run without a spec, and
// the manifest names the spec.
func TestSpecBuiltInIsTheLabsPath(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	spec, err := dataset.Parse(dataset.ClassicYAML(), "classicmodels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := func(s *dataset.Spec) (map[string][]byte, *training.Manifest, lake.Bucket) {
		b := fileLake(t)
		if _, err := etl.Run(ctx, db, b, etl.Options{Spec: s, RunID: "run1"}); err != nil {
			t.Fatal(err)
		}
		_, m := readDataset(t, b)
		return parquetFiles(t, b, training.Dataset+"/"), m, b
	}
	plain, _, _ := files(nil)
	withSpec, m, b := files(spec)
	if len(plain) == 0 || len(plain) != len(withSpec) {
		t.Fatalf("%d files without a spec, %d with the built-in one", len(plain), len(withSpec))
	}
	for k, v := range plain {
		if string(withSpec[k]) != string(v) {
			t.Fatalf("%s differs between a run without a spec and one with the built-in spec", k)
		}
	}
	if m.Spec != "classicmodels" || m.SpecHash != dataset.Hash(spec) || m.Catalog == nil {
		t.Errorf("manifest: spec %q hash %q catalog %v", m.Spec, m.SpecHash, m.Catalog)
	}

	// The model's reader reads the built-in dataset too, row for row as
	// training.Read does.
	want, _ := readDataset(t, b)
	var got []string
	_, err = training.ReadTable(ctx, b, spec, func(r *training.GenericRow) error {
		state, _ := r.Value("state")
		credit, _ := r.Value("creditLimit")
		got = append(got, fmt.Sprintf("%s %s %g %v %g", r.UserID, r.ItemID, r.Feedback, state.Kind == training.Null, credit.Num))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ReadTable gives %d rows, Read %d", len(got), len(want))
	}
	for i, w := range want {
		if ws := fmt.Sprintf("%d %s %d %v %g", w.CustomerNumber, w.ProductCode, w.ProductRating, w.State == nil, float64(w.CreditLimit)/100); got[i] != ws {
			t.Fatalf("row %d: ReadTable %q, Read %q", i, got[i], ws)
		}
	}
}

// TestSpecRunsAndRollback: a spec's dataset keeps its own run history, and
// Rollback with the spec commits an earlier run again.
func TestSpecRunsAndRollback(t *testing.T) {
	ctx := context.Background()
	db, b, spec := newShop(t, sqliteSource, nil)
	first, err := etl.Run(ctx, db, b, etl.Options{Spec: spec, KeepRuns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.Exec("DELETE FROM " + db.Quote("order") + " WHERE " + db.Quote("quantity") + " = 3"); err != nil {
		t.Fatal(err)
	}
	second, err := etl.Run(ctx, db, b, etl.Options{Spec: spec, KeepRuns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if second.Rows != 3 {
		t.Fatalf("second run: %d rows, want 3", second.Rows)
	}
	runs, err := etl.RunsOf(ctx, b, "movie_orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].RunID != second.RunID || !runs[0].Current || runs[1].RunID != first.RunID {
		t.Fatalf("RunsOf lists %+v, want %s (current) then %s", runs, second.RunID, first.RunID)
	}
	if classic, err := etl.Runs(ctx, b); err != nil || len(classic) != 0 {
		t.Errorf("the built-in dataset's runs: %v, %v; want none", classic, err)
	}
	sum, err := etl.Rollback(ctx, b, "", etl.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if sum.RunID != first.RunID || sum.Rows != 4 {
		t.Fatalf("rollback committed %s with %d rows, want %s with 4", sum.RunID, sum.Rows, first.RunID)
	}
	n := 0
	if _, err := training.ReadTable(ctx, b, spec, func(*training.GenericRow) error { n++; return nil }); err != nil || n != 4 {
		t.Fatalf("after the rollback ReadTable reads %d rows (%v), want 4", n, err)
	}
}
