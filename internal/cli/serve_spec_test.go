package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// TestServeSpecModel: recoflow serve serves a model trained on another
// shop's dataset spec (the movie shop: string user ids, country and age),
// the spec taken from the model's artifacts: /v1 answers a user by id, by
// the spec's named features and by both, an unknown feature is a 400
// naming it, the popular items come from the spec's lake dataset, and a
// movie's similar items are found by its integer id.
func TestServeSpecModel(t *testing.T) {
	s, shop := serveMovieShop(t)
	if code, body := s.get(t, "GET", "/readyz", ""); code != 200 || strings.Contains(string(body), `"popular_products":0`) {
		t.Errorf("readyz: %d %s", code, body)
	}

	known := shop.Users[0]
	ask := func(user string) serveSpecAnswer {
		t.Helper()
		code, body := s.get(t, "POST", "/v1/recommendations", `{"user":`+user+`,"limit":5}`)
		var a serveSpecAnswer
		if err := json.Unmarshal(body, &a); err != nil || code != 200 || len(a.Items) != 5 || a.Fallback || a.ModelVersion != recommendtest.Version {
			t.Fatalf("user %s: %d %s", user, code, body)
		}
		return a
	}
	features := `"country":` + serveSpecQuote(shop.Countries[0]) + `,"age":31`
	byID := ask(`{"id":` + serveSpecQuote(known) + `}`)
	byFeatures := ask(`{` + features + `}`)
	both := ask(`{"id":` + serveSpecQuote(known) + `,` + features + `}`)
	if serveSpecIDs(byID) == serveSpecIDs(both) && serveSpecIDs(byFeatures) == serveSpecIDs(both) {
		t.Errorf("the id and the features change nothing: %s", serveSpecIDs(both))
	}

	code, body := s.get(t, "POST", "/v1/recommendations", `{"user":{"id":`+serveSpecQuote(known)+`,"shoe_size":42}}`)
	var e struct{ Error struct{ Code, Field string } }
	if json.Unmarshal(body, &e); code != 400 || e.Error.Code != "invalid_field" || e.Error.Field != "user.shoe_size" {
		t.Errorf("an unknown feature: %d %s", code, body)
	}
	code, body = s.get(t, "POST", "/v1/recommendations", `{"user":{"age":"old"}}`)
	if json.Unmarshal(body, &e); code != 400 || e.Error.Field != "user.age" {
		t.Errorf("a numeric feature given as text: %d %s", code, body)
	}

	item := shop.Items[0]
	code, body = s.get(t, "GET", "/v1/items/"+item+"/similar?limit=3", "")
	if code != 200 || !strings.Contains(string(body), `"item_id":"`+item+`"`) {
		t.Errorf("similar items: %d %s", code, body)
	}
	code, body = s.get(t, "POST", "/v1/recommendations/batch", `{"requests":[{"user":{"id":`+serveSpecQuote(known)+`},"limit":5,"similar_to":"`+item+`","similar_limit":2}]}`)
	var batch struct {
		Results []struct {
			Items   *serveSpecAnswer `json:"items"`
			Similar *serveSpecAnswer `json:"similar"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &batch); err != nil || len(batch.Results) != 1 || batch.Results[0].Items == nil ||
		serveSpecIDs(*batch.Results[0].Items) != serveSpecIDs(byID) || batch.Results[0].Similar == nil || len(batch.Results[0].Similar.Items) != 2 {
		t.Errorf("batch: %d %s", code, body)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v\n%s", err, s.stderr)
	}
}

func serveSpecQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// serveSpecAnswer is a /v1 answer.
type serveSpecAnswer struct {
	Items []struct {
		ID    string  `json:"id"`
		Score float64 `json:"score"`
	} `json:"items"`
	Fallback     bool   `json:"fallback"`
	ModelVersion string `json:"model_version"`
}

// serveSpecIDs lists an answer's item ids.
func serveSpecIDs(a serveSpecAnswer) string {
	var out []string
	for _, it := range a.Items {
		out = append(out, it.ID)
	}
	return strings.Join(out, ",")
}

// serveMovieShop builds the movie shop's model (recommendtest.Build) and
// runs recoflow serve over its lake and vector store, ready.
func serveMovieShop(t *testing.T) (*serving, *recommendtest.Shop) {
	t.Helper()
	shop, err := recommendtest.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	shop.Close() // serve opens the lake and the store itself
	s := startServe(t, nil, "--lake", "file://"+shop.LakeDir, "--vectors", "file://"+shop.VectorDir)
	s.waitReady(t, recommendtest.Version)
	return s, shop
}
