package api

import (
	_ "embed"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/recoflow/recoflow/internal/jsonout"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
)

// Response headers.
const (
	// HeaderFallback is "popular" when the answer is the popular products
	// instead of the model's.
	HeaderFallback = "X-Recoflow-Fallback"
	// HeaderFallbackReason says why (a recommend.Reason).
	HeaderFallbackReason = "X-Recoflow-Fallback-Reason"
	// HeaderModelVersion names the model version that answered.
	HeaderModelVersion = "X-Recoflow-Model-Version"
)

// The lab's wire types.
type (
	// labEmbedding is one answer of /user_embeddings, and the body of
	// /items_from_user.
	labEmbedding struct {
		Embedding []float32 `json:"embedding"`
	}
	labScored struct {
		ID    string  `json:"id"`
		Score float64 `json:"score"`
	}
	labDistance struct {
		ID       string  `json:"id"`
		Distance float64 `json:"distance"`
	}
)

// v1 wire types.
type (
	v1Item struct {
		ID       string  `json:"id"`
		Score    float64 `json:"score"`
		Distance float64 `json:"distance"`
	}
	v1Answer struct {
		ItemID       string   `json:"item_id,omitempty"`
		Items        []v1Item `json:"items"`
		Fallback     bool     `json:"fallback"`
		Reason       string   `json:"reason,omitempty"`
		ModelVersion string   `json:"model_version"`
	}
	v1BatchResult struct {
		Items        *v1Answer    `json:"items,omitempty"`
		ItemsError   *errorDetail `json:"items_error,omitempty"`
		Similar      *v1Answer    `json:"similar,omitempty"`
		SimilarError *errorDetail `json:"similar_error,omitempty"`
	}
	v1BatchResponse struct {
		Results      []v1BatchResult `json:"results"`
		ModelVersion string          `json:"model_version"`
	}
)

func (s *Server) maxLimit(e *recommend.Engine) int { return min(s.opts.MaxLimit, e.MaxK()) }

// answered sets the headers of an engine answer and counts fallbacks.
func (s *Server) answered(w http.ResponseWriter, route string, a recommend.Answer) {
	h := w.Header()
	if a.ModelVersion != "" {
		h.Set(HeaderModelVersion, a.ModelVersion)
	}
	if a.Fallback {
		h.Set(HeaderFallback, "popular")
		h.Set(HeaderFallbackReason, string(a.Reason))
		s.metrics.fallbacks.WithLabelValues(route, string(a.Reason)).Inc()
	}
}

func v1AnswerOf(a recommend.Answer, itemID string) *v1Answer {
	out := &v1Answer{ItemID: itemID, Items: make([]v1Item, len(a.Items)), Fallback: a.Fallback,
		Reason: string(a.Reason), ModelVersion: a.ModelVersion}
	for i, it := range a.Items {
		out.Items[i] = v1Item(it)
	}
	return out
}

