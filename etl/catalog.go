package etl

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/training"
)

// The catalogue queries read every customer and product, rated or not.
const (
	customersQuery = `SELECT customerNumber, city, state, postalCode, country, creditLimit FROM customers ORDER BY customerNumber`
	productsQuery  = `SELECT productCode, productName, productLine, productScale, quantityInStock, buyPrice, MSRP FROM products ORDER BY productCode`
)

// catalogRowGroup is the number of rows per Parquet row group in a
// catalogue file; it bounds the writer's memory.
const catalogRowGroup = 64 << 10

// putFunc stores one object (Bucket.Put or BatchPutter.PutUnsynced).
type putFunc func(ctx context.Context, key string, r io.Reader) error

// exportCatalog writes every customer and every product of the source as
// the run's catalogue and returns where it is. Rows that cannot be
// represented are handled by the run's bad-row policy, like ratings.
func (st *state) exportCatalog(ctx context.Context, db *source.DB, put putFunc, rej *rejectsWriter) (*training.CatalogFiles, error) {
	cf := &training.CatalogFiles{
		Customers: training.CatalogKey(st.runID, training.CatalogCustomersName),
		Products:  training.CatalogKey(st.runID, training.CatalogProductsName),
	}
	var err error
	cf.CustomerRows, cf.CustomerBytes, err = writeCatalogTable(ctx, put, path.Join(st.staging, cf.Customers),
		func(emit func(training.Customer) error) error {
			return st.readCustomers(ctx, db, rej, emit)
		})
	if err != nil {
		return nil, err
	}
	cf.ProductRows, cf.ProductBytes, err = writeCatalogTable(ctx, put, path.Join(st.staging, cf.Products),
		func(emit func(training.Product) error) error {
			return st.readProducts(ctx, db, rej, emit)
		})
	if err != nil {
		return nil, err
	}
	return cf, nil
}

// badCatalogRow applies the bad-row policy to a catalogue row.
func (st *state) badCatalogRow(rej *rejectsWriter, r *Reject) error {
	if st.opts.OnBadRows == Fail {
		return &BadRowError{Reject: *r}
	}
	st.catalogRejected++
	st.rejects[r.Kind]++
	if err := rej.write(r); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return nil
}

