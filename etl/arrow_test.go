package etl_test

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	arrowparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// arrowTable reads one Parquet object with Apache Arrow's Go reader — an
// implementation independent of the writer's — and checks the footer as
// that reader sees it: every column chunk's path names its column.
func arrowTable(t *testing.T, b lake.BucketReader, key string) arrow.Table {
	t.Helper()
	ctx := context.Background()
	data := readObject(t, b, key)
	mem := memory.NewGoAllocator()
	pr, err := file.NewParquetReader(bytes.NewReader(data), file.WithReadProps(arrowparquet.NewReaderProperties(mem)))
	if err != nil {
		t.Fatalf("arrow: open %s: %v", key, err)
	}
	md := pr.MetaData()
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatalf("arrow: %s row group %d column %d: %v", key, g, c, err)
			}
			want := md.Schema.Column(c).Path()
			if got := cc.PathInSchema().String(); got != want {
				t.Fatalf("arrow: %s row group %d column %d: path_in_schema %q, want %q", key, g, c, got, want)
			}
		}
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatalf("arrow: %s: %v", key, err)
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		t.Fatalf("arrow: read %s: %v", key, err)
	}
	t.Cleanup(func() {
		tbl.Release()
		pr.Close()
	})
	return tbl
}

func readObject(t *testing.T, b lake.BucketReader, key string) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// arrowColumn is one column of a table read by Arrow, flattened across
// chunks into strings (nil for NULL), with its Arrow type and nullability.
type arrowColumn struct {
	typ      arrow.DataType
	nullable bool
	vals     []*string
}

// arrowColumns checks that tbl has exactly the named columns, in order, with
// the given Arrow types, and returns their values.
func arrowColumns(t *testing.T, key string, tbl arrow.Table, want []arrowField) map[string]arrowColumn {
	t.Helper()
	s := tbl.Schema()
	if s.NumFields() != len(want) {
		t.Fatalf("arrow: %s has %d columns %v, want %d", key, s.NumFields(), s, len(want))
	}
	out := map[string]arrowColumn{}
	for i, w := range want {
		f := s.Field(i)
		if f.Name != w.name || !arrow.TypeEqual(f.Type, w.typ) || f.Nullable != w.nullable {
			t.Fatalf("arrow: %s column %d is %s %s (nullable %v), want %s %s (nullable %v)", key, i, f.Name, f.Type, f.Nullable, w.name, w.typ, w.nullable)
		}
		col := arrowColumn{typ: f.Type, nullable: f.Nullable}
		for _, chunk := range tbl.Column(i).Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				if chunk.IsNull(j) {
					col.vals = append(col.vals, nil)
					continue
				}
				var v string
				switch a := chunk.(type) {
				case *array.String:
					v = a.Value(j)
				case *array.Int32:
					v = strconv.FormatInt(int64(a.Value(j)), 10)
				case *array.Decimal128:
					v = decimalCents(a.Value(j))
				default:
					t.Fatalf("arrow: %s column %s has unexpected array %T", key, f.Name, chunk)
				}
				col.vals = append(col.vals, &v)
			}
		}
		if int64(len(col.vals)) != tbl.NumRows() {
			t.Fatalf("arrow: %s column %s has %d values, table %d rows", key, f.Name, len(col.vals), tbl.NumRows())
		}
		out[w.name] = col
	}
	return out
}

func decimalCents(n decimal128.Num) string { return n.BigInt().String() }

type arrowField struct {
	name     string
	typ      arrow.DataType
	nullable bool
}

var (
	arrowString = arrow.BinaryTypes.String
	arrowInt32  = arrow.PrimitiveTypes.Int32
	arrowDec    = &arrow.Decimal128Type{Precision: 10, Scale: 2}
)

// The training files' columns as DESIGN §4 defines them.
var trainingArrowFields = []arrowField{
	{"city", arrowString, false}, {"state", arrowString, true}, {"postalCode", arrowString, true},
	{"country", arrowString, false}, {"creditLimit", arrowDec, false}, {"productCode", arrowString, false},
	{"productLine", arrowString, false}, {"productScale", arrowString, false}, {"quantityInStock", arrowInt32, false},
	{"buyPrice", arrowDec, false}, {"MSRP", arrowDec, false}, {"productRating", arrowInt32, false},
}

