package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

type (
	embeddingObj struct {
		Embedding []float32 `json:"embedding"`
	}
	scored struct {
		ID    string  `json:"id"`
		Score float64 `json:"score"`
	}
	distanced struct {
		ID       string  `json:"id"`
		Distance float64 `json:"distance"`
	}
	answer struct {
		ItemID string `json:"item_id"`
		Items  []struct {
			ID       string  `json:"id"`
			Score    float64 `json:"score"`
			Distance float64 `json:"distance"`
		} `json:"items"`
		Fallback     bool   `json:"fallback"`
		Reason       string `json:"reason"`
		ModelVersion string `json:"model_version"`
	}
)

// TestLabContract walks the lab's transformation code path: embed a
// shopper, post the first embedding object as is to /items_from_user, then
// ask for items similar to a browsed product.
func TestLabContract(t *testing.T) {
	f := getFixture(t)
	e := f.engine(t, nil, recommend.Options{})
	ts := newServer(t, e, api.Options{})

	users := []map[string]any{
		{"city": "Pasadena", "country": "USA", "creditlimit": 59811},                 // as the lab's event
		{"city": "Nowhere", "country": "Atlantis", "creditlimit": "120000.50"},       // never seen; number as a string
		{"city": " nantes ", "country": "France ", "credit_limit": 21000, "x": true}, // the event's spelling; extra field
	}
	r := ts.do(t, "POST", "/user_embeddings", users)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get(api.HeaderModelVersion) != version {
		t.Fatalf("user_embeddings: %s %v", r, r.header)
	}
	embs := decode[[]embeddingObj](t, r)
	want := []model.UserFeatures{{City: "Pasadena", Country: "USA", CreditLimit: 59811}, {City: "Nowhere", Country: "Atlantis", CreditLimit: 120000.5}, {City: "nantes", Country: "France", CreditLimit: 21000}}
	if len(embs) != len(users) {
		t.Fatalf("%d embeddings for %d users", len(embs), len(users))
	}
	for i, u := range want {
		if !slices.Equal(embs[i].Embedding, e.UserEmbedding(u)) {
			t.Errorf("embedding %d differs from the model's", i)
		}
	}

	for _, tc := range []struct {
		query string
		n     int
	}{{"", 10}, {"?limit=5", 5}, {"?limit=1000", len(f.products)}} {
		r = ts.do(t, "POST", "/items_from_user"+tc.query, embs[0]) // the lab posts usr_emb[0] as is
		if r.status != 200 || r.header.Get(api.HeaderFallback) != "" {
			t.Fatalf("items_from_user%s: %s", tc.query, r)
		}
		items := decode[[]scored](t, r)
		if len(items) != tc.n {
			t.Errorf("items_from_user%s: %d items, want %d", tc.query, len(items), tc.n)
		}
		direct, _ := e.ItemsForUser(context.Background(), embs[0].Embedding, tc.n)
		for i, it := range items {
			if i > 0 && it.Score > items[i-1].Score {
				t.Errorf("scores not descending: %v", items)
			}
			if it.ID != direct.Items[i].ID || it.Score != direct.Items[i].Score {
				t.Errorf("item %d: %+v, engine says %+v", i, it, direct.Items[i])
			}
		}
	}
	// The embedding in pgvector text form works too.
	var sb strings.Builder
	for i, x := range embs[1].Embedding {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprint(&sb, x)
	}
	r = ts.do(t, "POST", "/items_from_user?limit=3", map[string]string{"embedding": "[" + sb.String() + "]"})
	if r.status != 200 || len(decode[[]scored](t, r)) != 3 {
		t.Errorf("pgvector text embedding: %s", r)
	}

	code := f.products[7]
	r = ts.do(t, "GET", "/items_from_item?item_id="+code+"&limit=5", nil)
	if r.status != 200 {
		t.Fatalf("items_from_item: %s", r)
	}
	similar := decode[[]distanced](t, r)
	if len(similar) != 5 {
		t.Errorf("%d similar items, want 5", len(similar))
	}
	for i, it := range similar {
		if it.ID == code {
			t.Errorf("the item itself is among its similar items: %v", similar)
		}
		if i > 0 && it.Distance < similar[i-1].Distance {
			t.Errorf("distances not ascending: %v", similar)
		}
	}
	if r := ts.do(t, "GET", "/items_from_item?item_id="+code, nil); r.status != 200 || len(decode[[]distanced](t, r)) != 10 {
		t.Errorf("default limit: %s", r)
	}
	if r := ts.do(t, "POST", "/user_embeddings", "[]"); r.status != 200 || strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("no users: %s", r)
	}
}

