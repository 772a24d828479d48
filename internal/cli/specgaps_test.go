package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
)

// TestETLRunsAndRollbackFollowTheSpec: etl runs and etl rollback work on
// the lake dataset of the spec given by --dataset or the config file's
// dataset key; runs on a lake directory that does not exist fails naming
// it, and creates nothing.
func TestETLRunsAndRollbackFollowTheSpec(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "sqlite://" + filepath.Join(dir, "shop.db")
	lakeURL := "file://" + filepath.Join(dir, "lake")
	runSteps(t, [][]string{
		{"seed", "--source", src, "--dataset", specFile, "--ratings", "500", "--seed", "2"},
		{"etl", "--source", src, "--lake", lakeURL, "--dataset", specFile},
		{"etl", "--source", src, "--lake", lakeURL, "--dataset", specFile},
	})
	out, stderr, err := runCLI(t, "etl", "runs", "--lake", lakeURL, "--dataset", specFile)
	if err != nil {
		t.Fatalf("etl runs --dataset: %v\n%s", err, stderr)
	}
	if strings.Count(out, "\n") != 4 || !strings.Contains(out, "* ") {
		t.Errorf("etl runs --dataset printed:\n%s", out)
	}
	// The built-in dataset of the same lake has no runs.
	if out, _, err := runCLI(t, "etl", "runs", "--lake", lakeURL); err != nil || !strings.Contains(out, "no committed runs") {
		t.Errorf("etl runs (built-in spec): %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "recoflow.yaml")
	if err := os.WriteFile(cfg, []byte("dataset: shop.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := runCLI(t, "etl", "rollback", "--config", cfg, "--lake", lakeURL); err != nil || !strings.Contains(out, "committed run") {
		t.Fatalf("etl rollback --config: %v\n%s%s", err, out, stderr)
	}

	missing := filepath.Join(dir, "no-such-lake")
	_, _, err = runCLI(t, "etl", "runs", "--lake", "file://"+missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("etl runs on a missing lake: %v, want an error naming %s", err, missing)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("etl runs created %s (%v)", missing, err)
	}
}

// TestSpecShowFollowsTheConfig: spec show prints the config file's
// dataset spec, defaults filled, when no --dataset is given.
func TestSpecShowFollowsTheConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "recoflow.yaml")
	if err := os.WriteFile(cfg, []byte("dataset: shop.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "spec", "show", "--config", cfg)
	if err != nil {
		t.Fatalf("spec show --config: %v\n%s", err, stderr)
	}
	s, err := dataset.Parse([]byte(out), "shown")
	if err != nil {
		t.Fatalf("spec show printed what does not parse: %v\n%s", err, out)
	}
	if s.Name != "movie-shop" || s.Lake.Dataset != "movie_orders" {
		t.Errorf("spec show --config printed %s / %s", s.Name, s.Lake.Dataset)
	}
}
