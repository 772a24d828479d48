package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// TestServeItemsByFeatures: recoflow serve, over a model of the movie
// shop's dataset spec, answers POST /v1/items/similar for a movie given by
// its named features (genres, release year, price), for one given by an
// id in the store as GET /v1/items/{id}/similar does, and an unknown item
// feature is a 400 naming it.
func TestServeItemsByFeatures(t *testing.T) {
	s, shop := serveMovieShop(t)

	code, body := s.get(t, "POST", "/v1/items/similar", `{"item":{"genres":["Action","Comedy"],"release_year":1999,"price":9.5},"limit":5}`)
	var a serveSpecAnswer
	if err := json.Unmarshal(body, &a); err != nil || code != 200 || len(a.Items) != 5 || a.Fallback || a.ModelVersion != recommendtest.Version {
		t.Fatalf("by features: %d %s", code, body)
	}

	item := shop.Items[0]
	getCode, getBody := s.get(t, "GET", "/v1/items/"+item+"/similar?limit=3", "")
	code, body = s.get(t, "POST", "/v1/items/similar", `{"item":{"id":`+serveSpecQuote(item)+`},"limit":3}`)
	if getCode != 200 || code != 200 || string(body) != string(getBody) || !strings.Contains(string(body), `"item_id":"`+item+`"`) {
		t.Errorf("by id: GET %d %s; POST %d %s", getCode, getBody, code, body)
	}

	code, body = s.get(t, "POST", "/v1/items/similar", `{"item":{"genres":"Action","shoe_size":42}}`)
	var e struct{ Error struct{ Code, Field string } }
	if json.Unmarshal(body, &e); code != 400 || e.Error.Code != "invalid_field" || e.Error.Field != "item.shoe_size" {
		t.Errorf("an unknown feature: %d %s", code, body)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v\n%s", err, s.stderr)
	}
}
