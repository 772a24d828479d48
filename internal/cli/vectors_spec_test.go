package cli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/testenv"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/vector"
)

// TestVectorsLoadMovieShop: seed, etl and train the movie shop's spec
// (string user ids, integer movie ids), then vectors load takes the id
// types from the model version's spec, into the embedded store and into
// pgvector: every user's and item's vector is the CSV's row, looked up by
// its string id, and searches return movie ids. A --dataset that is not the
// version's spec is refused.
func TestVectorsLoadMovieShop(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	src := seedtest.SQLiteURL(t)
	lakeDir := filepath.Join(dir, "lake")
	lakeURL := "file://" + lakeDir
	runSteps(t, [][]string{
		{"seed", "--source", src, "--dataset", specFile, "--ratings", "3000", "--seed", "5"},
		{"etl", "--source", src, "--lake", lakeURL, "--dataset", specFile},
		{"train", "--lake", lakeURL, "--dataset", specFile, "--epochs", "2", "--evaluation=false", "--version", "shop1", "--dim", "8", "--hidden", "16"},
	})
	ctx := context.Background()
	b, err := lakefile.Open(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	read := func(file string) []embedding.Entry {
		rc, err := b.Get(ctx, model.Key("shop1", file))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var out []embedding.Entry
		if err := embedding.Read(rc, func(e embedding.Entry) error { out = append(out, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	users, items := read(model.UserEmbeddingsFile), read(model.ItemEmbeddingsFile)
	if len(users) == 0 || len(items) == 0 {
		t.Fatalf("%d users and %d items trained", len(users), len(items))
	}
	if _, err := strconv.Atoi(users[0].ID); err == nil {
		t.Fatalf("user id %q: the movie shop's are strings", users[0].ID)
	}

	check := func(t *testing.T, url string) {
		t.Helper()
		st := openVectors(t, url)
		info, err := st.Version(ctx)
		want := vector.IDTypes{User: vector.IDString, Item: vector.IDInteger}
		if err != nil || info.Version != "shop1" || info.IDs != want || info.Users != len(users) || info.Items != len(items) {
			t.Fatalf("store holds %+v, %v; want shop1 with id types %+v, %d users, %d items", info, err, want, len(users), len(items))
		}
		for _, u := range users {
			v, err := st.UserVector(ctx, u.ID)
			if err != nil || !slices.Equal(v, u.Vector) {
				t.Fatalf("UserVector(%q) = %v, %v; want the CSV's row %v", u.ID, v, err, u.Vector)
			}
		}
		for _, it := range items {
			v, err := st.ItemVector(ctx, it.ID)
			if err != nil || !slices.Equal(v, it.Vector) {
				t.Fatalf("ItemVector(%q) = %v, %v; want the CSV's row", it.ID, v, err)
			}
		}
		hits, err := st.SearchItems(ctx, items[0].Vector, 3)
		if err != nil || len(hits) == 0 || hits[0].ID != items[0].ID {
			t.Fatalf("nearest to movie %s: %v, %v", items[0].ID, hits, err)
		}
	}

	t.Run("embedded", func(t *testing.T) {
		vecURL := "file://" + filepath.Join(dir, "vectors")
		out, stderr, err := vectorsCLI(t, "vectors", "load", "--dim", "8", "--lake", lakeURL, "--vectors", vecURL)
		if err != nil {
			t.Fatalf("vectors load: %v\n%s", err, stderr)
		}
		if !strings.Contains(out, "users string, items integer (dataset spec movie-shop)") {
			t.Errorf("summary does not give the id types:\n%s", out)
		}
		check(t, vecURL)

		// The version's own spec with --dataset is fine; another is not.
		if _, stderr, err := vectorsCLI(t, "vectors", "load", "--dim", "8", "--lake", lakeURL, "--vectors", vecURL, "--dataset", specFile); err != nil {
			t.Fatalf("vectors load --dataset (the version's spec): %v\n%s", err, stderr)
		}
		other := filepath.Join(dir, "other.yaml")
		os.WriteFile(other, []byte(strings.Replace(datasettest.ShopSpecYAML, "name: movie-shop", "name: other-shop", 1)), 0o644)
		_, _, err = vectorsCLI(t, "vectors", "load", "--dim", "8", "--lake", lakeURL, "--vectors", vecURL, "--dataset", other)
		if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "movie-shop") || !strings.Contains(err.Error(), "other-shop") {
			t.Fatalf("--dataset of another spec: %v (exit %d), want a usage error naming both specs", err, cli.ExitCode(err))
		}
		check(t, vecURL)
	})

	t.Run("pgvector", func(t *testing.T) {
		url := testenv.URL(t, testenv.PgvectorVar)
		schema := testenv.PostgresSchema(t, url, "recoflow_cli")
		if _, stderr, err := vectorsCLI(t, "vectors", "load", "--dim", "8", "--lake", lakeURL, "--vectors", url, "--pg-schema", schema, "--pg-max-conns", "2"); err != nil {
			t.Fatalf("vectors load: %v\n%s", err, stderr)
		}
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		check(t, url+sep+"schema="+schema)
	})
}

// TestVectorsLoadBadIDs: an id that does not fit the spec's id type fails
// the load with the file, the line and the id, and loads nothing.
func TestVectorsLoadBadIDs(t *testing.T) {
	dir := t.TempDir()
	vecURL := "file://" + filepath.Join(dir, "vectors")
	specFile := filepath.Join(dir, "shop.yaml")
	os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644)
	v := func(x float32) []float32 { return []float32{x, 1, 0, 0, 0, 0, 0, 0} }
	write := func(name string, entries []embedding.Entry) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, csvBytes(t, entries), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shopItems := write("shop-items.csv", []embedding.Entry{{ID: "1", Vector: v(1)}, {ID: "2", Vector: v(2)}})
	labItems := write("lab-items.csv", []embedding.Entry{{ID: "S10_1678", Vector: v(1)}, {ID: "S10_1949", Vector: v(2)}})
	shopUsers := write("shop-users.csv", []embedding.Entry{{ID: "00000000-a762", Vector: v(1)}, {ID: "00000001-b3c1", Vector: v(3)}})
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"string user ids with the built-in spec", []string{"--items", labItems, "--users", shopUsers},
			[]string{"shop-users.csv, line 2", `"00000000-a762"`, "32-bit integer", "users.id_type is integer"}},
		{"string item ids with the shop's spec", []string{"--items", labItems, "--users", shopUsers, "--dataset", specFile},
			[]string{"lab-items.csv, line 2", `"S10_1678"`, "64-bit integer", "items.id_type is integer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"vectors", "load", "--vectors", vecURL, "--dim", "8", "--version", "v"}, c.args...)
			_, _, err := vectorsCLI(t, args...)
			if !errors.Is(err, vector.ErrInvalid) {
				t.Fatalf("error %v, want one wrapping ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	st := openVectors(t, vecURL)
	if _, err := st.Version(context.Background()); !errors.Is(err, vector.ErrEmpty) {
		t.Fatalf("after failed loads: %v, want ErrEmpty", err)
	}
	st.Close()
	// The files with the shop's spec load.
	if _, stderr, err := vectorsCLI(t, "vectors", "load", "--vectors", vecURL, "--dim", "8", "--version", "v",
		"--items", shopItems, "--users", shopUsers, "--dataset", specFile); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	st = openVectors(t, vecURL)
	if u, err := st.UserVector(context.Background(), "00000001-b3c1"); err != nil || !slices.Equal(u, v(3)) {
		t.Fatalf("UserVector = %v, %v", u, err)
	}
}
