package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
)

// BenchmarkHandlerItemsFromUser measures what the API adds to a search
// for POST /items_from_user?limit=10, without the network: the handler
// (routing, metrics, the body's decoding, the engine's checks, the
// answer's encoding) on the classicmodels products.
//
//	go test ./api -run '^$' -bench HandlerItemsFromUser -benchmem
func BenchmarkHandlerItemsFromUser(b *testing.B) {
	f := getFixture(b)
	e := f.engine(b, f.store, recommend.Options{})
	srv, err := api.New(api.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv.SetEngine(e)
	h := srv.Handler()
	cu := f.customers[0]
	body, _ := json.Marshal(map[string]any{"embedding": e.UserEmbedding(model.UserFeatures{City: cu.City, Country: cu.Country, CreditLimit: cu.CreditLimit})})
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/items_from_user?limit=10", bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
