package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/vector"
)

// Request is one shopper's questions in a batch: items for the shopper
// and, optionally, items similar to one product.
type Request struct {
	// User are the shopper's features, embedded by the user tower unless
	// Embedding or Features is set. A model of another dataset spec than
	// the built-in one does not take them: its requests give Features.
	User model.UserFeatures
	// Features, when not nil, are the shopper's features in the model's
	// generic form (Engine.UserSchema: FeatureSchema.Empty, then SetText,
	// SetNumber, SetList), used instead of User. A spec model's request
	// without them embeds the id alone (every feature missing). Features
	// that do not fit the model's schema give an error wrapping
	// ErrInvalid.
	Features *model.Features
	// UserID, when the model knows it (a user id it was trained on: the
	// lab's customerNumber), adds the shopper's learned id vector to the
	// features' embedding (model.EmbedKnownUser, EmbedKnownUserFeatures);
	// any other id, or "", embeds from the features alone.
	UserID string
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
// SimilarTo product the engine has not looked up before. Identical
// questions without exclusions (the same shopper's features, or the same
// product, and the same k) are searched once: the engine caches, for its
// one model version and bounded, the user tower's embeddings, the store's
// item vectors and the store's answers to such questions (a stream sees
// the same shoppers and products again and again). A batch answered
// entirely from the caches does not ask the store; after Close the
// caches answer nothing. It blocks until every answer is known
// or ctx is done and returns one Result per request, in order; errors
// are per request and per question. A store that fails makes every
// pending answer fall back (or fail with ErrUnavailable), not only the
// one that met it. A cancelled ctx makes every unanswered question fail
// with ctx's error. It is safe for concurrent use.
func (e *Engine) RecommendBatch(ctx context.Context, reqs []Request) []Result {
	out := make([]Result, len(reqs))
	var queries []vector.Query
	type slot struct {
		req     int
		similar bool
		q       int // index in queries, unless cached
		cached  bool
		hits    []vector.Hit // the cached answer
		// reason and detail mark an answer for a product embedded from
		// its catalogue features.
		reason Reason
		detail string
	}
	var slots []slot
	// asked maps a question without exclusions to its query, so that
	// identical questions share one search; keys are the questions to
	// cache once answered (valid false: not cached).
	asked := map[queryKey]int{}
	var keys []queryKey
	queue := func(s slot, key queryKey, dedupe bool, q vector.Query) {
		if dedupe {
			if h, ok := e.hits.get(key); ok && !e.closed.Load() {
				s.cached, s.hits = true, h
				slots = append(slots, s)
				return
			}
			if i, ok := asked[key]; ok {
				s.q = i
				slots = append(slots, s)
				return
			}
			asked[key] = len(queries)
			key.valid = true
		} else {
			key = queryKey{}
		}
		s.q = len(queries)
		queries = append(queries, q)
		keys = append(keys, key)
		slots = append(slots, s)
	}

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
		given := emb != nil
		var ukey userKey
		if !given {
			var err error
			if emb, ukey, err = e.requestEmbedding(&r); err != nil {
				res.ItemsErr = err
				continue
			}
			res.Embedding = slices.Clone(emb)
		} else {
			res.Embedding = emb
		}
		zero, err := e.checkEmbedding(emb)
		switch {
		case err != nil:
			res.ItemsErr = err
		case zero:
			res.Items, res.ItemsErr = e.fallback(r.K, r.Exclude, ReasonNoEmbedding, errors.New("the embedding is zero"))
		case storeErr != nil:
			res.Items, res.ItemsErr = failed(r.K, r.Exclude)
		default:
			queue(slot{req: i}, queryKey{user: ukey, k: r.K}, !given && len(r.Exclude) == 0,
				vector.Query{Vector: emb, K: r.K, Exclude: r.Exclude})
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
			queue(slot{req: i, similar: true, reason: ReasonItemFeatures,
				detail: fmt.Sprintf("%v; similar items found from its catalogue features", uerr)},
				queryKey{similar: true, features: true, product: r.SimilarTo, k: r.SimilarK}, len(r.Exclude) == 0,
				vector.Query{Vector: v, K: r.SimilarK, Exclude: excl})
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
			v, err = e.cachedItemVector(ctx, r.SimilarTo)
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
		queue(slot{req: i, similar: true}, queryKey{similar: true, product: r.SimilarTo, k: r.SimilarK}, len(r.Exclude) == 0,
			vector.Query{Vector: v, K: r.SimilarK, Exclude: excl})
	}
	if len(slots) == 0 {
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

	var hits [][]vector.Hit
	var err error
	if len(queries) > 0 {
		sctx, cancel := e.searchContext(ctx)
		hits, err = e.store.SearchItemsBatch(sctx, queries)
		cancel()
		if err == nil && len(hits) != len(queries) {
			err = fmt.Errorf("vector store %s answered %d of %d queries", e.store, len(hits), len(queries))
		}
	}
	if err == nil {
		for i, k := range keys {
			if k.valid {
				k.valid = false // as looked up
				e.hits.put(k, hits[i])
			}
		}
		for _, s := range slots {
			if s.cached {
				set(s, answer(s.reason, s.detail, s.hits), nil)
				continue
			}
			set(s, answer(s.reason, s.detail, hits[s.q]), nil)
		}
		return out
	}
	if errors.Is(err, vector.ErrInvalid) || errors.Is(err, vector.ErrDimension) {
		// One query the store refused fails the whole batch call: ask
		// again one by one so that only that one fails.
		one := make([][]vector.Hit, len(queries))
		errs := make([]error, len(queries))
		for i, q := range queries {
			sctx, cancel := e.searchContext(ctx)
			one[i], errs[i] = e.store.SearchItems(sctx, q.Vector, q.K, q.Exclude...)
			cancel()
		}
		for _, s := range slots {
			if s.cached {
				set(s, answer(s.reason, s.detail, s.hits), nil)
				continue
			}
			if errs[s.q] != nil {
				k, excl := want(s)
				a, err := e.storeFailed(ctx, k, excl, "", errs[s.q])
				set(s, a, err)
				continue
			}
			set(s, answer(s.reason, s.detail, one[s.q]), nil)
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

// queryKey identifies a question without exclusions: a shopper's
// features and k, or a product (by its stored vector, or by its catalogue
// features) and k.
type queryKey struct {
	similar, features bool
	user              userKey
	product           string
	k                 int
	valid             bool // a key to cache the answer under
}

// userKey is a shopper's features as a map key (the credit limit by its
// bits, so that even a NaN finds itself); a spec model's shopper has its
// generic features in features (FeaturesKey) instead.
type userKey struct {
	id, city, country string
	credit            uint64
	features          string
}

func userKeyOf(id string, f model.UserFeatures) userKey {
	return userKey{id: id, city: f.City, country: f.Country, credit: math.Float64bits(f.CreditLimit)}
}

// embeddingCacheSize bounds each of the engine's embedding caches: 65,536
// entries of a 32-dimensional vector are about 12 MiB.
const embeddingCacheSize = 1 << 16

// answerCacheSize bounds the engine's cache of search answers (k hits of
// an id and a distance each: about 0.5 KiB at k = 10).
const answerCacheSize = 1 << 14

// knownUserID returns id when the model has an id vector for it, else "".
func (e *Engine) knownUserID(id string) string {
	if id == "" || !e.model.KnowsUser(id) {
		return ""
	}
	return id
}

// embedUser returns the shopper's embedding (features, plus the id vector
// of a customer the model knows), from the cache when the engine has
// embedded the same shopper before. The result is shared: it must not be
// modified.
func (e *Engine) embedUser(id string, f model.UserFeatures) []float32 {
	id = e.knownUserID(id)
	key := userKeyOf(id, f)
	if v, ok := e.userEmb.get(key); ok {
		return v
	}
	v := e.model.EmbedKnownUser(id, f)
	e.userEmb.put(key, v)
	return v
}

// requestEmbedding returns the embedding of a request's shopper (shared:
// not to be modified) and its cache key.
func (e *Engine) requestEmbedding(r *Request) ([]float32, userKey, error) {
	if r.Features == nil && !e.spec {
		id := e.knownUserID(r.UserID)
		return e.embedUser(id, r.User), userKeyOf(id, r.User), nil
	}
	f := r.Features
	if f == nil {
		empty := e.users.Empty()
		f = &empty
	}
	if !e.users.Fits(*f) {
		return nil, userKey{}, e.misfit(*f)
	}
	id := e.knownUserID(r.UserID)
	key := userKey{id: id, features: FeaturesKey(f)}
	if v, ok := e.userEmb.get(key); ok {
		return v, key, nil
	}
	v := e.model.EmbedKnownUserFeatures(id, *f)
	e.userEmb.put(key, v)
	return v, key, nil
}

// cachedItemVector is itemVector, cached for the products the store holds
// (the store's vectors of the engine's model version do not change; a
// store that moves to another version fails the version check first).
func (e *Engine) cachedItemVector(ctx context.Context, code string) ([]float32, error) {
	if v, ok := e.itemVec.get(code); ok {
		return v, nil
	}
	v, err := e.itemVector(ctx, code)
	if err == nil {
		e.itemVec.put(code, v)
	}
	return v, err
}

// boundedCache is a map safe for concurrent use that holds at most max
// entries: when full, it is emptied and starts again (the entries a
// stream asks for come back at once).
type boundedCache[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]V
	max int
}

func (c *boundedCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *boundedCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[K]V, min(c.max, 1024))
	}
	c.m[k] = v
}

// embedFromCatalog returns the item tower's embedding of the catalogue's
// features of code; ok is false when no catalogue lists it.
func (e *Engine) embedFromCatalog(code string) (v []float32, ok bool) {
	if e.opts.Catalog == nil || e.spec {
		return nil, false // the catalogue holds the lab's item features
	}
	f, ok := e.opts.Catalog.ItemFeatures(code)
	if !ok {
		return nil, false
	}
	return e.model.EmbedItem(f), true
}