func mustAtoi[T int32 | int64](t *testing.T, s *string) T {
	t.Helper()
	n, err := strconv.ParseInt(*s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return T(n)
}

// TestArrowReadsTheLake reads the whole committed lake — every training file
// the manifest lists and the catalogue — with Apache Arrow's reader, and
// checks the schema, the row counts and every value against the source.
func TestArrowReadsTheLake(t *testing.T) {
	ctx := context.Background()
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	sum, err := etl.Run(ctx, db, b, etl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, m := readDataset(t, b)
	var got []training.Record
	for _, p := range m.Partitions {
		for _, f := range p.Files {
			key := path.Join(training.Dataset, f.Path)
			if dir := fmt.Sprintf("customerNumber=%d/", p.CustomerNumber); !strings.HasPrefix(f.Path, dir) {
				t.Fatalf("%s is not under %s", f.Path, dir)
			}
			tbl := arrowTable(t, b, key)
			if tbl.NumRows() != f.Rows {
				t.Fatalf("arrow: %s has %d rows, manifest says %d", key, tbl.NumRows(), f.Rows)
			}
			cols := arrowColumns(t, key, tbl, trainingArrowFields)
			for i := 0; i < int(tbl.NumRows()); i++ {
				v := func(name string) *string { return cols[name].vals[i] }
				got = append(got, training.Record{CustomerNumber: p.CustomerNumber, Row: training.Row{
					City: *v("city"), State: v("state"), PostalCode: v("postalCode"), Country: *v("country"),
					CreditLimit: mustAtoi[int64](t, v("creditLimit")), ProductCode: *v("productCode"),
					ProductLine: *v("productLine"), ProductScale: *v("productScale"),
					QuantityInStock: mustAtoi[int32](t, v("quantityInStock")), BuyPrice: mustAtoi[int64](t, v("buyPrice")),
					MSRP: mustAtoi[int64](t, v("MSRP")), ProductRating: mustAtoi[int32](t, v("productRating")),
				}})
			}
		}
	}
	want := sourceJoin(t, db)
	if int64(len(got)) != sum.Rows || len(got) != len(want) || len(want) != 2532 {
		t.Fatalf("arrow reads %d rows, the run wrote %d, the source join has %d; want 2532", len(got), sum.Rows, len(want))
	}
	for i := range want {
		if g, w := formatRecord(got[i]), formatRecord(want[i]); g != w {
			t.Fatalf("row %d differs:\n arrow  %s\n source %s", i, g, w)
		}
	}

	// The catalogue.
	wantC, wantP := sourceCatalog(t, db.SQL)
	key := path.Join(training.Dataset, m.Catalog.Customers)
	tbl := arrowTable(t, b, key)
	cols := arrowColumns(t, key, tbl, []arrowField{{"customerNumber", arrowInt32, false}, {"city", arrowString, false},
		{"state", arrowString, true}, {"postalCode", arrowString, true}, {"country", arrowString, false}, {"creditLimit", arrowDec, false}})
	if int(tbl.NumRows()) != len(wantC) || len(wantC) != 122 {
		t.Fatalf("arrow: %s has %d customers, source %d; want 122", key, tbl.NumRows(), len(wantC))
	}
	for i := range wantC {
		v := func(name string) *string { return cols[name].vals[i] }
		c := training.Customer{CustomerNumber: mustAtoi[int32](t, v("customerNumber")), City: *v("city"), State: v("state"),
			PostalCode: v("postalCode"), Country: *v("country"), CreditLimit: mustAtoi[int64](t, v("creditLimit"))}
		if g := formatCustomer(c); g != wantC[i] {
			t.Fatalf("customer %d differs:\n arrow  %s\n source %s", i, g, wantC[i])
		}
	}
	key = path.Join(training.Dataset, m.Catalog.Products)
	tbl = arrowTable(t, b, key)
	cols = arrowColumns(t, key, tbl, []arrowField{{"productCode", arrowString, false}, {"productName", arrowString, false},
		{"productLine", arrowString, false}, {"productScale", arrowString, false}, {"quantityInStock", arrowInt32, false},
		{"buyPrice", arrowDec, false}, {"MSRP", arrowDec, false}})
	if int(tbl.NumRows()) != len(wantP) || len(wantP) != 110 {
		t.Fatalf("arrow: %s has %d products, source %d; want 110", key, tbl.NumRows(), len(wantP))
	}
	for i := range wantP {
		v := func(name string) *string { return cols[name].vals[i] }
		p := training.Product{ProductCode: *v("productCode"), ProductName: *v("productName"), ProductLine: *v("productLine"),
			ProductScale: *v("productScale"), QuantityInStock: mustAtoi[int32](t, v("quantityInStock")),
			BuyPrice: mustAtoi[int64](t, v("buyPrice")), MSRP: mustAtoi[int64](t, v("MSRP"))}
		if g := formatProduct(p); g != wantP[i] {
			t.Fatalf("product %d differs:\n arrow  %s\n source %s", i, g, wantP[i])
		}
	}
}
