package recommend

import (
	"context"
	"errors"
	"fmt"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/training"
	"github.com/recoflow/recoflow/vector"
)

// Open builds an engine for a server or a stream: it opens the vector
// store at storeURL (see connect.Vectors), loads the model from the lake,
// and the popular products and (unless opts.Catalog is set) the product
// catalogue from the lake's training dataset.
//
// A model trained on a dataset spec other than the built-in one carries
// its spec: the popular items come from the spec's lake dataset
// (LoadPopularSpec), and no catalogue is loaded (the catalogue holds the
// lab's products), so an item the store lacks gets the popular items as
// similar items (ReasonItemUnknown).
//
// The model version is version, or, when version is "", the version live
// in the store, so that shoppers are embedded by the model whose item
// embeddings the store holds; when the store has no live version (or
// cannot say), the lake's latest. A store whose live version differs from
// an explicit version, or names a version the lake has no model for, is
// an error wrapping ErrVersionMismatch, unless opts.AllowVersionMismatch
// (then the lake's latest model is used in the second case). A model
// whose dimension is not the store's wraps ErrDimension. A lake without a
// training dataset leaves the engine without fallback (logged); other
// errors reading it fail Open. A catalogue that cannot be read (or a
// dataset without one) leaves the engine without Options.Catalog (logged).
//
// Open blocks on the store's connection and the lake's reads. The engine
// owns the store: Close closes it. On error, nothing stays open.
//
// Open is OpenStore followed by OpenWithStore, for callers that build one
// engine per store. A server that replaces its engine (a new model
// version, a retry) keeps one store with OpenStore and builds each engine
// on it with OpenWithStore, so that the store's vectors are held once.
func Open(ctx context.Context, bucket lake.BucketReader, storeURL, version string, opts Options) (*Engine, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, storeURL, opts)
	if err != nil {
		return nil, err
	}
	e, err := open(ctx, bucket, st, version, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	e.closer = st
	return e, nil
}

// OpenStore opens the vector store at storeURL (see connect.Vectors) with
// opts.Vectors, logging to opts.Logger unless opts.Vectors.Logger is set.
// The caller owns the store: it closes it, after every engine built on it
// with OpenWithStore is closed or no longer used. On error, nothing stays
// open.
func OpenStore(ctx context.Context, storeURL string, opts Options) (vector.Store, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if opts.Vectors.Logger == nil {
		opts.Vectors.Logger = opts.Logger
	}
	st, err := connect.Vectors(ctx, storeURL, opts.Vectors)
	if err != nil {
		return nil, fmt.Errorf("open vector store: %w", err)
	}
	return st, nil
}

// OpenWithStore builds an engine as Open does, on store st that the caller
// opened (OpenStore) and keeps: the model version chosen, the errors and
// the lake's reads are Open's. The engine does not own st: its Close
// leaves st open, and the caller must keep st open while the engine is in
// use, and close it itself. Several engines may share st (one per model
// version while a server switches versions). On error, st is left open
// and as it was.
func OpenWithStore(ctx context.Context, bucket lake.BucketReader, st vector.Store, version string, opts Options) (*Engine, error) {
	if st == nil {
		return nil, errors.New("recommend: OpenWithStore: no vector store")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	return open(ctx, bucket, st, version, opts)
}

func open(ctx context.Context, bucket lake.BucketReader, st vector.Store, version string, opts Options) (*Engine, error) {
	log := opts.Logger
	info, verr := st.Version(ctx)
	if verr != nil && ctx.Err() != nil {
		return nil, verr
	}
	var m *model.Model
	var err error
	switch {
	case version != "":
		if verr == nil && info.Version != version && !opts.AllowVersionMismatch {
			return nil, fmt.Errorf("%w: vector store %s holds version %s, not %s: load it with `recoflow vectors load --version %s`, or serve %s",
				ErrVersionMismatch, st, info.Version, version, version, info.Version)
		}
		m, err = model.Load(ctx, bucket, version)
	case verr == nil:
		m, err = model.Load(ctx, bucket, info.Version)
		if errors.Is(err, model.ErrNoModel) {
			if !opts.AllowVersionMismatch {
				return nil, fmt.Errorf("%w: vector store %s holds version %s, which %s has no model for: load a trained model's vectors (recoflow vectors load) or name the version: %w",
					ErrVersionMismatch, st, info.Version, bucket, err)
			}
			log.Warn("the lake has no model for the vector store's version; using the latest model", "store_version", info.Version)
			m, err = model.Load(ctx, bucket, "")
		}
	default:
		log.Warn("cannot read the vector store's version; using the lake's latest model", "store", st.String(), "error", verr.Error())
		m, err = model.Load(ctx, bucket, "")
	}
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if m.Dim() != st.Dim() { // before the long read of the dataset
		return nil, fmt.Errorf("%w: model %s embeds in %d dimensions, but vector store %s holds %d-dimensional vectors",
			ErrDimension, m.Version(), m.Dim(), st, st.Dim())
	}
	spec, _ := m.Spec()
	pop, err := LoadPopularSpec(ctx, bucket, spec)
	if errors.Is(err, training.ErrNoDataset) {
		log.Warn("no training dataset in the lake: no popular products to fall back on", "lake", bucket.String())
		pop, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	catalogProducts := -1 // given by the caller
	if opts.Catalog == nil && !model.IsBuiltIn(spec) {
		// The catalogue is the lab's products: a spec model's item
		// the store lacks gets the popular items as similar items.
		catalogProducts = 0
	} else if opts.Catalog == nil {
		cat, err := LoadCatalog(ctx, bucket)
		switch {
		case errors.Is(err, training.ErrNoDataset):
		case err != nil && ctx.Err() != nil:
			return nil, err
		case err != nil:
			// Only similar items for products the store lacks depend on
			// it: serve without, and say so.
			log.Warn("cannot read the product catalogue: products the vector store lacks get the popular products as similar items", "lake", bucket.String(), "error", err.Error())
		case cat == nil:
			log.Warn("the training dataset has no product catalogue (an older ETL): products the vector store lacks get the popular products as similar items; run `recoflow etl` again", "lake", bucket.String())
		default:
			opts.Catalog = cat
		}
		catalogProducts = len(cat)
	}
	e, err := New(m, st, pop, opts)
	if err != nil {
		return nil, err
	}
	log.Info("recommendation engine ready", "model_version", m.Version(), "dim", m.Dim(), "store", st.String(),
		"store_version", info.Version, "popular_products", len(pop), "catalogue_products", catalogProducts)
	return e, nil
}
