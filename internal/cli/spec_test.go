package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/seed/seedtest"
)

func TestSpecShow(t *testing.T) {
	out, _, err := runCLI(t, "spec", "show")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(dataset.ClassicYAML()) {
		t.Errorf("spec show printed:\n%s", out)
	}
	// What it prints is a spec file: saved and shown back, defaults filled.
	file := filepath.Join(t.TempDir(), "classicmodels.yaml")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	again, _, err := runCLI(t, "spec", "show", "--dataset", file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dataset.Parse([]byte(again), "shown")
	if err != nil {
		t.Fatal(err)
	}
	if s.Lake.Dataset != "ratings_ml_training" || s.Users.IDType != "integer" || s.Stream.UserFeatures["creditLimit"] != "credit_limit" {
		t.Errorf("shown spec %+v", s)
	}
}

// spec check passes the built-in spec on the seeded sample; spec init
// drafts a spec for the movie shop that spec check accepts; a broken spec
// exits 2 naming the file, line and key; a spec that does not fit the
// source exits 1 naming the key and the missing column.
func TestSpecInitAndCheck(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			if _, stderr, err := runCLI(t, "seed", "--source", url); err != nil {
				t.Fatalf("seed: %v\n%s", err, stderr)
			}
			out, _, err := runCLI(t, "spec", "check", "--source", url)
			if err != nil {
				t.Fatalf("spec check of the built-in spec: %v", err)
			}
			for _, want := range []string{"dataset spec (built-in) (classicmodels) fits", "feedback explicit 1–5 (productRating)",
				"ratings_ml_training/customerNumber=<…>/", "vectors load, serve and stream follow the model's own spec"} {
				if !strings.Contains(out, want) {
					t.Errorf("spec check output lacks %q:\n%s", want, out)
				}
			}

			shop := datasettest.ShopURL(t, b)
			draft, _, err := runCLI(t, "spec", "init", "--source", shop)
			if err != nil {
				t.Fatalf("spec init: %v", err)
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "shop.yaml")
			if err := os.WriteFile(file, []byte(draft), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err = runCLI(t, "spec", "check", "--dataset", file, "--source", shop)
			if err != nil {
				t.Fatalf("spec check of the draft: %v\n%s", err, draft)
			}
			for _, want := range []string{"interactions  order: user_id → shop users.user_id, movie_id → movies.movie_id; feedback quantity (quantity); timestamp ordered_at",
				"genres multi_categorical", "id movie_id (integer)", "id user_id (string)"} {
				if !strings.Contains(out, want) {
					t.Errorf("spec check output lacks %q:\n%s", want, out)
				}
			}

			// The spec file may come from the config file's spec section.
			cfg := filepath.Join(dir, "recoflow.yaml")
			if err := os.WriteFile(cfg, []byte("spec:\n  dataset: "+file+"\n  source: "+shop+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err = runCLI(t, "--config", cfg, "spec", "check")
			if err != nil || !strings.Contains(out, "dataset spec "+file) {
				t.Errorf("spec check with a config file: %v\n%s", err, out)
			}

			// A typo in a kind: the spec is invalid, exit 2.
			bad := filepath.Join(dir, "bad.yaml")
			text := strings.Replace(draft, "kind: multi_categorical", "kind: multi_categoricl", 1)
			if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = runCLI(t, "spec", "check", "--dataset", bad, "--source", shop)
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), bad+":") ||
				!strings.Contains(err.Error(), `kind: unknown kind "multi_categoricl"; did you mean "multi_categorical"?`) {
				t.Errorf("a typo in a kind: exit %d, %v", cli.ExitCode(err), err)
			}

			// The built-in spec against the movie shop: it does not fit, exit 1.
			_, _, err = runCLI(t, "spec", "check", "--source", shop)
			if cli.ExitCode(err) != cli.ExitFailure || !strings.Contains(err.Error(), `interactions.table: no table "ratings"`) ||
				!strings.Contains(err.Error(), `users.table: no table "customers"`) {
				t.Errorf("the built-in spec on the movie shop: exit %d, %v", cli.ExitCode(err), err)
			}
		})
	}
}
