package recommend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/vector"
)

// Errors of the engine. Test them with errors.Is; the errors returned wrap
// them with what was asked.
var (
	// ErrInvalid: the request cannot be answered as asked — k out of range,
	// an empty product code, an embedding with a non-finite component or of
	// the wrong length (then it wraps ErrDimension too).
	ErrInvalid = errors.New("invalid recommendation request")
	// ErrDimension is vector.ErrDimension: the model's embeddings and the
	// store's vectors (or a given embedding) differ in length.
	ErrDimension = vector.ErrDimension
	// ErrUnknownItem: the product is not in the vector store's live
	// version. The error wraps vector.ErrNotFound too.
	ErrUnknownItem = errors.New("unknown item")
	// ErrUnavailable: the vector store cannot answer (down, empty, too slow)
	// and there is no fallback — Options.NoFallback is set or no popular
	// products are known. Retrying later may succeed.
	ErrUnavailable = errors.New("recommendations unavailable")
	// ErrVersionMismatch: the vector store's live version is not the
	// model's, so user embeddings and item vectors are not comparable.
	ErrVersionMismatch = errors.New("model and vector store versions differ")
)

// Reason says why an Answer is a fallback.
type Reason string

// Fallback reasons.
const (
	// ReasonStoreUnavailable: the vector store cannot be reached or is
	// closed (vector.ErrUnavailable).
	ReasonStoreUnavailable Reason = "store_unavailable"
	// ReasonStoreEmpty: no model version is loaded in the store
	// (vector.ErrEmpty).
	ReasonStoreEmpty Reason = "store_empty"
	// ReasonStoreTimeout: the store did not answer within
	// Options.SearchTimeout.
	ReasonStoreTimeout Reason = "store_timeout"
	// ReasonStoreError: the store failed otherwise.
	ReasonStoreError Reason = "store_error"
	// ReasonVersionMismatch: the store's live version is not the model's
	// (someone loaded other vectors since the engine started).
	ReasonVersionMismatch Reason = "version_mismatch"
	// ReasonNoEmbedding: the model gives the shopper (or a product embedded
	// from its features) a zero embedding, which has no direction to search
	// along.
	ReasonNoEmbedding Reason = "no_embedding"
	// ReasonItemFeatures: the product is not in the vector store, so its
	// similar items are the nearest to the item tower's embedding of its
	// catalogue features (Options.Catalog) rather than to its stored vector.
	// Only requests with Request.UnknownItemFallback get such answers.
	ReasonItemFeatures Reason = "item_features"
	// ReasonItemUnknown: the product is neither in the vector store nor in
	// the catalogue, so its similar items are the popular products. Only
	// requests with Request.UnknownItemFallback get such answers.
	ReasonItemUnknown Reason = "item_unknown"
)

// ItemCatalog gives the features of the shop's products, including those
// the vector store does not hold (never rated, so absent from the trained
// model's item embeddings, or added since the training). The engine embeds
// such a product with the item tower to find items similar to it.
type ItemCatalog interface {
	// ItemFeatures returns the features of the product with the given
	// code; ok is false when the catalogue does not list it. It does not
	// block and is safe for concurrent use.
	ItemFeatures(productCode string) (f model.ItemFeatures, ok bool)
}

// Catalog is an ItemCatalog held in memory: product code → features.
type Catalog map[string]model.ItemFeatures

// ItemFeatures implements ItemCatalog.
func (c Catalog) ItemFeatures(code string) (model.ItemFeatures, bool) {
	f, ok := c[code]
	return f, ok
}

// Defaults of Options.
const (
	DefaultMaxK                 = 1000
	DefaultSearchTimeout        = 2 * time.Second
	DefaultVersionCheckInterval = 5 * time.Second
)