func TestV1(t *testing.T) {
	f := getFixture(t)
	e := f.engine(t, nil, recommend.Options{})
	ts := newServer(t, e, api.Options{})
	user := map[string]any{"city": "Madrid", "country": "Spain", "creditlimit": 80000}

	r := ts.do(t, "POST", "/v1/recommendations", map[string]any{"user": user, "limit": 4})
	a := decode[answer](t, r)
	if r.status != 200 || len(a.Items) != 4 || a.Fallback || a.Reason != "" || a.ModelVersion != version {
		t.Fatalf("v1 recommendations: %s", r)
	}
	emb := e.UserEmbedding(model.UserFeatures{City: "Madrid", Country: "Spain", CreditLimit: 80000})
	r = ts.do(t, "POST", "/v1/recommendations", map[string]any{"embedding": emb, "exclude": []string{a.Items[0].ID}})
	b := decode[answer](t, r)
	if r.status != 200 || len(b.Items) != 10 || b.Items[0].ID != a.Items[1].ID {
		t.Errorf("by embedding, best excluded: %s", r)
	}
	for _, it := range b.Items {
		if it.Distance != 1-it.Score {
			t.Errorf("distance %v, score %v", it.Distance, it.Score)
		}
	}

	code := f.products[3]
	r = ts.do(t, "GET", "/v1/items/"+code+"/similar?limit=3&exclude="+f.products[4], nil)
	s := decode[answer](t, r)
	if r.status != 200 || s.ItemID != code || len(s.Items) != 3 {
		t.Fatalf("v1 similar: %s", r)
	}
	for _, it := range s.Items {
		if it.ID == code || it.ID == f.products[4] {
			t.Errorf("excluded item %s returned: %s", it.ID, r)
		}
	}

	r = ts.do(t, "POST", "/v1/recommendations/batch", map[string]any{"requests": []any{
		map[string]any{"user": user, "limit": 2, "similar_to": code, "similar_limit": 3},
		map[string]any{"similar_to": "NOPE"},
		map[string]any{"embedding": emb},
	}})
	var batch struct {
		Results []struct {
			Items        *answer `json:"items"`
			ItemsError   *struct{ Code, Field string }
			Similar      *answer
			SimilarError *struct{ Code, Field string } `json:"similar_error"`
		}
		ModelVersion string `json:"model_version"`
	}
	if err := json.Unmarshal(r.body, &batch); err != nil || r.status != 200 || len(batch.Results) != 3 || batch.ModelVersion != version {
		t.Fatalf("batch: %s (%v)", r, err)
	}
	r0, r1, r2 := batch.Results[0], batch.Results[1], batch.Results[2]
	if r0.Items == nil || len(r0.Items.Items) != 2 || r0.Similar == nil || len(r0.Similar.Items) != 3 || r0.Similar.ItemID != code {
		t.Errorf("batch result 0: %+v", r0)
	}
	if r1.Items != nil || r1.SimilarError == nil || r1.SimilarError.Code != api.CodeUnknownItem || r1.SimilarError.Field != "requests[1].similar_to" {
		t.Errorf("batch result 1: %s", r)
	}
	if r2.Items == nil || len(r2.Items.Items) != 10 || r2.Similar != nil {
		t.Errorf("batch result 2: %+v", r2)
	}
}

