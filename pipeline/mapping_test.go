package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/stream"
)

// TestTransformShopMapping: with a spec's mapping the pipeline reads
// another shop's events (string user ids, integer item ids, its own field
// names): the output is the input object plus the two keys, the picked
// item's id as the product code; a record the mapping rejects is a dead
// letter whose reason names the shop's field.
func TestTransformShopMapping(t *testing.T) {
	_, eng := prepareShared(t)
	spec, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := event.NewMapping(spec)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := pipeline.NewTransformer(eng, pipeline.TransformOptions{Mapping: m, OnStoreDown: pipeline.Fallback})
	if err != nil {
		t.Fatal(err)
	}
	in := `{"session":"s-1","user":"u-17","country":"USA","age":31,"viewed":[{"movie":42,"copies":"2"},{"movie":7,"copies":1}]}`
	bad := `{"session":"s-2","user":"u-18","country":"USA","age":31,"viewed":[{"movie":"x"}]}`
	recs, errs, err := tr.Transform(context.Background(), []stream.Message{{ID: "a", Data: []byte(in)}, {ID: "b", Data: []byte(bad)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(errs) != 1 || errs[0].ID != "b" || !strings.Contains(errs[0].Reason, "viewed[0].movie") {
		t.Fatalf("records %d, errors %+v", len(recs), errs)
	}
	out := string(recs[0].Data)
	if !strings.HasPrefix(out, strings.TrimSuffix(in, "}")+`,"recommended_items":[`) {
		t.Fatalf("output %s", out)
	}
	var got struct {
		Recommended []json.RawMessage `json:"recommended_items"`
		Similar     struct {
			ProductCode string `json:"product_code"`
		} `json:"similar_items"`
	}
	if err := json.Unmarshal(recs[0].Data, &got); err != nil || len(got.Recommended) != 10 || got.Similar.ProductCode != "7" {
		t.Fatalf("output %s: %v", out, err)
	}
}