func (st *state) readCustomers(ctx context.Context, db *source.DB, rej *rejectsWriter, emit func(training.Customer) error) error {
	rows, err := db.SQL.QueryContext(ctx, customersQuery)
	if err != nil {
		return fmt.Errorf("query customers of %s: %w", db, err)
	}
	defer rows.Close()
	var (
		num, city, country, credit sql.RawBytes
		state, postal              sql.Null[sql.RawBytes]
		in                         = interner{}
	)
	for rows.Next() {
		if err := rows.Scan(&num, &city, &state, &postal, &country, &credit); err != nil {
			return fmt.Errorf("read customers of %s: %w", db, err)
		}
		bad := func(kind, format string, args ...any) error {
			return st.badCatalogRow(rej, &Reject{Table: source.Customers, CustomerNumber: rawPtr(num),
				Kind: kind, Reason: fmt.Sprintf(format, args...)})
		}
		var c training.Customer
		if num == nil {
			if err := bad("catalog_null_key", "customers.customerNumber is NULL"); err != nil {
				return err
			}
			continue
		}
		if c.CustomerNumber, err = parseInt32(num); err != nil {
			if err := bad("catalog_bad_value", "customers.customerNumber %q: %v", num, err); err != nil {
				return err
			}
			continue
		}
		if f := firstNull([]namedRaw{{"city", city}, {"country", country}, {"creditLimit", credit}}); f != "" {
			if err := bad("catalog_null_value", "customer %d: customers.%s is NULL", c.CustomerNumber, f); err != nil {
				return err
			}
			continue
		}
		if c.CreditLimit, err = parseDecimal2(credit); err != nil {
			if err := bad("catalog_bad_value", "customer %d: customers.creditLimit %q: %v", c.CustomerNumber, credit, err); err != nil {
				return err
			}
			continue
		}
		c.City = in.str(city)
		c.State = in.nullable(state)
		c.PostalCode = in.nullable(postal)
		c.Country = in.str(country)
		if err := emit(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read customers of %s: %w", db, err)
	}
	return nil
}

func (st *state) readProducts(ctx context.Context, db *source.DB, rej *rejectsWriter, emit func(training.Product) error) error {
	rows, err := db.SQL.QueryContext(ctx, productsQuery)
	if err != nil {
		return fmt.Errorf("query products of %s: %w", db, err)
	}
	defer rows.Close()
	var code, name, line, scale, qty, buy, msrp sql.RawBytes
	in := interner{}
	for rows.Next() {
		if err := rows.Scan(&code, &name, &line, &scale, &qty, &buy, &msrp); err != nil {
			return fmt.Errorf("read products of %s: %w", db, err)
		}
		bad := func(kind, format string, args ...any) error {
			return st.badCatalogRow(rej, &Reject{Table: source.Products, ProductCode: rawPtr(code),
				Kind: kind, Reason: fmt.Sprintf(format, args...)})
		}
		if code == nil {
			if err := bad("catalog_null_key", "products.productCode is NULL"); err != nil {
				return err
			}
			continue
		}
		if f := firstNull([]namedRaw{{"productName", name}, {"productLine", line}, {"productScale", scale},
			{"quantityInStock", qty}, {"buyPrice", buy}, {"MSRP", msrp}}); f != "" {
			if err := bad("catalog_null_value", "product %q: products.%s is NULL", code, f); err != nil {
				return err
			}
			continue
		}
		p := training.Product{
			ProductCode:  string(code),
			ProductName:  string(name),
			ProductLine:  in.str(line),
			ProductScale: in.str(scale),
		}
		var field string
		if p.QuantityInStock, err = parseInt32(qty); err != nil {
			field = "quantityInStock " + fmt.Sprintf("%q", qty)
		} else if p.BuyPrice, err = parseDecimal2(buy); err != nil {
			field = "buyPrice " + fmt.Sprintf("%q", buy)
		} else if p.MSRP, err = parseDecimal2(msrp); err != nil {
			field = "MSRP " + fmt.Sprintf("%q", msrp)
		}
		if err != nil {
			if err := bad("catalog_bad_value", "product %q: products.%s: %v", code, field, err); err != nil {
				return err
			}
			continue
		}
		if err := emit(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read products of %s: %w", db, err)
	}
	return nil
}

type namedRaw struct {
	name string
	v    sql.RawBytes
}

// firstNull returns the name of the first NULL value, or "".
func firstNull(vs []namedRaw) string {
	for _, v := range vs {
		if v.v == nil {
			return v.name
		}
	}
	return ""
}

// writeCatalogTable streams the rows fill emits into one snappy Parquet
// object at key, with a writer of its own, and returns the number of rows
// and bytes written. On error nothing is stored at key.
func writeCatalogTable[T any](ctx context.Context, put putFunc, key string, fill func(emit func(T) error) error) (rows, size int64, err error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := put(ctx, key, pr)
		pr.CloseWithError(errStop) // unblock the encoder if put stopped early
		done <- err
	}()
	cw := &countingWriter{w: pw}
	w := parquet.NewGenericWriter[T](cw, parquet.Compression(&snappy.Codec{}), parquet.CreatedBy("recoflow", "", ""))
	buf := make([]T, 0, 1024)
	var inGroup int
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		rows += int64(len(buf))
		inGroup += len(buf)
		buf = buf[:0]
		if inGroup >= catalogRowGroup {
			inGroup = 0
			return w.Flush()
		}
		return nil
	}
	err = fill(func(v T) error {
		buf = append(buf, v)
		if len(buf) == cap(buf) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		pw.CloseWithError(err)
		<-done
		return 0, 0, fmt.Errorf("write %s: %w", key, err)
	}
	pw.Close()
	if err := <-done; err != nil {
		return 0, 0, fmt.Errorf("write %s: %w", key, err)
	}
	return rows, cw.n, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
