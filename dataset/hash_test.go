package dataset_test

import (
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
)

func TestHash(t *testing.T) {
	classic := dataset.Classic()
	fromYAML, err := dataset.Parse(dataset.ClassicYAML(), "classicmodels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := dataset.Hash(&classic), dataset.Hash(fromYAML); a != b {
		t.Errorf("the built-in spec hashes to %s in Go and %s from its YAML file", a, b)
	}
	// Defaults spelled out or left implicit: one spec, one hash.
	bare := classic
	bare.Users.Features = append([]dataset.Feature(nil), classic.Users.Features...)
	bare.Users.Features[2].Scaling = ""
	if dataset.Hash(&bare) != dataset.Hash(&classic) {
		t.Error("leaving a default implicit changed the hash")
	}
	shop, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if dataset.Hash(shop) == dataset.Hash(&classic) {
		t.Error("two different specs hash alike")
	}
	changed := *shop
	changed.Lake.Partition = "movie_id"
	if dataset.Hash(&changed) == dataset.Hash(shop) {
		t.Error("changing the partition column left the hash as it was")
	}
	if h := dataset.Hash(shop); len(h) != 64 {
		t.Errorf("hash %q: want 64 hex digits", h)
	}
}