// Options tune an engine. The zero value gives the defaults.
type Options struct {
	// MaxK is the largest k a request may ask for (DefaultMaxK).
	MaxK int
	// NoFallback makes store failures errors wrapping ErrUnavailable
	// instead of answers from the popular products.
	NoFallback bool
	// SearchTimeout bounds each call to the vector store
	// (DefaultSearchTimeout); when it expires the answer falls back.
	// Negative: no bound beyond the caller's context.
	SearchTimeout time.Duration
	// VersionCheckInterval is how often the engine checks that the store
	// still holds the model's version (DefaultVersionCheckInterval);
	// negative: never. The check runs inside a request, at most once per
	// interval; other requests meanwhile use the last result.
	VersionCheckInterval time.Duration
	// AllowVersionMismatch serves even when the store's version is not
	// the model's (embeddings loaded from files under another name, say).
	AllowVersionMismatch bool
	// Logger receives the engine's few log lines (rate-limited fallback
	// warnings; Open's choices). Default: discard.
	Logger *slog.Logger
	// Vectors are the options Open passes to connect.Vectors.
	Vectors connect.VectorOptions
	// Catalog, when set, gives the features of products the vector store
	// does not hold, for requests with Request.UnknownItemFallback (see
	// RecommendBatch). Open sets it from the lake's catalogue when it is
	// nil. It holds the lab's item features: an engine whose model was
	// trained on another dataset spec does not use it.
	Catalog ItemCatalog
}

