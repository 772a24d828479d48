package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/recommend"
)

// FuzzBodies posts arbitrary bodies to every endpoint that decodes one and
// checks that the answer is 200, 400 or 413 with a JSON body, never a
// panic or a 500.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		`[{"city":"Lyon","country":"France","creditlimit":1}]`,
		`[{"city":"Lyon","country":"France","creditlimit":"12.5"}]`,
		`{"embedding":[0.1,0.2]}`,
		`{"embedding":"[0.1,0.2]"}`,
		`{"user":{"city":"a","country":"b","creditlimit":1},"limit":3,"exclude":["x"]}`,
		`{"requests":[{"similar_to":"S10_1678","similar_limit":2},{"embedding":[1]}]}`,
		`[`, `null`, `{"embedding":[1e39]}`, `[{"city":"\ud800","country":1}]`,
	} {
		f.Add(seed)
	}
	fx := getFixture(f)
	srv, err := api.New(api.Options{MaxBodyBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	e, err := recommend.New(fx.model, fx.store, fx.popular, recommend.Options{})
	if err != nil {
		f.Fatal(err)
	}
	srv.SetEngine(e)
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/user_embeddings", "/items_from_user?limit=3", "/v1/recommendations", "/v1/recommendations/batch"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
			switch w.Code {
			case 200, 400, 413:
			default:
				t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %q: not JSON: %s", path, body, w.Body)
			}
		}
	})
}