// TestBadInput sends each kind of bad request and checks the precise
// error, then that the server still answers.
func TestBadInput(t *testing.T) {
	f := getFixture(t)
	ts := newServer(t, f.engine(t, nil, recommend.Options{}), api.Options{MaxBodyBytes: 64 << 10, MaxBatch: 50})
	emb := ts.do(t, "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":1}]`)
	good := decode[[]embeddingObj](t, emb)[0]
	goodBody, _ := json.Marshal(good)
	user := `{"city":"Lyon","country":"France","creditlimit":1}`
	many := "[" + strings.Repeat(user+",", 50) + user + "]"
	huge := `[{"city":"` + strings.Repeat("x", 70<<10) + `","country":"France","creditlimit":1}]`
	item := f.products[0]

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"malformed JSON", "POST", "/user_embeddings", `[{"city":"Lyon",`, 400, api.CodeMalformedJSON, ""},
		{"trailing garbage", "POST", "/user_embeddings", user + "]", 400, api.CodeMalformedJSON, ""},
		{"empty body", "POST", "/user_embeddings", "", 400, api.CodeMalformedJSON, ""},
		{"object, not array", "POST", "/user_embeddings", user, 400, api.CodeInvalidBody, ""},
		{"array of numbers", "POST", "/user_embeddings", `[1]`, 400, api.CodeInvalidField, "[0]"},
		{"missing city", "POST", "/user_embeddings", `[{"country":"France","creditlimit":1}]`, 400, api.CodeMissingField, "[0].city"},
		{"missing country", "POST", "/user_embeddings", `[{"city":"Lyon","creditlimit":1}]`, 400, api.CodeMissingField, "[0].country"},
		{"missing creditlimit", "POST", "/user_embeddings", `[{"city":"Lyon","country":"France"}]`, 400, api.CodeMissingField, "[0].creditlimit"},
		{"creditlimit abc", "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":"abc"}]`, 400, api.CodeInvalidField, "[0].creditlimit"},
		{"creditlimit true", "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":true}]`, 400, api.CodeInvalidField, "[0].creditlimit"},
		{"creditlimit too big", "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":1e999}]`, 400, api.CodeInvalidField, "[0].creditlimit"},
		{"city a number", "POST", "/user_embeddings", `[{"city":12,"country":"France","creditlimit":1}]`, 400, api.CodeInvalidField, "[0].city"},
		{"city null", "POST", "/user_embeddings", `[{"city":null,"country":"France","creditlimit":1}]`, 400, api.CodeInvalidField, "[0].city"},
		{"second user wrong", "POST", "/user_embeddings", "[" + user + `,{"city":"Lyon","country":["France"],"creditlimit":1}]`, 400, api.CodeInvalidField, "[1].country"},
		{"too many users", "POST", "/user_embeddings", many, 400, api.CodeInvalidBody, ""},
		{"body too large", "POST", "/user_embeddings", huge, 413, api.CodeBodyTooLarge, ""},
		{"limit 0", "POST", "/items_from_user?limit=0", string(goodBody), 400, api.CodeInvalidParameter, "limit"},
		{"limit -1", "POST", "/items_from_user?limit=-1", string(goodBody), 400, api.CodeInvalidParameter, "limit"},
		{"limit 100000", "POST", "/items_from_user?limit=100000", string(goodBody), 400, api.CodeInvalidParameter, "limit"},
		{"limit x", "POST", "/items_from_user?limit=x", string(goodBody), 400, api.CodeInvalidParameter, "limit"},
		{"limit 2.5", "POST", "/items_from_user?limit=2.5", string(goodBody), 400, api.CodeInvalidParameter, "limit"},
		{"malformed query", "POST", "/items_from_user?limit=%zz", string(goodBody), 400, api.CodeInvalidParameter, ""},
		{"no embedding", "POST", "/items_from_user", `{}`, 400, api.CodeMissingField, "embedding"},
		{"embedding a number", "POST", "/items_from_user", `{"embedding":7}`, 400, api.CodeInvalidField, "embedding"},
		{"embedding bad text", "POST", "/items_from_user", `{"embedding":"abc"}`, 400, api.CodeInvalidField, "embedding"},
		{"embedding with a string", "POST", "/items_from_user", `{"embedding":[0.1,"a"]}`, 400, api.CodeInvalidField, "embedding"},
		{"embedding beyond float32", "POST", "/items_from_user", `{"embedding":[1e39, 0.5]}`, 400, api.CodeInvalidField, "embedding"},
		{"embedding of 3", "POST", "/items_from_user", `{"embedding":[0.1,0.2,0.3]}`, 400, api.CodeDimensionMismatch, "embedding"},
		{"embedding body an array", "POST", "/items_from_user", "[" + string(goodBody) + "]", 400, api.CodeInvalidBody, ""},
		{"embedding malformed JSON", "POST", "/items_from_user", `{"embedding":[0.1,0.2]`, 400, api.CodeMalformedJSON, ""},
		{"embedding number not JSON", "POST", "/items_from_user", `{"embedding":[01]}`, 400, api.CodeMalformedJSON, ""},
		{"embedding body too large", "POST", "/items_from_user", `{"embedding":[` + strings.Repeat("0.1,", 20<<10) + `0.1]}`, 413, api.CodeBodyTooLarge, ""},
		{"no item_id", "GET", "/items_from_item?limit=3", "", 400, api.CodeMissingParameter, "item_id"},
		{"empty item_id", "GET", "/items_from_item?item_id=", "", 400, api.CodeMissingParameter, "item_id"},
		{"unknown item", "GET", "/items_from_item?item_id=NOPE_0000&limit=3", "", 404, api.CodeUnknownItem, "item_id"},
		{"item limit x", "GET", "/items_from_item?item_id=" + item + "&limit=x", "", 400, api.CodeInvalidParameter, "limit"},
		{"item limit 1001", "GET", "/items_from_item?item_id=" + item + "&limit=1001", "", 400, api.CodeInvalidParameter, "limit"},
		{"wrong method", "GET", "/items_from_user", "", 405, api.CodeMethodNotAllowed, ""},
		{"wrong method 2", "DELETE", "/items_from_item?item_id=" + item, "", 405, api.CodeMethodNotAllowed, ""},
		{"no such route", "GET", "/items", "", 404, api.CodeNotFound, ""},
		{"v1 malformed", "POST", "/v1/recommendations", `{"user":` + user[1:len(user)-1] + `}, "embedding":[1]}`, 400, api.CodeMalformedJSON, ""},
		{"v1 user and embedding", "POST", "/v1/recommendations", `{"user":` + user + `,"embedding":[1]}`, 400, api.CodeInvalidField, "user"},
		{"v1 nobody", "POST", "/v1/recommendations", `{"limit":3}`, 400, api.CodeMissingField, "user"},
		{"v1 user not an object", "POST", "/v1/recommendations", `{"user":"me"}`, 400, api.CodeInvalidField, "user"},
		{"v1 bad user field", "POST", "/v1/recommendations", `{"user":{"city":"Lyon","country":"France","creditlimit":"abc"}}`, 400, api.CodeInvalidField, "user.creditlimit"},
		{"v1 limit as string", "POST", "/v1/recommendations", `{"user":` + user + `,"limit":"5"}`, 400, api.CodeInvalidField, "limit"},
		{"v1 limit 0", "POST", "/v1/recommendations", `{"user":` + user + `,"limit":0}`, 400, api.CodeInvalidField, "limit"},
		{"v1 limit fraction", "POST", "/v1/recommendations", `{"user":` + user + `,"limit":1.5}`, 400, api.CodeInvalidField, "limit"},
		{"v1 exclude not strings", "POST", "/v1/recommendations", `{"user":` + user + `,"exclude":[1]}`, 400, api.CodeInvalidField, "exclude"},
		{"v1 short embedding", "POST", "/v1/recommendations", `{"embedding":[1,2]}`, 400, api.CodeDimensionMismatch, "embedding"},
		{"v1 unknown similar", "GET", "/v1/items/NOPE/similar", "", 404, api.CodeUnknownItem, "item_id"},
		{"v1 similar limit", "GET", "/v1/items/" + item + "/similar?limit=0", "", 400, api.CodeInvalidParameter, "limit"},
		{"batch without requests", "POST", "/v1/recommendations/batch", `{}`, 400, api.CodeMissingField, "requests"},
		{"batch requests not array", "POST", "/v1/recommendations/batch", `{"requests":{}}`, 400, api.CodeInvalidField, "requests"},
		{"batch empty request", "POST", "/v1/recommendations/batch", `{"requests":[{}]}`, 400, api.CodeMissingField, "requests[0].user"},
		{"batch bad user", "POST", "/v1/recommendations/batch", `{"requests":[{"user":` + user + `},{"user":{"city":"a","country":"b","creditlimit":"x"}}]}`, 400, api.CodeInvalidField, "requests[1].user.creditlimit"},
		{"batch similar_limit", "POST", "/v1/recommendations/batch", `{"requests":[{"similar_to":"` + item + `","similar_limit":5000}]}`, 400, api.CodeInvalidField, "requests[0].similar_limit"},
		{"batch empty similar_to", "POST", "/v1/recommendations/batch", `{"requests":[{"similar_to":""}]}`, 400, api.CodeInvalidField, "requests[0].similar_to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := ts.do(t, tc.method, tc.path, body)
			if r.status != tc.status {
				t.Fatalf("status %s, want %d", r, tc.status)
			}
			t.Logf("%s", r)
			code, field, msg := r.errorOf(t)
			if code != tc.code || field != tc.field {
				t.Errorf("error code %q field %q (%s), want %q %q", code, field, msg, tc.code, tc.field)
			}
			if tc.field != "" && !strings.Contains(msg, strings.TrimPrefix(tc.field, "requests[0].")) {
				t.Errorf("message %q does not name %s", msg, tc.field)
			}
			// The server keeps serving.
			if r := ts.do(t, "POST", "/items_from_user?limit=2", goodBody); r.status != 200 {
				t.Fatalf("after %s: %s", tc.name, r)
			}
		})
	}
	if r := ts.do(t, "OPTIONS", "/items_from_item", nil); r.status != 204 || !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("OPTIONS: %s %v", r, r.header)
	}
}

