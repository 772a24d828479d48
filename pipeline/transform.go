package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/sink"
	"github.com/recoflow/recoflow/stream"
)

// StoreDownPolicy says what the pipeline does while the vector store cannot
// answer.
type StoreDownPolicy string

// The store-down policies.
const (
	// Wait retries the batch with backoff until the store answers.
	Wait StoreDownPolicy = "wait"
	// Fallback delivers the popular products, marked as a fallback.
	Fallback StoreDownPolicy = "fallback"
)

// ParseStoreDownPolicy parses "wait" or "fallback".
func ParseStoreDownPolicy(s string) (StoreDownPolicy, error) {
	switch p := StoreDownPolicy(s); p {
	case Wait, Fallback:
		return p, nil
	}
	return "", fmt.Errorf("%q: want wait or fallback", s)
}

// ErrStoreDown is returned (wrapped) by Transform when the vector store
// could not answer and the policy is Wait: the batch should be retried.
var ErrStoreDown = errors.New("vector store cannot answer")

// Transformer turns stream messages into output and dead-letter records.
type Transformer struct {
	engine   *recommend.Engine
	k        int
	similarK int
	policy   StoreDownPolicy
	annotate bool
	now      func() time.Time
	workers  int

	// recCache and simCache hold the encoded recommended_items of
	// shoppers' features and similar_items of products, for the engine's
	// model version: answers without a fallback only.
	recCache partCache[userKey]
	simCache partCache[string]

	// fallbacks counts fallbacks by part and reason; Run sets it.
	fallbacks atomic.Pointer[prometheus.CounterVec]

	// mapping reads the events; city, country and credit are where the
	// user features the model takes are in its Records (-1: not mapped).
	mapping               *event.Mapping
	city, country, credit int
	// spec is set when the engine's model was trained on a dataset spec
	// other than the built-in one: then every user feature the mapping
	// carries goes to the engine in the model's generic form, features[i]
	// being the feature of Record.UserFeatures[i].
	spec     bool
	schema   *recommend.FeatureSchema
	features []recommend.Feature
	// records holds *[]event.Record for transformChunk's decoded events,
	// reused from batch to batch (a chunk's hundreds of Records).
	records sync.Pool
}

// TransformOptions tune a Transformer.
type TransformOptions struct {
	// K is the number of recommended_items (default 10); SimilarK the
	// number of similar_items (default 5).
	K, SimilarK int
	// OnStoreDown is Wait (default) or Fallback.
	OnStoreDown StoreDownPolicy
	// Annotate adds a ninth key, recommendation_fallback, to the records
	// whose recommended_items or similar_items are a fallback (see
	// FieldFallback). Without it every record has exactly the lab's eight
	// keys; fallbacks are counted in the metrics either way.
	Annotate bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Workers is how many chunks of a batch are transformed at the same
	// time (default GOMAXPROCS: every core).
	Workers int
	// Mapping reads the events: a dataset spec's stream section
	// (event.NewMapping). Default: the stream section of the dataset spec
	// the engine's model was trained on, or, for a model of the lab's
	// dataset, event.LabMapping(), the lab's events.
	// The user id, and the user features the model takes when the mapping
	// carries them, go to the engine: for a model of the lab's dataset,
	// city, country and creditLimit; for a model of another dataset spec,
	// every user feature of its spec the mapping carries (the others count
	// as missing). A mapped feature the model does not have is an error.
	Mapping *event.Mapping
}

