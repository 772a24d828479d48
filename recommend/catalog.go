package recommend

import (
	"context"
	"fmt"

	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/training"
)

// NewCatalog returns the products of an ETL catalogue as an ItemCatalog,
// with the features as the item tower takes them (prices in currency
// units, as in the training dataset).
func NewCatalog(products []training.Product) Catalog {
	c := make(Catalog, len(products))
	for _, p := range products {
		c[p.ProductCode] = model.ItemFeatures{
			ProductLine:     p.ProductLine,
			ProductScale:    p.ProductScale,
			QuantityInStock: float64(p.QuantityInStock),
			BuyPrice:        float64(p.BuyPrice) / 100,
			MSRP:            float64(p.MSRP) / 100,
		}
	}
	return c
}

// LoadCatalog reads the product catalogue that the ETL committed with the
// lake's training dataset (training.ReadCatalog). A dataset written by an
// ETL that did not export the catalogue gives (nil, nil); a lake without a
// committed dataset, an error wrapping training.ErrNoDataset. It blocks
// on the lake's reads and holds every product's features in memory.
// Repeating it is safe.
func LoadCatalog(ctx context.Context, b lake.BucketReader) (Catalog, error) {
	loc, err := training.Location(ctx, b)
	if err != nil {
		return nil, err
	}
	m, err := training.ReadManifest(ctx, b, loc)
	if err != nil {
		return nil, err
	}
	c, err := training.ReadCatalog(ctx, b, m)
	if err != nil {
		return nil, fmt.Errorf("product catalogue of run %s in %s: %w", m.RunID, b, err)
	}
	if c == nil {
		return nil, nil
	}
	return NewCatalog(c.Products), nil
}