func TestAuth(t *testing.T) {
	f := getFixture(t)
	const token = "s3cret-T0ken"
	ts := newServer(t, f.engine(t, nil, recommend.Options{}), api.Options{AuthToken: token})
	body := `[{"city":"Lyon","country":"France","creditlimit":1}]`
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"no token", nil, 401},
		{"wrong token", []string{"Authorization", "Bearer nope"}, 401},
		{"token prefix", []string{"Authorization", "Bearer s3cret"}, 401},
		{"basic auth", []string{"Authorization", "Basic czNjcmV0LVQwa2Vu"}, 401},
		{"bare token", []string{"Authorization", token}, 401},
		{"right token", []string{"Authorization", "Bearer " + token}, 200},
		{"lower-case scheme", []string{"Authorization", "bearer " + token}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []struct{ method, path, body string }{
				{"POST", "/user_embeddings", body},
				{"GET", "/items_from_item?item_id=" + f.products[0], ""},
				{"POST", "/v1/recommendations", `{"user":{"city":"a","country":"b","creditlimit":1}}`},
			} {
				var b any
				if req.body != "" {
					b = req.body
				}
				r := ts.do(t, req.method, req.path, b, tc.header...)
				if r.status != tc.status {
					t.Fatalf("%s %s: %s, want %d", req.method, req.path, r, tc.status)
				}
				if r.status == 401 {
					if code, _, _ := r.errorOf(t); code != api.CodeUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("401: %s %v", r, r.header)
					}
				}
			}
		})
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if r := ts.do(t, "GET", path, nil); r.status != 200 {
			t.Errorf("%s without a token: %s", path, r)
		}
	}
	if logs := ts.logs.String(); strings.Contains(logs, token) || !strings.Contains(logs, "code=401") {
		t.Errorf("the log shows the token, or not the 401s:\n%s", logs)
	}
	if _, err := api.New(api.Options{AuthToken: "two words"}); err == nil {
		t.Error("a token with a space was accepted")
	}
}