// NewTransformer builds a Transformer on an engine.
func NewTransformer(e *recommend.Engine, opts TransformOptions) (*Transformer, error) {
	if opts.K == 0 {
		opts.K = 10
	}
	if opts.SimilarK == 0 {
		opts.SimilarK = 5
	}
	if opts.K < 1 || opts.K > e.MaxK() || opts.SimilarK < 1 || opts.SimilarK > e.MaxK() {
		return nil, fmt.Errorf("k %d and similar k %d: want 1..%d", opts.K, opts.SimilarK, e.MaxK())
	}
	if opts.OnStoreDown == "" {
		opts.OnStoreDown = Wait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Mapping == nil {
		opts.Mapping = event.LabMapping()
		if spec, _ := e.Model().Spec(); spec != nil && e.IsSpecModel() {
			m, err := event.NewMapping(spec)
			if err != nil {
				return nil, fmt.Errorf("model %s's dataset spec %q: %w", e.Model().Version(), spec.Name, err)
			}
			opts.Mapping = m
		}
	}
	t := &Transformer{engine: e, k: opts.K, similarK: opts.SimilarK, policy: opts.OnStoreDown, annotate: opts.Annotate, now: opts.Now, workers: opts.Workers,
		mapping: opts.Mapping, city: -1, country: -1, credit: -1}
	if e.IsSpecModel() {
		t.spec, t.schema = true, e.UserSchema()
		for _, name := range opts.Mapping.UserFeatures() {
			ft, ok := t.schema.Lookup(name)
			if !ok {
				return nil, fmt.Errorf("the stream maps user feature %q, which model %s does not have (it has %s): use the model's dataset spec",
					name, e.Model().Version(), strings.Join(t.schema.Names(), ", "))
			}
			t.features = append(t.features, ft)
		}
		return t, nil
	}
	for i, name := range opts.Mapping.UserFeatures() {
		switch name {
		case "city":
			t.city = i
		case "country":
			t.country = i
		case "creditLimit":
			t.credit = i
		}
	}
	return t, nil
}

// userFeatures are the model's features of a shopper in an event.
func (t *Transformer) userFeatures(r *event.Record) model.UserFeatures {
	var f model.UserFeatures
	if t.city >= 0 {
		f.City = r.UserFeatures[t.city].Text
	}
	if t.country >= 0 {
		f.Country = r.UserFeatures[t.country].Text
	}
	if t.credit >= 0 {
		f.CreditLimit = r.UserFeatures[t.credit].Number
	}
	return f
}

// specFeatures are a spec model's features of a shopper in an event, in
// the model's generic form; their text shares the event's bytes.
func (t *Transformer) specFeatures(r *event.Record) model.Features {
	f := t.schema.Empty()
	for i, fv := range r.UserFeatures {
		ft := t.features[i]
		if ft.Numeric() {
			t.schema.SetNumber(&f, ft, fv.Number)
		} else {
			t.schema.SetText(&f, ft, fv.Text)
		}
	}
	return f
}

// FieldFallback is the key that TransformOptions.Annotate adds to a record
// with a fallback. Its value is an object naming, for each part that fell
// back, the reason (a recommend.Reason, or "error" when the part could not
// be answered at all):
//
//	"recommendation_fallback":{"similar_items":"item_features"}
const FieldFallback = "recommendation_fallback"

// Parts of a record that can fall back: the label "part" of the fallback
// counter and the keys of FieldFallback's object.
const (
	partRecommended = "recommended_items"
	partSimilar     = "similar_items"
)

// reasonError labels a part that could not be answered at all.
const reasonError = "error"

// fallbackNote is the value of FieldFallback.
type fallbackNote struct {
	RecommendedItems string `json:"recommended_items,omitempty"`
	SimilarItems     string `json:"similar_items,omitempty"`
}

// storeDown reports whether a fallback reason means the store itself
// failed (as opposed to a question it cannot answer for this shopper).
func storeDown(r recommend.Reason) bool {
	switch r {
	case recommend.ReasonStoreUnavailable, recommend.ReasonStoreTimeout, recommend.ReasonStoreError, recommend.ReasonStoreEmpty, recommend.ReasonVersionMismatch:
		return true
	}
	return false
}

// Transform processes one batch. Each message yields one Record or one
// ErrorRecord with the same ID; the records are in the order of msgs. It
// returns an error wrapping ErrStoreDown (and no records) when the store
// cannot answer under the Wait policy, or ctx's error; the caller retries
// the whole batch later.
//
// A batch is cut into consecutive chunks transformed at the same time,
// one per worker (TransformOptions.Workers), and put back together in
// order: the output is the same as one worker's, record for record.
func (t *Transformer) Transform(ctx context.Context, msgs []stream.Message) ([]sink.Record, []sink.ErrorRecord, error) {
	now := t.now()
	// The encoded answers the Transformer keeps are used only while the
	// engine finds its store answering for its model version.
	cached := t.engine.CheckStore(ctx) == nil
	w := min(t.workers, (len(msgs)+minChunk-1)/minChunk)
	if w <= 1 {
		c := t.transformChunk(ctx, msgs, now, cached)
		if c.err != nil {
			return nil, nil, c.err
		}
		t.countAll(c.notes)
		return c.recs, c.errs, nil
	}
	chunks := make([]chunk, w)
	var wg sync.WaitGroup
	for i := range w {
		lo, hi := i*len(msgs)/w, (i+1)*len(msgs)/w
		wg.Go(func() { chunks[i] = t.transformChunk(ctx, msgs[lo:hi], now, cached) })
	}
	wg.Wait()
	var nrec, nerr int
	for _, c := range chunks {
		if c.err != nil {
			return nil, nil, c.err
		}
		nrec += len(c.recs)
		nerr += len(c.errs)
	}
	recs := make([]sink.Record, 0, nrec)
	var errs []sink.ErrorRecord
	if nerr > 0 {
		errs = make([]sink.ErrorRecord, 0, nerr)
	}
	for _, c := range chunks {
		recs = append(recs, c.recs...)
		errs = append(errs, c.errs...)
		t.countAll(c.notes)
	}
	return recs, errs, nil
}

// minChunk is the fewest messages worth a worker of their own.
const minChunk = 16

// chunk is what transformChunk made of part of a batch.
type chunk struct {
	recs  []sink.Record
	errs  []sink.ErrorRecord
	notes []fallbackNote
	err   error
}

// transformChunk transforms consecutive messages of a batch. With cached
// set, each shopper's recommended_items and each product's similar_items
// already encoded for the engine's model version are used as they are,
// and the engine is asked only the rest.
func (t *Transformer) transformChunk(ctx context.Context, msgs []stream.Message, now time.Time, cached bool) chunk {
	var errs []sink.ErrorRecord
	type pending struct {
		ev       *event.Record
		msg      int // index in msgs
		user     userKey
		product  string
		rec, sim []byte // encoded parts; nil: asked of the engine
		req      int    // index in reqs, or -1
	}
	todo := make([]pending, 0, len(msgs))
	pooled, _ := t.records.Get().(*[]event.Record)
	if pooled == nil {
		pooled = new([]event.Record)
	}
	if cap(*pooled) < len(msgs) {
		*pooled = make([]event.Record, len(msgs))
	}
	evs := (*pooled)[:len(msgs)]
	defer func() {
		clear(evs) // no message bytes kept alive by the pool
		t.records.Put(pooled)
	}()
	var reqs []recommend.Request
	for i, m := range msgs {
		ev := &evs[i]
		if err := t.mapping.DecodeTo(ev, m.Data); err != nil {
			errs = append(errs, sink.ErrorRecord{ID: m.ID, Raw: m.Data, Reason: "decode event: " + err.Error(), Time: msgTime(m, now)})
			continue
		}
		p := pending{ev: ev, msg: i, req: -1}
		var user model.UserFeatures
		var feats model.Features
		if t.spec {
			feats = t.specFeatures(ev)
			p.user = userKey{id: ev.UserID, city: recommend.FeaturesKey(&feats)}
		} else {
			user = t.userFeatures(ev)
			p.user = userKeyOf(ev.UserID, user)
		}
		if it, ok := ev.Pick(); ok {
			p.product = it.ItemID
		} else {
			p.sim = noSimilar
		}
		if cached {
			p.rec, _ = t.recCache.get(p.user)
			if p.sim == nil {
				p.sim, _ = t.simCache.get(p.product)
			}
		}
		if p.rec == nil || p.sim == nil {
			// A question for the engine: its strings are copied out of
			// the message's bytes (which the decoded event shares), so
			// that what the engine and the caches keep does not hold
			// the message.
			p.user = p.user.clone()
			p.product = strings.Clone(p.product)
			var req recommend.Request
			if t.spec {
				f := model.Features{Cats: make([]string, len(feats.Cats)), Nums: feats.Nums}
				for i, c := range feats.Cats {
					f.Cats[i] = strings.Clone(c)
				}
				req = recommend.Request{Features: &f, UserID: p.user.id}
			} else {
				req = recommend.Request{User: model.UserFeatures{City: p.user.city, Country: p.user.country, CreditLimit: user.CreditLimit}, UserID: p.user.id}
			}
			if p.rec == nil {
				req.K = t.k
			}
			if p.sim == nil {
				req.SimilarTo = p.product
				req.SimilarK = t.similarK
				req.UnknownItemFallback = true
			}
			p.req = len(reqs)
			reqs = append(reqs, req)
		}
		todo = append(todo, p)
	}
	var results []recommend.Result
	if len(reqs) > 0 {
		results = t.engine.RecommendBatch(ctx, reqs)
	}
	if err := ctx.Err(); err != nil {
		return chunk{err: err}
	}
	recs := make([]sink.Record, 0, len(todo))
	notes := make([]fallbackNote, 0, len(todo))
	for _, p := range todo {
		m := msgs[p.msg]
		var note fallbackNote
		if p.req >= 0 {
			req, res := reqs[p.req], results[p.req]
			if req.K > 0 && res.ItemsErr != nil {
				if errors.Is(res.ItemsErr, context.Canceled) || errors.Is(res.ItemsErr, context.DeadlineExceeded) {
					return chunk{err: res.ItemsErr}
				}
				if t.policy == Wait {
					return chunk{err: fmt.Errorf("%w: %v", ErrStoreDown, res.ItemsErr)}
				}
				errs = append(errs, sink.ErrorRecord{ID: m.ID, Raw: m.Data, Reason: "recommend: " + res.ItemsErr.Error(), Time: msgTime(m, now)})
				continue
			}
			if t.policy == Wait && (res.Items.Fallback && storeDown(res.Items.Reason) || res.Similar.Fallback && storeDown(res.Similar.Reason)) {
				return chunk{err: fmt.Errorf("%w: %s (%s)", ErrStoreDown, res.Items.Reason, res.Items.Detail)}
			}
			if req.K > 0 {
				p.rec = appendRecommended(nil, res.Items.Items)
				if res.Items.Fallback {
					note.RecommendedItems = string(res.Items.Reason)
				} else if cached {
					t.recCache.put(p.user, p.rec)
				}
			}
			if req.SimilarTo != "" {
				var similar []recommend.Item
				switch {
				case res.SimilarErr != nil:
					// Not answerable at all (the store is down and there
					// is no fallback): no neighbours to give.
					note.SimilarItems = reasonError
				default:
					similar = res.Similar.Items
					if res.Similar.Fallback {
						note.SimilarItems = string(res.Similar.Reason)
					}
				}
				p.sim = appendSimilar(nil, p.product, similar)
				if note.SimilarItems == "" && cached {
					t.simCache.put(p.product, p.sim)
				}
			}
		}
		notes = append(notes, note)
		members := []event.Member{
			{Name: event.FieldRecommendedItems, Value: p.rec},
			{Name: event.FieldSimilarItems, Value: p.sim},
		}
		if t.annotate && note != (fallbackNote{}) {
			members = append(members, event.Member{Name: FieldFallback, Value: mustJSON(note)})
		}
		out := make([]byte, 0, len(m.Data)+len(p.rec)+len(p.sim)+64)
		recs = append(recs, sink.Record{ID: m.ID, Data: p.ev.AppendWith(out, members...), Time: msgTime(m, now)})
	}
	return chunk{recs: recs, errs: errs, notes: notes}
}

// noSimilar is similar_items for an event without a browsed item.
var noSimilar = appendSimilar(nil, "", nil)

// partCacheSize bounds each of the Transformer's caches of encoded parts
// (about 0.6 KiB per shopper at k = 10, 0.3 KiB per product at 5).
const partCacheSize = 1 << 14

// userKey is a shopper's id and features as a map key (the credit limit
// by its bits, so that even a NaN finds itself). For a model of another
// dataset spec (Transformer.spec) city holds the recommend.FeaturesKey of the
// shopper's generic features, country and credit being empty: the keys of
// one Transformer are all of one kind, and the lab's key stays this small.
type userKey struct {
	id, city, country string
	credit            uint64
}

func userKeyOf(id string, f model.UserFeatures) userKey {
	return userKey{id: id, city: f.City, country: f.Country, credit: math.Float64bits(f.CreditLimit)}
}

// clone copies the key's strings (which may share a message's bytes).
func (k userKey) clone() userKey {
	return userKey{id: strings.Clone(k.id), city: strings.Clone(k.city), country: strings.Clone(k.country), credit: k.credit}
}

// partCache is a map safe for concurrent use that holds at most
// partCacheSize entries: when full, it is emptied and starts again (a
// stream's shoppers and products come back at once).
type partCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K][]byte
}

