package recommend

import (
	"context"
	"errors"
	"fmt"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/vector"
)

// Request is one shopper's questions in a batch: items for the shopper
// and, optionally, items similar to one product.
type Request struct {
	// User are the shopper's features, embedded by the user tower unless
	// Embedding is set.
	User model.UserFeatures
	// Embedding, when not nil, is the shopper's embedding, used as is.
	Embedding []float32
	// K is the number of items wanted for the shopper; 0 asks for none.
	K int
	// Exclude lists products not to recommend to the shopper (already in
	// the cart, say).
	Exclude []string
	// SimilarTo is a product code whose nearest items are wanted; "" asks
	// for none.
	SimilarTo string
	// SimilarK is the number of similar items wanted (with SimilarTo).
	SimilarK int
	// UnknownItemFallback answers SimilarTo even when the vector store does
	// not hold the product: with the items nearest to the item tower's
	// embedding of its features when Options.Catalog lists it (Reason
	// ReasonItemFeatures), else with the popular products (Reason
	// ReasonItemUnknown; an error wrapping ErrUnknownItem under
	// Options.NoFallback). Either answer has Fallback set. Without it, such
	// a product gives an error wrapping ErrUnknownItem.
	UnknownItemFallback bool
}

// Result answers one Request of a batch.
type Result struct {
	// Embedding is the shopper's embedding (nil when K was 0 and no
	// embedding was needed).
	Embedding []float32
	// Items answers K, as ItemsForUser would; ItemsErr is its error (then
	// Items is empty).
	Items    Answer
	ItemsErr error
	// Similar answers SimilarTo, as SimilarItems would; SimilarErr is its
	// error — an unknown product wraps ErrUnknownItem, unless the request
	// asked for UnknownItemFallback.
	Similar    Answer
	SimilarErr error
}