// TestStoreDown checks both documented behaviours: popular products with
// the fallback headers, or, without a fallback, 503 with Retry-After.
func TestStoreDown(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	closed, err := local.Open(ctx, f.dir+"/vectors", local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	down := &slowStore{Reader: f.store, err: fmt.Errorf("dial tcp 10.0.0.1:5432: %w", vector.ErrUnavailable)}
	emb := decode[[]embeddingObj](t, newServer(t, f.engine(t, nil, recommend.Options{}), api.Options{}).
		do(t, "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":1}]`))[0]
	top := f.popular[0].ProductCode

	for _, store := range []vector.Reader{closed, down} {
		ts := newServer(t, f.engine(t, store, recommend.Options{}), api.Options{})
		r := ts.do(t, "POST", "/items_from_user?limit=4", emb)
		items := decode[[]scored](t, r)
		if r.status != 200 || r.header.Get(api.HeaderFallback) != "popular" || r.header.Get(api.HeaderFallbackReason) != "store_unavailable" || len(items) != 4 || items[0].ID != top {
			t.Errorf("items_from_user, store down: %s %v", r, r.header)
		}
		r = ts.do(t, "GET", "/items_from_item?item_id="+top+"&limit=4", nil)
		similar := decode[[]distanced](t, r)
		if r.status != 200 || r.header.Get(api.HeaderFallback) != "popular" || len(similar) != 4 || similar[0].ID == top {
			t.Errorf("items_from_item, store down: %s %v", r, r.header)
		}
		r = ts.do(t, "POST", "/v1/recommendations", map[string]any{"embedding": emb.Embedding, "limit": 2})
		if a := decode[answer](t, r); r.status != 200 || !a.Fallback || a.Reason != "store_unavailable" || len(a.Items) != 2 {
			t.Errorf("v1, store down: %s", r)
		}
		r = ts.do(t, "GET", "/readyz", nil)
		if code, _, _ := r.errorOf(t); r.status != 503 || code != api.CodeStoreUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("readyz, store down: %s", r)
		}
		if r := ts.do(t, "GET", "/healthz", nil); r.status != 200 {
			t.Errorf("healthz, store down: %s", r)
		}
		// /user_embeddings needs only the model.
		if r := ts.do(t, "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":1}]`); r.status != 200 {
			t.Errorf("user_embeddings, store down: %s", r)
		}
		metrics := string(ts.do(t, "GET", "/metrics", nil).body)
		if !strings.Contains(metrics, `recoflow_api_fallbacks_total{reason="store_unavailable",route="/items_from_user"} 1`) {
			t.Errorf("metrics lack the fallback:\n%s", metrics)
		}

		// Without a fallback: 503, Retry-After, the cause named.
		ts = newServer(t, f.engine(t, store, recommend.Options{NoFallback: true}), api.Options{RetryAfter: 3 * time.Second})
		for _, req := range []struct{ method, path string }{{"POST", "/items_from_user"}, {"GET", "/items_from_item?item_id=" + top}} {
			var b any
			if req.method == "POST" {
				b = emb
			}
			r := ts.do(t, req.method, req.path, b)
			if code, _, msg := r.errorOf(t); r.status != 503 || code != api.CodeStoreUnavailable || r.header.Get("Retry-After") != "3" || !strings.Contains(msg, "unavailable") {
				t.Errorf("%s without fallback: %s %v", req.path, r, r.header)
			}
		}
	}

	// A slow store: the engine's timeout gives a fallback; the server's
	// request timeout, a 503.
	slow := &slowStore{Reader: f.store, d: time.Second}
	ts := newServer(t, f.engine(t, slow, recommend.Options{SearchTimeout: 30 * time.Millisecond}), api.Options{})
	r := ts.do(t, "POST", "/items_from_user", emb)
	if r.status != 200 || r.header.Get(api.HeaderFallbackReason) != "store_timeout" {
		t.Errorf("slow store: %s %v", r, r.header)
	}
	ts = newServer(t, f.engine(t, slow, recommend.Options{SearchTimeout: -1}), api.Options{RequestTimeout: 30 * time.Millisecond})
	r = ts.do(t, "POST", "/items_from_user", emb)
	if code, _, _ := r.errorOf(t); r.status != 503 || code != api.CodeTimeout {
		t.Errorf("request timeout: %s", r)
	}
}

