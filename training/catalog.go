package training

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/parquet-go/parquet-go"
	"github.com/recoflow/recoflow/lake"
)

// CatalogDir is the directory, under Dataset, that holds each run's
// catalogue in a subdirectory named by the run id. The leading underscore
// keeps it out of Spark, Hive and Athena globs of the training data.
const CatalogDir = "_catalog"

// CatalogCustomersName and CatalogProductsName are the file names of the
// two catalogue tables inside a run's catalogue directory.
const (
	CatalogCustomersName = "customers.snappy.parquet"
	CatalogProductsName  = "products.snappy.parquet"
)

// RunsPrefix is where the ETL stages each run (one directory per run id)
// before it publishes it. On a local lake the committed dataset is a link
// to one of these directories.
const RunsPrefix = ".recoflow/runs/" + Dataset

// RunDir returns the staging directory of the run runID.
func RunDir(runID string) string { return path.Join(RunsPrefix, runID) }

// CatalogKey returns the key, relative to Dataset, of one catalogue file
// (CatalogCustomersName or CatalogProductsName) of run runID.
func CatalogKey(runID, name string) string { return path.Join(CatalogDir, runID, name) }

// Customer is one row of the source's customers table as exported by the ETL.
type Customer struct {
	CustomerNumber int32   `parquet:"customerNumber"`
	City           string  `parquet:"city"`
	State          *string `parquet:"state,optional"`
	PostalCode     *string `parquet:"postalCode,optional"`
	Country        string  `parquet:"country"`
	CreditLimit    int64   `parquet:"creditLimit,decimal(2:10)"` // cents
}

// Product is one row of the source's products table as exported by the ETL.
type Product struct {
	ProductCode     string `parquet:"productCode"`
	ProductName     string `parquet:"productName"`
	ProductLine     string `parquet:"productLine"`
	ProductScale    string `parquet:"productScale"`
	QuantityInStock int32  `parquet:"quantityInStock"`
	BuyPrice        int64  `parquet:"buyPrice,decimal(2:10)"` // cents
	MSRP            int64  `parquet:"MSRP,decimal(2:10)"`     // cents
}

// Catalog is every customer and product of the source at the time of a run.
type Catalog struct {
	Customers []Customer
	Products  []Product
}

// CatalogFiles locates the catalogue committed with a run. Keys are
// relative to Dataset, like File.Path.
type CatalogFiles struct {
	Customers     string `json:"customers"`
	CustomerRows  int64  `json:"customer_rows"`
	CustomerBytes int64  `json:"customer_bytes"`
	Products      string `json:"products"`
	ProductRows   int64  `json:"product_rows"`
	ProductBytes  int64  `json:"product_bytes"`
}

// ReadCatalog reads the catalogue committed with the run m describes. A
// manifest of an older run without a catalogue gives (nil, nil).
//
// On a lake that publishes through a link, the catalogue of a run that is
// no longer the current one is still read from that run's own directory
// while it exists.
func ReadCatalog(ctx context.Context, b lake.BucketReader, m *Manifest) (*Catalog, error) {
	if m == nil || m.Catalog == nil {
		return nil, nil
	}
	c := &Catalog{}
	var err error
	if c.Customers, err = readCatalogFile[Customer](ctx, b, m, m.Catalog.Customers, m.Catalog.CustomerRows); err != nil {
		return nil, err
	}
	if c.Products, err = readCatalogFile[Product](ctx, b, m, m.Catalog.Products, m.Catalog.ProductRows); err != nil {
		return nil, err
	}
	return c, nil
}

func readCatalogFile[T any](ctx context.Context, b lake.BucketReader, m *Manifest, rel string, rows int64) ([]T, error) {
	key, data, err := getCatalogFile(ctx, b, m.RunID, rel)
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("catalogue file %s: %w", key, err)
	}
	var zero T
	if err := checkFields(pf.Schema(), parquet.SchemaOf(zero)); err != nil {
		return nil, fmt.Errorf("catalogue file %s: %w", key, err)
	}
	out := make([]T, pf.NumRows())
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	n := 0
	for n < len(out) {
		k, err := r.Read(out[n:])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("catalogue file %s: %w", key, err)
		}
	}
	out = out[:n]
	if int64(n) != rows {
		return nil, fmt.Errorf("catalogue file %s holds %d rows, manifest says %d", key, n, rows)
	}
	return out, nil
}

// getCatalogFile reads a catalogue file of run runID: where the committed
// dataset is, or else (on a linked lake) in the run's own directory.
func getCatalogFile(ctx context.Context, b lake.BucketReader, runID, rel string) (string, []byte, error) {
	loc, err := Location(ctx, b)
	if err != nil {
		return "", nil, err
	}
	keys := []string{path.Join(loc, rel)}
	if _, ok := b.(lake.Linker); ok && runID != "" {
		if own := path.Join(RunDir(runID), rel); own != keys[0] {
			keys = append(keys, own)
		}
	}
	var firstErr error
	for _, key := range keys {
		data, err := readAll(ctx, b, key)
		if err == nil {
			return key, data, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if !errors.Is(err, lake.ErrNotFound) {
			break
		}
	}
	return "", nil, fmt.Errorf("catalogue of run %s: %w", runID, firstErr)
}