// RecommendBatch answers many requests at once, each as ItemsForUser and
// SimilarItems would, with one vector search call for the whole batch
// (one round trip on pgvector) plus one item-vector lookup per distinct
// SimilarTo product. It blocks until every answer is known or ctx is done
// and returns one Result per request, in order; errors are per request
// and per question. A store that fails makes every pending answer fall
// back (or fail with ErrUnavailable), not only the one that met it. A
// cancelled ctx makes every unanswered question fail with ctx's error.
func (e *Engine) RecommendBatch(ctx context.Context, reqs []Request) []Result {
	out := make([]Result, len(reqs))
	var queries []vector.Query
	type slot struct {
		req     int
		similar bool
		// reason and detail mark an answer for a product embedded from
		// its catalogue features.
		reason Reason
		detail string
	}
	var slots []slot

	// storeErr is the first store failure of the batch: once the store
	// has failed, the rest of the batch falls back without asking it.
	storeErr := error(nil)
	var storeReason Reason
	if r, err := e.guard.check(ctx, e); err != nil {
		storeErr, storeReason = err, r
	}
	failed := func(k int, exclude []string) (Answer, error) {
		return e.storeFailed(ctx, k, exclude, storeReason, storeErr)
	}

	// Users: embed, validate, queue a query.
	for i, r := range reqs {
		res := &out[i]
		if r.K == 0 {
			continue
		}
		if err := e.checkK(r.K); err != nil {
			res.ItemsErr = err
			continue
		}
		emb := r.Embedding
		if emb == nil {
			emb = e.model.EmbedUser(r.User)
		}
		res.Embedding = emb
		zero, err := e.checkEmbedding(emb)
		switch {
		case err != nil:
			res.ItemsErr = err
		case zero:
			res.Items, res.ItemsErr = e.fallback(r.K, r.Exclude, ReasonNoEmbedding, errors.New("the embedding is zero"))
		case storeErr != nil:
			res.Items, res.ItemsErr = failed(r.K, r.Exclude)
		default:
			queries = append(queries, vector.Query{Vector: emb, K: r.K, Exclude: r.Exclude})
			slots = append(slots, slot{req: i})
		}
	}

	// Similar items: look up each distinct product's vector once.
	vecs := map[string][]float32{}
	unknown := map[string]error{}
	featureVecs := map[string][]float32{} // unknown products embedded from the catalogue
	// unknownAnswer answers a request for a product the store does not
	// hold, or queues a search by the product's catalogue features.
	unknownAnswer := func(i int, r Request, excl []string, uerr error) {
		res := &out[i]
		if !r.UnknownItemFallback {
			res.SimilarErr = uerr
			return
		}
		v, ok := featureVecs[r.SimilarTo]
		if !ok {
			if v, ok = e.embedFromCatalog(r.SimilarTo); ok {
				featureVecs[r.SimilarTo] = v
			}
		}
		if ok {
			if zero, err := e.checkEmbedding(v); err != nil || zero {
				res.Similar = e.PopularItems(r.SimilarK, ReasonNoEmbedding, excl...)
				res.Similar.Detail = fmt.Sprintf("%v; the item tower gives its catalogue features a zero embedding", uerr)
				return
			}
			if storeErr != nil {
				res.Similar, res.SimilarErr = failed(r.SimilarK, excl)
				return
			}
			queries = append(queries, vector.Query{Vector: v, K: r.SimilarK, Exclude: excl})
			slots = append(slots, slot{req: i, similar: true, reason: ReasonItemFeatures,
				detail: fmt.Sprintf("%v; similar items found from its catalogue features", uerr)})
			return
		}
		if e.opts.NoFallback {
			res.SimilarErr = uerr
			return
		}
		res.Similar = e.PopularItems(r.SimilarK, ReasonItemUnknown, excl...)
		res.Similar.Detail = fmt.Sprintf("%v, nor in the catalogue; similar items are the popular products", uerr)
	}
	for i, r := range reqs {
		if r.SimilarTo == "" && r.SimilarK == 0 {
			continue
		}
		res := &out[i]
		if err := e.checkK(r.SimilarK); err != nil {
			res.SimilarErr = err
			continue
		}
		if r.SimilarTo == "" {
			res.SimilarErr = fmt.Errorf("%w: empty product code", ErrInvalid)
			continue
		}
		excl := append([]string{r.SimilarTo}, r.Exclude...)
		if err, ok := unknown[r.SimilarTo]; ok {
			unknownAnswer(i, r, excl, err)
			continue
		}
		v, ok := vecs[r.SimilarTo]
		if !ok && storeErr == nil {
			var err error
			v, err = e.itemVector(ctx, r.SimilarTo)
			switch {
			case errors.Is(err, ErrUnknownItem):
				unknown[r.SimilarTo] = err
				unknownAnswer(i, r, excl, err)
				continue
			case err != nil:
				storeErr, storeReason = err, ""
			default:
				vecs[r.SimilarTo] = v
			}
		}
		if storeErr != nil {
			res.Similar, res.SimilarErr = failed(r.SimilarK, excl)
			continue
		}
		queries = append(queries, vector.Query{Vector: v, K: r.SimilarK, Exclude: excl})
		slots = append(slots, slot{req: i, similar: true})
	}
	if len(queries) == 0 {
		return out
	}

	answer := func(reason Reason, detail string, hits []vector.Hit) Answer {
		return Answer{Items: itemsOf(hits), ModelVersion: e.model.Version(), Fallback: reason != "", Reason: reason, Detail: detail}
	}
	set := func(s slot, a Answer, err error) {
		if s.similar {
			out[s.req].Similar, out[s.req].SimilarErr = a, err
		} else {
			out[s.req].Items, out[s.req].ItemsErr = a, err
		}
	}
	want := func(s slot) (int, []string) {
		r := reqs[s.req]
		if s.similar {
			return r.SimilarK, append([]string{r.SimilarTo}, r.Exclude...)
		}
		return r.K, r.Exclude
	}
	if storeErr != nil {
		// The store failed while looking up item vectors: queries queued
		// before that fall back too.
		for _, s := range slots {
			k, excl := want(s)
			a, err := failed(k, excl)
			set(s, a, err)
		}
		return out
	}

	sctx, cancel := e.searchContext(ctx)
	hits, err := e.store.SearchItemsBatch(sctx, queries)
	cancel()
	if err == nil && len(hits) != len(queries) {
		err = fmt.Errorf("vector store %s answered %d of %d queries", e.store, len(hits), len(queries))
	}
	if err == nil {
		for i, s := range slots {
			set(s, answer(s.reason, s.detail, hits[i]), nil)
		}
		return out
	}
	if errors.Is(err, vector.ErrInvalid) || errors.Is(err, vector.ErrDimension) {
		// One query the store refused fails the whole batch call: ask
		// again one by one so that only that one fails.
		for i, s := range slots {
			sctx, cancel := e.searchContext(ctx)
			h, err := e.store.SearchItems(sctx, queries[i].Vector, queries[i].K, queries[i].Exclude...)
			cancel()
			if err != nil {
				k, excl := want(s)
				a, err := e.storeFailed(ctx, k, excl, "", err)
				set(s, a, err)
				continue
			}
			set(s, answer(s.reason, s.detail, h), nil)
		}
		return out
	}
	for _, s := range slots {
		k, excl := want(s)
		a, err := e.storeFailed(ctx, k, excl, "", err)
		set(s, a, err)
	}
	return out
}

// embedFromCatalog returns the item tower's embedding of the catalogue's
// features of code; ok is false when no catalogue lists it.
func (e *Engine) embedFromCatalog(code string) (v []float32, ok bool) {
	if e.opts.Catalog == nil {
		return nil, false
	}
	f, ok := e.opts.Catalog.ItemFeatures(code)
	if !ok {
		return nil, false
	}
	return e.model.EmbedItem(f), true
}