func (c *partCache[K]) get(k K) ([]byte, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *partCache[K]) put(k K, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= partCacheSize {
		c.m = make(map[K][]byte, 1024)
	}
	c.m[k] = v
}

// countAll counts the fallbacks of a transformed chunk. It is called once
// the whole batch is done: a batch given back for a retry counts nothing.
func (t *Transformer) countAll(notes []fallbackNote) {
	for _, n := range notes {
		t.count(n)
	}
}

// count adds a record's fallbacks to the counter Run registered.
func (t *Transformer) count(n fallbackNote) {
	c := t.fallbacks.Load()
	if c == nil {
		return
	}
	if n.RecommendedItems != "" {
		c.WithLabelValues(partRecommended, n.RecommendedItems).Inc()
	}
	if n.SimilarItems != "" {
		c.WithLabelValues(partSimilar, n.SimilarItems).Inc()
	}
}

func msgTime(m stream.Message, now time.Time) time.Time {
	if m.Time.IsZero() {
		return now
	}
	return m.Time
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain types are marshalled
	}
	return b
}

// TransformOne processes one record outside a stream (the Lambda handler):
// it returns the output record, or an error naming why the record cannot be
// processed. An error wrapping ErrStoreDown means a dependency is down and
// the record should be retried, not failed.
func (t *Transformer) TransformOne(ctx context.Context, id string, data []byte) ([]byte, error) {
	recs, errs, err := t.Transform(ctx, []stream.Message{{ID: id, Data: data}})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.New(errs[0].Reason)
	}
	return recs[0].Data, nil
}
