package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/testenv"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/seed/seedtest"
)

// TestMovieShopWholePipeline is issue 12's proof: the movie shop (string
// user ids in a table whose name has a space, integer movie ids, several
// genres per movie, purchases with dates in a table named with a reserved
// word) goes through every stage — seed, etl, train, evaluate, vectors
// load, serve, produce and stream — on each source backend (SQLite, and
// MariaDB), with the embedded vector store, and once more with pgvector
// (vectors load, serve and stream). What a user would check: vectors load
// takes the model's string user ids; serve answers a known shopper by id
// and a new one by features with movie ids the shop sells, without
// falling back; every event produce writes comes out of the stream once,
// with recommended movies, and none is dead-lettered.
func TestMovieShopWholePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every stage on the movie shop")
	}
	for i, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) { testWholePipeline(t, b.URL(t), i == 0) })
	}
}

func testWholePipeline(t *testing.T, src string, withPgvector bool) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	lakeURL := "file://" + lakeDir
	vecURL := "file://" + filepath.Join(dir, "vectors")
	runSteps(t, [][]string{
		{"seed", "--source", src, "--dataset", specFile, "--ratings", "3000", "--seed", "11"},
		{"etl", "--source", src, "--lake", lakeURL, "--dataset", specFile},
		{"train", "--lake", lakeURL, "--dataset", specFile, "--epochs", "2", "--evaluation=false", "--version", "shop1", "--dim", "8", "--hidden", "16"},
		{"evaluate", "--lake", lakeURL, "--dataset", specFile, "--methods", "popularity,hybrid", "--cold-start-fraction", "0", "--out", filepath.Join(dir, "eval.json")},
		{"vectors", "load", "--dim", "8", "--lake", lakeURL, "--vectors", vecURL},
	})

	// What training published: the shoppers and movies to ask about.
	ctx := context.Background()
	b, err := lakefile.Open(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ids := func(file string) map[string]bool {
		rc, err := b.Get(ctx, model.Key("shop1", file))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		out := map[string]bool{}
		if err := embedding.Read(rc, func(e embedding.Entry) error { out[e.ID] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	users, movies := ids(model.UserEmbeddingsFile), ids(model.ItemEmbeddingsFile)
	var known string
	for id := range users {
		if known == "" || id < known {
			known = id
		}
	}

	// serve: a known shopper by id, a new one by features.
	askServe := func(t *testing.T, args ...string) {
		t.Helper()
		s := startServe(t, nil, append([]string{"--lake", lakeURL}, args...)...)
		s.waitReady(t, "shop1")
		for _, body := range []string{
			fmt.Sprintf(`{"user":{"id":%q},"limit":5}`, known),
			`{"user":{"country":"France","age":34},"limit":5}`,
		} {
			code, data := s.get(t, "POST", "/v1/recommendations", body)
			var ans struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
				Fallback bool `json:"fallback"`
			}
			if err := json.Unmarshal(data, &ans); code != 200 || err != nil || len(ans.Items) != 5 || ans.Fallback {
				t.Fatalf("POST %s: %d %s (%v); want 5 recommendations, no fallback", body, code, data, err)
			}
			for _, it := range ans.Items {
				if !movies[it.ID] {
					t.Fatalf("POST %s recommended %q, not a movie of the shop", body, it.ID)
				}
			}
		}
		if err := s.stop(t); err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	askServe(t, "--vectors", vecURL)

	// produce the shop's events, then stream them through the model and
	// the vector store at vectors; name marks the run's output objects.
	streamShop := func(t *testing.T, name string, vectors string) {
		t.Helper()
		const events = 300
		natsURL := "nats-embedded://" + filepath.Join(dir, "nats-"+name)
		if out, stderr, err := runCLI(t, "produce", "--dataset", specFile, "--source", src, "--stream", natsURL, "--count", fmt.Sprint(events), "--rate", "0", "--seed", "3"); err != nil {
			t.Fatalf("produce: %v\n%s%s", err, out, stderr)
		}
		streamCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		var streamErr lockedBuffer
		go func() {
			done <- cli.Run(streamCtx, []string{"stream", "--dataset", specFile, "--stream", natsURL, "--lake", lakeURL, "--vectors", vectors,
				"--output-name", name, "--group", name, "--buffer-interval", "200ms", "--max-batch", "100", "--progress-interval", "1h"},
				cli.Options{Stdout: io.Discard, Stderr: &streamErr, Getenv: func(string) (string, bool) { return "", false }})
		}()
		outDir := filepath.Join(lakeDir, "recommendations")
		deadline := time.Now().Add(5 * time.Minute)
		var recs []map[string]any
		for {
			recs = readRecords(t, outDir, name+"-")
			if len(recs) >= events {
				break
			}
			select {
			case err := <-done:
				cancel()
				t.Fatalf("stream stopped after %d of %d records: %v\n%s", len(recs), events, err, streamErr.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("stream delivered %d of %d records in 5 minutes\n%s", len(recs), events, streamErr.String())
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stream after its context ended: %v\n%s", err, streamErr.String())
		}
		if len(recs) != events {
			t.Errorf("stream delivered %d records for %d events", len(recs), events)
		}
		if entries, _ := os.ReadDir(filepath.Join(lakeDir, "recommendations-errors")); len(entries) > 0 {
			t.Errorf("stream dead-lettered events produce wrote for the same spec: %v", entries)
		}
		for _, r := range recs {
			items, _ := r["recommended_items"].([]any)
			if r["session"] == nil || r["user"] == nil || len(items) == 0 {
				t.Fatalf("output record without its shopper or recommendations: %v", r)
			}
			for _, it := range items {
				if m, _ := it.(map[string]any); m == nil || !movies[fmt.Sprint(m["id"])] {
					t.Fatalf("stream recommended %v, not a movie of the shop: %v", it, r)
				}
			}
		}
	}
	streamShop(t, "embedded", vecURL)

	if !withPgvector {
		return
	}
	t.Run("pgvector", func(t *testing.T) {
		url := testenv.URL(t, testenv.PgvectorVar)
		schema := testenv.PostgresSchema(t, url, "recoflow_proof")
		if _, stderr, err := vectorsCLI(t, "vectors", "load", "--dim", "8", "--lake", lakeURL, "--vectors", url, "--pg-schema", schema, "--pg-max-conns", "2"); err != nil {
			t.Fatalf("vectors load into pgvector: %v\n%s", err, stderr)
		}
		askServe(t, "--vectors", url, "--pg-schema", schema, "--pg-max-conns", "2")
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		streamShop(t, "pgvector", url+sep+"schema="+schema+"&pool_max_conns=2")
	})
}

// readRecords reads every JSON line the lake sink has delivered under dir
// in objects whose names start with prefix.
func readRecords(t *testing.T, dir, prefix string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), prefix) || !strings.HasSuffix(path, ".json") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r map[string]any
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: a line that is not JSON: %v\n%s", path, err, sc.Bytes())
			}
			recs = append(recs, r)
		}
		return nil
	})
	return recs
}