func (o *Options) setDefaults() error {
	if o.MaxK == 0 {
		o.MaxK = DefaultMaxK
	}
	if o.MaxK < 1 {
		return fmt.Errorf("%w: MaxK %d: want at least 1", ErrInvalid, o.MaxK)
	}
	if o.SearchTimeout == 0 {
		o.SearchTimeout = DefaultSearchTimeout
	}
	if o.VersionCheckInterval == 0 {
		o.VersionCheckInterval = DefaultVersionCheckInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Item is one recommended product.
type Item struct {
	// ID is the productCode.
	ID string `json:"id"`
	// Score is the cosine similarity to the query, in [−1, 1], highest
	// first. In a fallback answer it is the product's popularity relative
	// to the most popular one, in [0, 1] (see Popular.Score).
	Score float64 `json:"score"`
	// Distance is 1 − Score: the cosine distance, lowest first.
	Distance float64 `json:"distance"`
}

// Answer is the engine's reply to one question.
type Answer struct {
	// Items are the recommended products, best first.
	Items []Item
	// Fallback is true when Items are not the model's usual answer: the
	// popular products, or (Reason ReasonItemFeatures) the neighbours of a
	// product the store does not hold, embedded from its catalogue
	// features. Reason says why and Detail gives the error behind it.
	Fallback bool
	Reason   Reason
	Detail   string
	// ModelVersion is the version of the model that embedded the query
	// ("" for a model that was never saved).
	ModelVersion string
}

// Engine answers recommendation questions from a model, a vector store
// and the popular products: items for a shopper (top k by cosine
// similarity to the shopper's embedding) and items similar to an item (its
// k nearest, itself excluded). When the store cannot answer it falls back
// to the popular products and says so. An Engine is safe for concurrent
// use; its methods block on the vector store only.
type Engine struct {
	model   *model.Model
	store   vector.Reader
	popular []Popular
	opts    Options
	log     *slog.Logger
	closer  io.Closer // the store, when Open opened it

	// users and items are the model's features by name; spec is set
	// when the model's dataset spec is not the built-in one.
	users, items *FeatureSchema
	spec         bool

	guard versionGuard

	lastWarn atomic.Int64 // unix nanoseconds of the last fallback warning
	skipped  atomic.Int64 // fallbacks not logged since

	// userEmb and itemVec cache, for the engine's one model version, the
	// user tower's embeddings of shoppers' features and the store's
	// vectors of products (RecommendBatch: a stream sees the same shoppers
	// and products again and again). Both are bounded.
	userEmb boundedCache[userKey, []float32]
	itemVec boundedCache[string, []float32]
	// hits caches the store's answers to questions without exclusions,
	// for the same model version (a store's vectors of a version do not
	// change; one that moves to another version fails the version check,
	// and the batch then does not use the cache).
	hits boundedCache[queryKey, []vector.Hit]
	// closed is set by Close: the caches answer no more.
	closed atomic.Bool
}

// New returns an engine over a trained model and a vector store holding
// that model's item embeddings. popular is the fallback, in order (see
// CountPopular and LoadPopular); nil means no fallback. New does not block:
// it checks that the model embeds in the store's dimension (else an error
// wrapping ErrDimension) and leaves the version check to the first
// requests. The engine does not close store.
func New(m *model.Model, store vector.Reader, popular []Popular, opts Options) (*Engine, error) {
	if m == nil || store == nil {
		return nil, fmt.Errorf("%w: recommend.New needs a model and a vector store", ErrInvalid)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if m.Dim() != store.Dim() {
		return nil, fmt.Errorf("%w: model %s embeds in %d dimensions, but vector store %s holds %d-dimensional vectors",
			ErrDimension, versionName(m.Version()), m.Dim(), store, store.Dim())
	}
	e := &Engine{model: m, store: store, popular: slices.Clone(popular), opts: opts, log: opts.Logger}
	e.schemas()
	e.userEmb.max, e.itemVec.max, e.hits.max = embeddingCacheSize, embeddingCacheSize, answerCacheSize
	e.guard.interval = opts.VersionCheckInterval
	if m.Version() == "" || opts.AllowVersionMismatch {
		e.guard.interval = -1
	}
	return e, nil
}

func versionName(v string) string {
	if v == "" {
		return "(unsaved)"
	}
	return v
}

// Model returns the engine's model.
func (e *Engine) Model() *model.Model { return e.model }

// Store returns the engine's vector store.
func (e *Engine) Store() vector.Reader { return e.store }

// Popular returns a copy of the popular products, most popular first.
func (e *Engine) Popular() []Popular { return slices.Clone(e.popular) }

// MaxK returns the largest k a request may ask for.
func (e *Engine) MaxK() int { return e.opts.MaxK }

// Close closes the vector store if Open opened it; otherwise it does
// nothing. Requests after Close fall back (or fail) as for a closed store.
func (e *Engine) Close() error {
	e.closed.Store(true) // no answer from the caches either
	if e.closer == nil {
		return nil
	}
	return e.closer.Close()
}

// CheckStore returns nil when, as far as the engine knows, its vector store
// answers for the engine's model version, or the error that says why not.
// It asks the store at most once per Options.VersionCheckInterval (as every
// request does); callers that keep answers of their own for the engine's
// version use it to stop using them when the store has moved on or failed.
func (e *Engine) CheckStore(ctx context.Context) error {
	if e.closed.Load() {
		return fmt.Errorf("%w: the engine is closed", ErrUnavailable)
	}
	_, err := e.guard.check(ctx, e)
	return err
}

// UserEmbedding returns the user tower's embedding of a shopper's features
// (Model().Dim() values). It does not block. Shoppers the model has never
// seen get one too: unknown cities and countries are ignored. It is for a
// model of the lab's dataset: a spec model's users have the spec's
// features (UserEmbeddingOf), and it gets only those of f whose names its
// spec has (city, country, creditLimit), the others counting as missing.
func (e *Engine) UserEmbedding(f model.UserFeatures) []float32 {
	if !e.spec {
		return e.model.EmbedUser(f)
	}
	g := e.users.Empty()
	for _, v := range []struct {
		name string
		text string
		num  float64
	}{{"city", f.City, 0}, {"country", f.Country, 0}, {"creditLimit", "", f.CreditLimit}} {
		if ft, ok := e.users.Lookup(v.name); ok {
			if ft.Numeric() {
				e.users.SetNumber(&g, ft, v.num)
			} else {
				e.users.SetText(&g, ft, v.text)
			}
		}
	}
	return e.model.EmbedKnownUserFeatures("", g)
}

// ItemsForUser returns the k items whose embeddings are nearest to a user
// embedding by cosine similarity, highest first, skipping the ids in
// exclude. It blocks on one store search. A k outside 1..MaxK, or an
// embedding of the wrong length or with a non-finite component, gives an
// error wrapping ErrInvalid. When the store cannot answer, or the
// embedding is zero, the answer is the k most popular products with
// Fallback set (or, without a fallback, an error wrapping ErrUnavailable).
// A cancelled ctx gives ctx's error.
func (e *Engine) ItemsForUser(ctx context.Context, userEmbedding []float32, k int, exclude ...string) (Answer, error) {
	if err := e.checkK(k); err != nil {
		return Answer{}, err
	}
	zero, err := e.checkEmbedding(userEmbedding)
	if err != nil {
		return Answer{}, err
	}
	if zero {
		return e.fallback(k, exclude, ReasonNoEmbedding, errors.New("the embedding is zero"))
	}
	if r, err := e.guard.check(ctx, e); err != nil {
		return e.storeFailed(ctx, k, exclude, r, err)
	}
	sctx, cancel := e.searchContext(ctx)
	hits, err := e.store.SearchItems(sctx, userEmbedding, k, exclude...)
	cancel()
	if err != nil {
		return e.storeFailed(ctx, k, exclude, "", err)
	}
	return Answer{Items: itemsOf(hits), ModelVersion: e.model.Version()}, nil
}

// SimilarItems returns the k items nearest to a product by cosine distance,
// nearest first, the product itself excluded, as well as the ids in
// exclude. It blocks on one store call when the store finds neighbours by
// id (vector.SimilarSearcher: one round trip to pgvector), else on two
// (the item's vector, then the search). An unknown product gives an error wrapping ErrUnknownItem; a k
// outside 1..MaxK or an empty code, ErrInvalid. When the store cannot
// answer, the answer is the k most popular products other than the item,
// with Fallback set (or an error wrapping ErrUnavailable).
func (e *Engine) SimilarItems(ctx context.Context, productCode string, k int, exclude ...string) (Answer, error) {
	if err := e.checkK(k); err != nil {
		return Answer{}, err
	}
	if productCode == "" {
		return Answer{}, fmt.Errorf("%w: empty product code", ErrInvalid)
	}
	excl := append([]string{productCode}, exclude...)
	if r, err := e.guard.check(ctx, e); err != nil {
		return e.storeFailed(ctx, k, excl, r, err)
	}
	if ss, ok := e.store.(vector.SimilarSearcher); ok {
		sctx, cancel := e.searchContext(ctx)
		hits, err := ss.SimilarItems(sctx, productCode, k, exclude...)
		cancel()
		switch {
		case errors.Is(err, vector.ErrNotFound):
			return Answer{}, &unknownItemError{code: productCode, version: versionName(e.model.Version()), err: err}
		case err != nil:
			if ctx.Err() != nil {
				return Answer{}, ctx.Err()
			}
			return e.storeFailed(ctx, k, excl, "", err)
		}
		return Answer{Items: itemsOf(hits), ModelVersion: e.model.Version()}, nil
	}
	v, err := e.itemVector(ctx, productCode)
	if err != nil {
		if errors.Is(err, ErrUnknownItem) || ctx.Err() != nil {
			return Answer{}, err
		}
		return e.storeFailed(ctx, k, excl, "", err)
	}
	sctx, cancel := e.searchContext(ctx)
	hits, err := e.store.SearchItems(sctx, v, k, excl...)
	cancel()
	if err != nil {
		return e.storeFailed(ctx, k, excl, "", err)
	}
	return Answer{Items: itemsOf(hits), ModelVersion: e.model.Version()}, nil
}

// PopularItems returns the k most popular products (fewer if fewer are
// known), skipping the ids in exclude, as a fallback Answer with the given
// reason. It does not block. Callers that prefer a popular answer to an
// error (for an unknown item, say) use it directly.
func (e *Engine) PopularItems(k int, reason Reason, exclude ...string) Answer {
	a := Answer{Fallback: true, Reason: reason, ModelVersion: e.model.Version()}
	for _, p := range e.popular {
		if len(a.Items) >= k {
			break
		}
		if slices.Contains(exclude, p.ProductCode) {
			continue
		}
		a.Items = append(a.Items, Item{ID: p.ProductCode, Score: p.Score, Distance: 1 - p.Score})
	}
	return a
}

func (e *Engine) itemVector(ctx context.Context, code string) ([]float32, error) {
	sctx, cancel := e.searchContext(ctx)
	defer cancel()
	v, err := e.store.ItemVector(sctx, code)
	if errors.Is(err, vector.ErrNotFound) {
		return nil, &unknownItemError{code: code, version: versionName(e.model.Version()), err: err}
	}
	if err == nil && len(v) != e.model.Dim() {
		err = fmt.Errorf("%w: the store's vector of %q has %d components, the model %d", vector.ErrDimension, code, len(v), e.model.Dim())
	}
	return v, err
}

// unknownItemError says which product is unknown, briefly, and wraps
// both ErrUnknownItem and the store's vector.ErrNotFound.
type unknownItemError struct {
	code, version string
	err           error
}

func (u *unknownItemError) Error() string {
	return fmt.Sprintf("%v: product %q is not in model version %s", ErrUnknownItem, u.code, u.version)
}

func (u *unknownItemError) Unwrap() []error { return []error{ErrUnknownItem, u.err} }

func (e *Engine) checkK(k int) error {
	if k < 1 || k > e.opts.MaxK {
		return fmt.Errorf("%w: k = %d: want 1 to %d", ErrInvalid, k, e.opts.MaxK)
	}
	return nil
}

// checkEmbedding reports whether v fits the model and whether it is zero.
func (e *Engine) checkEmbedding(v []float32) (zero bool, err error) {
	if len(v) != e.model.Dim() {
		return false, fmt.Errorf("%w: %w: the embedding has %d components, model %s embeds in %d",
			ErrInvalid, ErrDimension, len(v), versionName(e.model.Version()), e.model.Dim())
	}
	zero = true
	for i, x := range v {
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return false, fmt.Errorf("%w: embedding component %d is %v", ErrInvalid, i+1, f)
		}
		if x != 0 {
			zero = false
		}
	}
	return zero, nil
}

func (e *Engine) searchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if e.opts.SearchTimeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, e.opts.SearchTimeout)
}

