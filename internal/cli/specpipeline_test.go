package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/embedding"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/seed/seedtest"
)

// TestSpecPipelineMovieShop: seed (generated for the movie shop's spec),
// etl, train and evaluate with --dataset, then again through the config
// file's dataset key: string user ids and integer movie ids reach the
// embeddings files, the artifacts record the spec and its hash, the model
// loads with the spec's encoders, and evaluate reports on the second
// schema.
func TestSpecPipelineMovieShop(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) { testSpecPipeline(t, b.URL(t)) })
	}
}

func testSpecPipeline(t *testing.T, src string) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	lakeURL := "file://" + lakeDir
	runSteps(t, [][]string{
		{"seed", "--source", src, "--dataset", specFile, "--ratings", "3000", "--seed", "5"},
		{"etl", "--source", src, "--lake", lakeURL, "--dataset", specFile},
		{"train", "--lake", lakeURL, "--dataset", specFile, "--epochs", "3", "--evaluation=false", "--version", "v1", "--dim", "8", "--hidden", "16"},
	})
	ctx := context.Background()
	b, err := lakefile.Open(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	man, err := model.ReadManifest(ctx, b, "v1")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if man.Spec != "movie-shop" || man.SpecHash != dataset.Hash(spec) {
		t.Errorf("manifest records spec %q hash %q, want movie-shop %s", man.Spec, man.SpecHash, dataset.Hash(spec))
	}
	m, err := model.Load(ctx, b, "v1")
	if err != nil {
		t.Fatalf("load the movie shop's model: %v", err)
	}
	if s, h := m.Spec(); s == nil || s.Name != "movie-shop" || h != man.SpecHash {
		t.Errorf("loaded model's spec: %v %q", s, h)
	}
	read := func(file string) map[string][]float32 {
		rc, err := b.Get(ctx, model.Key("v1", file))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		out := map[string][]float32{}
		if err := embedding.Read(rc, func(e embedding.Entry) error { out[e.ID] = e.Vector; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	users, items := read(model.UserEmbeddingsFile), read(model.ItemEmbeddingsFile)
	if len(users) == 0 || len(items) == 0 {
		t.Fatalf("%d user and %d item embeddings", len(users), len(items))
	}
	for id, v := range users {
		if _, err := strconv.Atoi(id); err == nil || len(v) != 8 {
			t.Fatalf("user id %q (want a string id), %d dimensions", id, len(v))
		}
	}
	for id := range items {
		if _, err := strconv.Atoi(id); err != nil {
			t.Fatalf("item id %q is not an integer", id)
		}
	}

	// evaluate, from the config file's dataset key.
	cfg := filepath.Join(dir, "recoflow.yaml")
	if err := os.WriteFile(cfg, []byte("dataset: shop.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "eval.json")
	out, stderr, err := runCLI(t, "evaluate", "--config", cfg, "--lake", lakeURL, "--methods", "popularity,hybrid", "--out", report, "--cold-start-fraction", "0")
	if err != nil {
		t.Fatalf("evaluate: %v\n%s%s", err, out, stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []struct {
			Method string `json:"method"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "hybrid") || !strings.Contains(out, "popularity") {
		t.Errorf("evaluate printed:\n%s", out)
	}
	// train from the config file's dataset key too; a built-in spec
	// against this lake has no dataset.
	if out, stderr, err := runCLI(t, "train", "--config", cfg, "--lake", lakeURL, "--epochs", "1", "--evaluation=false", "--version", "v2", "--dim", "8", "--hidden", "16"); err != nil {
		t.Fatalf("train --config: %v\n%s%s", err, out, stderr)
	}
	if _, _, err := runCLI(t, "train", "--lake", lakeURL, "--epochs", "1", "--evaluation=false", "--version", "v3"); err == nil {
		t.Error("train with the built-in spec on a lake holding only the movie shop succeeded")
	}
}

// TestSpecTrainFeedbackKinds: train follows each kind of feedback — an
// explicit rating on a 0.5–5 scale, event types with weights, a count —
// on a spec with integer user ids, string item ids, a multi-valued
// feature with its own delimiter and text.
func TestSpecTrainFeedbackKinds(t *testing.T) {
	const base = `version: 1
name: kinds
interactions:
  table: events
  user_key: visitor
  item_key: sku
%s
users:
  table: visitors
  id: visitor
  id_type: integer
  features:
    - {column: segment, kind: categorical, max_categories: 2}
items:
  table: products
  id: sku
  id_type: string
  features:
    - {column: tags, kind: multi_categorical, delimiter: ";"}
    - {column: blurb, kind: text}
  passthrough: [vendor]
`
	for name, feedback := range map[string]string{
		"explicit": "  feedback: {kind: explicit, column: stars, scale: {min: 0.5, max: 5}}",
		"weight":   "  feedback: {kind: weight, column: event_type, weights: {view: 1, cart: 3, purchase: 5}}\n  timestamp: at",
		"count":    "  feedback: {kind: count}",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			specFile := filepath.Join(dir, "kinds.yaml")
			if err := os.WriteFile(specFile, []byte(fmt.Sprintf(base, feedback)), 0o644); err != nil {
				t.Fatal(err)
			}
			src := "sqlite://" + filepath.Join(dir, "shop.db")
			lakeDir := filepath.Join(dir, "lake")
			for _, args := range [][]string{
				{"seed", "--source", src, "--dataset", specFile, "--ratings", "2000", "--seed", "3"},
				{"etl", "--source", src, "--lake", "file://" + lakeDir, "--dataset", specFile},
				{"train", "--lake", "file://" + lakeDir, "--dataset", specFile, "--epochs", "2", "--evaluation=false", "--version", "v1", "--dim", "8", "--hidden", "16"},
			} {
				out, stderr, err := runCLI(t, args...)
				if err != nil {
					t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
				}
				if args[0] != "train" {
					continue
				}
				// Implicit feedback has no rating to predict: no RMSE
				// row, rather than a meaningless 0.
				none := strings.Contains(out, "hold-out RMSE none (implicit feedback")
				if some := strings.Contains(out, "hold-out RMSE model"); none == some || none != (name != "explicit") {
					t.Errorf("train's summary for %s feedback:\n%s", name, out)
				}
			}
			b, err := lakefile.Open(lakeDir)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			m, err := model.Load(context.Background(), b, "v1")
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := m.Spec(); s == nil || s.Name != "kinds" {
				t.Errorf("model's spec %v", s)
			}
		})
	}
}