func TestNotReady(t *testing.T) {
	f := getFixture(t)
	ts := newServer(t, nil, api.Options{})
	for _, path := range []string{"/readyz", "/items_from_item?item_id=x"} {
		r := ts.do(t, "GET", path, nil)
		if code, _, _ := r.errorOf(t); r.status != 503 || code != api.CodeNotReady || r.header.Get("Retry-After") == "" {
			t.Errorf("%s while loading: %s", path, r)
		}
	}
	if r := ts.do(t, "GET", "/healthz", nil); r.status != 200 {
		t.Errorf("healthz while loading: %s", r)
	}
	ts.api.SetNotReady(fmt.Errorf("model v1 embeds in 32 dimensions, the store holds 16: %w", recommend.ErrDimension))
	r := ts.do(t, "POST", "/user_embeddings", "[]")
	if code, _, msg := r.errorOf(t); r.status != 503 || code != api.CodeDimensionMismatch || !strings.Contains(msg, "16") {
		t.Errorf("dimension mismatch at load: %s", r)
	}
	ts.api.SetEngine(f.engine(t, nil, recommend.Options{}))
	r = ts.do(t, "GET", "/readyz", nil)
	var ready struct {
		Status, ModelVersion, StoreVersion string
		PopularProducts                    int `json:"popular_products"`
	}
	json.Unmarshal(r.body, &ready)
	if r.status != 200 || ready.Status != "ready" || !strings.Contains(string(r.body), `"model_version":"v1"`) || ready.PopularProducts != len(f.popular) {
		t.Errorf("readyz once loaded: %s", r)
	}
	if r := ts.do(t, "GET", "/metrics", nil); !strings.Contains(string(r.body), "recoflow_api_engine_loaded 1") ||
		!strings.Contains(string(r.body), `recoflow_api_request_duration_seconds_count{code="503",route="/readyz"} 1`) {
		t.Errorf("metrics:\n%s", r.body)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	ts := newServer(t, nil, api.Options{})
	r := ts.do(t, "GET", "/openapi.json", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || r.status != 200 || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %v\n%.300s", err, r.body)
	}
	if string(api.OpenAPI()) != string(r.body) {
		t.Error("OpenAPI() differs from /openapi.json")
	}
	// Each documented operation is served (not 404 or 405).
	for path, ops := range doc.Paths {
		for method := range ops {
			p := strings.ReplaceAll(path, "{item_id}", "S10_1678")
			r := ts.do(t, strings.ToUpper(method), p, nil)
			if r.status == 404 && !strings.Contains(string(r.body), "not_ready") || r.status == 405 {
				t.Errorf("documented %s %s: %s", method, path, r)
			}
		}
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	f := getFixture(t)
	slow := &slowStore{Reader: f.store, d: 300 * time.Millisecond}
	srv, err := api.New(api.Options{ShutdownGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetEngine(f.engine(t, slow, recommend.Options{VersionCheckInterval: -1}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()

	// A request in flight when the shutdown starts is answered in full.
	type result struct {
		status int
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/items_from_item?item_id=" + f.products[0])
		if err != nil {
			inflight <- result{err: err}
			return
		}
		resp.Body.Close()
		inflight <- result{status: resp.StatusCode}
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if r := <-inflight; r.err != nil || r.status != 200 {
		t.Errorf("request in flight during shutdown: %+v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := getFixture(t)
	ts := newServer(t, f.engine(t, nil, recommend.Options{}), api.Options{})
	emb := decode[[]embeddingObj](t, ts.do(t, "POST", "/user_embeddings", `[{"city":"Lyon","country":"France","creditlimit":1}]`))[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				var r response
				if (g+i)%2 == 0 {
					r = ts.do(t, "POST", "/items_from_user?limit=5", emb)
				} else {
					r = ts.do(t, "GET", "/items_from_item?limit=5&item_id="+f.products[i], nil)
				}
				if r.status != 200 {
					mu.Lock()
					errs = append(errs, errors.New(r.String()))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d failures, first: %v", len(errs), errs[0])
	}
}