// POST /user_embeddings: [{"city","country","creditlimit"}] → [{"embedding":[…]}].
// For a model of another dataset spec, each user object is as in /v1
// (specUser): an optional id and the spec's user features by name.
func (s *Server) userEmbeddings(w http.ResponseWriter, r *http.Request) *apiError {
	e, ae := s.ready()
	if ae != nil {
		return ae
	}
	data, ae := readBody(w, r, s.opts.MaxBodyBytes)
	if ae != nil {
		return ae
	}
	elems, ae := array(data, "", "user objects {\"city\",\"country\",\"creditlimit\"}")
	if ae != nil {
		return ae
	}
	if len(elems) > s.opts.MaxBatch {
		return errorf(http.StatusBadRequest, CodeInvalidBody, "", "%d users in one request: at most %d", len(elems), s.opts.MaxBatch)
	}
	out := make([]labEmbedding, len(elems))
	for i, raw := range elems {
		o, ae := asObject(raw, "["+strconv.Itoa(i)+"]")
		if ae != nil {
			return ae
		}
		if e.IsSpecModel() {
			id, f, ae := specUser(o, e)
			if ae != nil {
				return ae
			}
			if out[i].Embedding, ae = embedSpecUser(e, id, f, o.path); ae != nil {
				return ae
			}
			continue
		}
		u, ae := userFeatures(o)
		if ae != nil {
			return ae
		}
		if out[i].Embedding, ae = embedUser(e, u, "["+strconv.Itoa(i)+"]"); ae != nil {
			return ae
		}
	}
	if v := e.Model().Version(); v != "" {
		w.Header().Set(HeaderModelVersion, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /items_from_user?limit=k: {"embedding":[…]} → [{"id","score"}].
func (s *Server) itemsFromUser(w http.ResponseWriter, r *http.Request) *apiError {
	e, ae := s.ready()
	if ae != nil {
		return ae
	}
	q, ae := query(r)
	if ae != nil {
		return ae
	}
	k, ae := limit(q, "limit", s.opts.DefaultLimit, s.maxLimit(e))
	if ae != nil {
		return ae
	}
	data, ae := readRawBody(w, r, s.opts.MaxBodyBytes)
	if ae != nil {
		return ae
	}
	v, ok := embeddingBody(data)
	if !ok {
		if ae := checkJSON(data); ae != nil {
			return ae
		}
		o, ae := asObject(data, "")
		if ae != nil {
			return ae
		}
		if v, ae = o.vector("embedding"); ae != nil {
			return ae
		}
	}
	a, err := e.ItemsForUser(r.Context(), v, k)
	if err != nil {
		return engineError(r.Context(), err, "embedding")
	}
	s.answered(w, "/items_from_user", a)
	writeLabItems(w, a.Items, false)
	return nil
}

// writeLabItems writes the lab's answer for items: [{"id","score"}], or
// [{"id","distance"}] when distance is set. The fast encoder handles the
// usual case; encoding/json the rest, with the same bytes.
func writeLabItems(w http.ResponseWriter, items []recommend.Item, distance bool) {
	if data, ok := appendLabItems(make([]byte, 0, 64+40*len(items)), items, distance); ok {
		writeJSONBytes(w, http.StatusOK, data)
		return
	}
	if distance {
		out := make([]labDistance, len(items))
		for i, it := range items {
			out[i] = labDistance{ID: it.ID, Distance: it.Distance}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := make([]labScored, len(items))
	for i, it := range items {
		out[i] = labScored{ID: it.ID, Score: it.Score}
	}
	writeJSON(w, http.StatusOK, out)
}

// appendLabItems appends to b the lab's answer [{"id","score"}] (or
// [{"id","distance"}]) and a newline, byte for byte what encoding/json
// gives for []labScored ([]labDistance), without reflection. It reports
// false, and the caller encodes with encoding/json, when an id needs
// escaping or a number is not finite.
func appendLabItems(b []byte, items []recommend.Item, distance bool) ([]byte, bool) {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		if !jsonout.Plain(it.ID) {
			return b, false
		}
		b = append(b, `{"id":"`...)
		b = append(b, it.ID...)
		x := it.Score
		if distance {
			b, x = append(b, `","distance":`...), it.Distance
		} else {
			b = append(b, `","score":`...)
		}
		var ok bool
		if b, ok = appendJSONFloat(b, x); !ok {
			return b, false
		}
		b = append(b, '}')
	}
	return append(b, ']', '\n'), true
}

// appendJSONFloat formats a float64 as encoding/json does.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// writeJSONBytes is writeJSON for a body already encoded (newline included).
func writeJSONBytes(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(data)
}

// GET /items_from_item?item_id=<code>&limit=k → [{"id","distance"}].
func (s *Server) itemsFromItem(w http.ResponseWriter, r *http.Request) *apiError {
	e, ae := s.ready()
	if ae != nil {
		return ae
	}
	q, ae := query(r)
	if ae != nil {
		return ae
	}
	id := q.Get("item_id")
	if id == "" {
		return errorf(http.StatusBadRequest, CodeMissingParameter, "item_id", "missing query parameter item_id (a productCode)")
	}
	k, ae := limit(q, "limit", s.opts.DefaultLimit, s.maxLimit(e))
	if ae != nil {
		return ae
	}
	a, err := e.SimilarItems(r.Context(), id, k)
	if err != nil {
		return engineError(r.Context(), err, "item_id")
	}
	s.answered(w, "/items_from_item", a)
	writeLabItems(w, a.Items, true)
	return nil
}

// shopperQuery is the part of a v1 request that names a shopper: user
// features or an embedding.
type shopperQuery struct {
	given bool
	user  bool
	req   recommend.Request
	// features are a spec model's user's (req.Features points to them).
	features model.Features
}

// shopper reads "user" or "embedding" from o; given is false when neither
// is there.
func shopper(o object, e *recommend.Engine) (shopperQuery, *apiError) {
	var sq shopperQuery
	hasUser, hasEmb := o.has("user"), o.has("embedding")
	switch {
	case hasUser && hasEmb:
		f := joinPath(o.path, "user")
		return sq, errorf(http.StatusBadRequest, CodeInvalidField, f, "give either user or embedding, not both")
	case hasUser:
		uo, ae := asObject(o.fields["user"], joinPath(o.path, "user"))
		if ae != nil {
			return sq, ae
		}
		if e.IsSpecModel() {
			if sq.req.UserID, sq.features, ae = specUser(uo, e); ae != nil {
				return sq, ae
			}
			sq.req.Features = &sq.features
		} else if sq.req.User, ae = userFeatures(uo); ae != nil {
			return sq, ae
		}
		sq.given, sq.user = true, true
	case hasEmb:
		v, ae := o.vector("embedding")
		if ae != nil {
			return sq, ae
		}
		if len(v) != e.Model().Dim() {
			f := joinPath(o.path, "embedding")
			return sq, errorf(http.StatusBadRequest, CodeDimensionMismatch, f, "%s has %d components, the model embeds in %d", f, len(v), e.Model().Dim())
		}
		sq.req.Embedding, sq.given = v, true
	}
	return sq, nil
}

// POST /v1/recommendations: {"user":{…} | "embedding":[…], "limit", "exclude"}
// → {"items","fallback","reason","model_version"}.
func (s *Server) v1Recommendations(w http.ResponseWriter, r *http.Request) *apiError {
	e, o, ae := s.readyObject(w, r)
	if ae != nil {
		return ae
	}
	sq, ae := shopper(o, e)
	if ae != nil {
		return ae
	}
	if !sq.given {
		return errorf(http.StatusBadRequest, CodeMissingField, "user", "missing field user (or embedding)")
	}
	k, exclude, ae := s.limitExclude(o, e)
	if ae != nil {
		return ae
	}
	emb := sq.req.Embedding
	switch {
	case sq.user && e.IsSpecModel():
		if emb, ae = embedSpecUser(e, sq.req.UserID, sq.features, "user"); ae != nil {
			return ae
		}
	case sq.user:
		if emb, ae = embedUser(e, sq.req.User, "user"); ae != nil {
			return ae
		}
	}
	a, err := e.ItemsForUser(r.Context(), emb, k, exclude...)
	if err != nil {
		return engineError(r.Context(), err, "embedding")
	}
	s.answered(w, "/v1/recommendations", a)
	writeJSON(w, http.StatusOK, v1AnswerOf(a, ""))
	return nil
}

// GET /v1/items/{item_id}/similar?limit=k&exclude=… → {"item_id","items",…}.
func (s *Server) v1Similar(w http.ResponseWriter, r *http.Request) *apiError {
	e, ae := s.ready()
	if ae != nil {
		return ae
	}
	q, ae := query(r)
	if ae != nil {
		return ae
	}
	id := r.PathValue("item_id")
	k, ae := limit(q, "limit", s.opts.DefaultLimit, s.maxLimit(e))
	if ae != nil {
		return ae
	}
	a, err := e.SimilarItems(r.Context(), id, k, q["exclude"]...)
	if err != nil {
		return engineError(r.Context(), err, "item_id")
	}
	s.answered(w, "/v1/items/{item_id}/similar", a)
	writeJSON(w, http.StatusOK, v1AnswerOf(a, id))
	return nil
}

// POST /v1/items/similar: {"item":{"id"?, "<feature>":…}, "limit",
// "exclude"} → {"item_id"?,"items",…} as GET /v1/items/{item_id}/similar.
// An id the store holds is answered as that endpoint answers it; otherwise
// the item is the model's embedding of its named features (specItem).
func (s *Server) v1SimilarByFeatures(w http.ResponseWriter, r *http.Request) *apiError {
	e, o, ae := s.readyObject(w, r)
	if ae != nil {
		return ae
	}
	raw, ok := o.fields["item"]
	if !ok {
		return o.missing("item")
	}
	obj, ae := asObject(raw, "item")
	if ae != nil {
		return ae
	}
	id, f, ae := specItem(obj, e)
	if ae != nil {
		return ae
	}
	k, exclude, ae := s.limitExclude(o, e)
	if ae != nil {
		return ae
	}
	a, err := e.SimilarToItem(r.Context(), id, f, k, exclude...)
	if err != nil {
		return engineError(r.Context(), err, "item")
	}
	s.answered(w, "/v1/items/similar", a)
	writeJSON(w, http.StatusOK, v1AnswerOf(a, id))
	return nil
}

// POST /v1/recommendations/batch: {"requests":[{user|embedding, limit,
// exclude, similar_to, similar_limit}]} → {"results":[…]}, one engine
// batch for all.
func (s *Server) v1Batch(w http.ResponseWriter, r *http.Request) *apiError {
	e, o, ae := s.readyObject(w, r)
	if ae != nil {
		return ae
	}
	raw, ok := o.fields["requests"]
	if !ok {
		return o.missing("requests")
	}
	elems, ae := array(raw, "requests", "request objects")
	if ae != nil {
		return ae
	}
	if len(elems) > s.opts.MaxBatch {
		return errorf(http.StatusBadRequest, CodeInvalidField, "requests", "%d requests in one batch: at most %d", len(elems), s.opts.MaxBatch)
	}
	max := s.maxLimit(e)
	reqs := make([]recommend.Request, len(elems))
	for i, raw := range elems {
		ro, ae := asObject(raw, fmt.Sprintf("requests[%d]", i))
		if ae != nil {
			return ae
		}
		sq, ae := shopper(ro, e)
		if ae != nil {
			return ae
		}
		req := sq.req
		if req.Exclude, ae = ro.strings("exclude"); ae != nil {
			return ae
		}
		if sq.given {
			if req.K, ae = ro.integer("limit", s.opts.DefaultLimit); ae != nil {
				return ae
			}
			if req.K, ae = fieldLimit(req.K, joinPath(ro.path, "limit"), max); ae != nil {
				return ae
			}
		}
		if ro.has("similar_to") {
			if req.SimilarTo, ae = ro.str("similar_to"); ae != nil {
				return ae
			}
			if req.SimilarTo == "" {
				return errorf(http.StatusBadRequest, CodeInvalidField, joinPath(ro.path, "similar_to"), "%s is empty", joinPath(ro.path, "similar_to"))
			}
			if req.SimilarK, ae = ro.integer("similar_limit", s.opts.DefaultLimit); ae != nil {
				return ae
			}
			if req.SimilarK, ae = fieldLimit(req.SimilarK, joinPath(ro.path, "similar_limit"), max); ae != nil {
				return ae
			}
		}
		if !sq.given && req.SimilarTo == "" {
			return errorf(http.StatusBadRequest, CodeMissingField, joinPath(ro.path, "user"),
				"%s asks nothing: give user (or embedding), similar_to, or both", ro.path)
		}
		reqs[i] = req
		if req.Features != nil {
			f := sq.features // reqs[i] must not point into sq, reused
			reqs[i].Features = &f
		}
	}
	results := e.RecommendBatch(r.Context(), reqs)
	if err := r.Context().Err(); err != nil {
		return engineError(r.Context(), err, "")
	}
	out := v1BatchResponse{Results: make([]v1BatchResult, len(results)), ModelVersion: e.Model().Version()}
	for i, res := range results {
		req := reqs[i]
		path := fmt.Sprintf("requests[%d]", i)
		if req.K > 0 {
			if res.ItemsErr != nil {
				out.Results[i].ItemsError = engineError(r.Context(), res.ItemsErr, joinPath(path, "embedding")).detail()
			} else {
				out.Results[i].Items = v1AnswerOf(res.Items, "")
				if res.Items.Fallback {
					s.metrics.fallbacks.WithLabelValues("/v1/recommendations/batch", string(res.Items.Reason)).Inc()
				}
			}
		}
		if req.SimilarTo != "" {
			if res.SimilarErr != nil {
				out.Results[i].SimilarError = engineError(r.Context(), res.SimilarErr, joinPath(path, "similar_to")).detail()
			} else {
				out.Results[i].Similar = v1AnswerOf(res.Similar, req.SimilarTo)
				if res.Similar.Fallback {
					s.metrics.fallbacks.WithLabelValues("/v1/recommendations/batch", string(res.Similar.Reason)).Inc()
				}
			}
		}
	}
	if v := e.Model().Version(); v != "" {
		w.Header().Set(HeaderModelVersion, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// GET /healthz: the process is up and serving.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) *apiError {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

type readyBody struct {
	Status          string       `json:"status"`
	ModelVersion    string       `json:"model_version,omitempty"`
	Dim             int          `json:"dim,omitempty"`
	Store           string       `json:"store,omitempty"`
	StoreVersion    string       `json:"store_version,omitempty"`
	StoreItems      int          `json:"store_items,omitempty"`
	PopularProducts int          `json:"popular_products"`
	Error           *errorDetail `json:"error,omitempty"`
}

// GET /readyz: 200 when the engine is loaded and the store answers with
// the model's version; 503 otherwise, saying why.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) *apiError {
	e, ae := s.ready()
	if ae != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.RetryAfter.Seconds()+0.999)))
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "not_ready", Error: ae.detail()})
		return nil
	}
	st := e.Status(r.Context())
	body := readyBody{Status: "ready", ModelVersion: st.ModelVersion, Dim: st.Dim, Store: st.Store,
		StoreVersion: st.StoreVersion, StoreItems: st.StoreItems, PopularProducts: st.Popular}
	if st.Err != nil {
		body.Status = "not_ready"
		body.Error = unavailable(st.Err).detail()
		w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.RetryAfter.Seconds()+0.999)))
		writeJSON(w, http.StatusServiceUnavailable, body)
		return nil
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the server's OpenAPI 3.1 document (JSON).
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// GET /openapi.json.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) *apiError {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}

// readyObject is the start of a JSON endpoint: the engine (or 503 while
// none is ready), then the request body, which must be a JSON object.
func (s *Server) readyObject(w http.ResponseWriter, r *http.Request) (*recommend.Engine, object, *apiError) {
	e, ae := s.ready()
	if ae != nil {
		return nil, object{}, ae
	}
	data, ae := readBody(w, r, s.opts.MaxBodyBytes)
	if ae != nil {
		return nil, object{}, ae
	}
	o, ae := asObject(data, "")
	return e, o, ae
}

// limitExclude reads a body's "limit" (the default when absent, checked
// against the largest allowed) and "exclude" (item ids).
func (s *Server) limitExclude(o object, e *recommend.Engine) (int, []string, *apiError) {
	k, ae := o.integer("limit", s.opts.DefaultLimit)
	if ae != nil {
		return 0, nil, ae
	}
	if k, ae = fieldLimit(k, "limit", s.maxLimit(e)); ae != nil {
		return 0, nil, ae
	}
	exclude, ae := o.strings("exclude")
	return k, exclude, ae
}