// classify names the reason of a store failure. It returns ok = false when
// the failure is the caller's: ctx is done.
func classify(ctx context.Context, err error) (Reason, bool) {
	if ctx.Err() != nil {
		return "", false
	}
	switch {
	case errors.Is(err, vector.ErrUnavailable):
		return ReasonStoreUnavailable, true
	case errors.Is(err, vector.ErrEmpty):
		return ReasonStoreEmpty, true
	case errors.Is(err, ErrVersionMismatch):
		return ReasonVersionMismatch, true
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonStoreTimeout, true
	default:
		return ReasonStoreError, true
	}
}

// storeFailed turns a store failure into a fallback answer, or into an
// error when ctx is done or there is no fallback. reason "" means classify
// err.
func (e *Engine) storeFailed(ctx context.Context, k int, exclude []string, reason Reason, err error) (Answer, error) {
	if reason == "" {
		r, ok := classify(ctx, err)
		if !ok {
			return Answer{}, fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		reason = r
	}
	return e.fallback(k, exclude, reason, err)
}

func (e *Engine) fallback(k int, exclude []string, reason Reason, cause error) (Answer, error) {
	if e.opts.NoFallback {
		return Answer{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, reason, cause)
	}
	if len(e.popular) == 0 {
		return Answer{}, fmt.Errorf("%w: %s, and no popular products to fall back on: %w", ErrUnavailable, reason, cause)
	}
	a := e.PopularItems(k, reason, exclude...)
	a.Detail = cause.Error()
	e.warnFallback(reason, cause)
	return a, nil
}

// warnFallback logs a fallback at most once per 10 seconds, with the
// number of fallbacks not logged since the previous line.
func (e *Engine) warnFallback(reason Reason, cause error) {
	now := time.Now().UnixNano()
	last := e.lastWarn.Load()
	if now-last < int64(10*time.Second) || !e.lastWarn.CompareAndSwap(last, now) {
		e.skipped.Add(1)
		return
	}
	e.log.Warn("recommend: answering with popular products", "reason", string(reason), "error", cause.Error(),
		"fallbacks_not_logged", e.skipped.Swap(0))
}

func itemsOf(hits []vector.Hit) []Item {
	items := make([]Item, len(hits))
	for i, h := range hits {
		items[i] = Item{ID: h.ID, Score: h.Similarity(), Distance: h.Distance}
	}
	return items
}

// Status describes an engine's readiness.
type Status struct {
	// ModelVersion and Dim describe the model.
	ModelVersion string
	Dim          int
	// Store describes the vector store, without secrets.
	Store string
	// StoreVersion and StoreItems describe the store's live version, when
	// it could be read.
	StoreVersion string
	StoreItems   int
	// Popular is the number of popular products known for fallbacks.
	Popular int
	// Err is nil when the store answers with the model's version: it wraps
	// vector.ErrUnavailable, vector.ErrEmpty or ErrVersionMismatch
	// otherwise.
	Err error
}

// Status asks the store for its live version (one small call, bounded by
// Options.SearchTimeout) and reports whether the engine can answer from the
// model. It also refreshes the version check that requests rely on.
func (e *Engine) Status(ctx context.Context) Status {
	st := Status{ModelVersion: e.model.Version(), Dim: e.model.Dim(), Store: e.store.String(), Popular: len(e.popular)}
	info, err := e.version(ctx)
	if err == nil {
		st.StoreVersion, st.StoreItems = info.Version, info.Items
		err = e.compareVersion(info)
	}
	if ctx.Err() == nil {
		e.guard.record(err)
	}
	st.Err = err
	return st
}

func (e *Engine) version(ctx context.Context) (vector.Info, error) {
	sctx, cancel := e.searchContext(ctx)
	defer cancel()
	return e.store.Version(sctx)
}

func (e *Engine) compareVersion(info vector.Info) error {
	if e.opts.AllowVersionMismatch || e.model.Version() == "" || info.Version == e.model.Version() {
		return nil
	}
	return fmt.Errorf("%w: vector store %s holds version %s, the model is %s", ErrVersionMismatch, e.store, info.Version, e.model.Version())
}

// versionGuard remembers whether the store held the model's version at the
// last check, and checks again once the interval has passed. One request
// runs the check; the others use the last result meanwhile.
type versionGuard struct {
	interval time.Duration // < 0: never check
	mu       sync.Mutex
	checking atomic.Bool
	checked  time.Time
	err      error // of the last check; only ErrVersionMismatch counts
}

func (g *versionGuard) record(err error) {
	g.mu.Lock()
	g.checked = time.Now()
	if errors.Is(err, ErrVersionMismatch) {
		g.err = err
	} else {
		g.err = nil // other failures show up in the request itself
	}
	g.mu.Unlock()
}

// check returns ErrVersionMismatch (and its reason) when the store's
// version is known not to be the model's, and the store's error (with
// reason "") when the check it ran failed.
func (g *versionGuard) check(ctx context.Context, e *Engine) (Reason, error) {
	if g.interval < 0 {
		return "", nil
	}
	g.mu.Lock()
	stale := g.checked.IsZero() || time.Since(g.checked) >= g.interval
	err := g.err
	g.mu.Unlock()
	if stale && g.checking.CompareAndSwap(false, true) {
		info, verr := e.version(ctx)
		if verr == nil {
			verr = e.compareVersion(info)
		}
		if ctx.Err() == nil {
			g.record(verr)
		}
		g.checking.Store(false)
		if errors.Is(verr, ErrVersionMismatch) {
			return ReasonVersionMismatch, verr
		}
		// Any other failure of the store fails this request as its
		// search would, without waiting for the search too.
		return "", verr
	}
	if err != nil {
		return ReasonVersionMismatch, err
	}
	return "", nil
}
