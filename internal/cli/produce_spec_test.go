package cli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/event"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/seed/seedtest"
)

// shopIDs returns the user and item ids of the movie shop at url.
func shopIDs(t *testing.T, url string) (users, items map[string]bool) {
	t.Helper()
	ctx := context.Background()
	db, err := connect.Source(ctx, url, connect.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	read := func(table, col string) map[string]bool {
		rows, err := db.SQL.QueryContext(ctx, "SELECT "+db.Quote(col)+" FROM "+db.Quote(table))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		ids := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids[id] = true
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	return read(datasettest.Users, "user_id"), read(datasettest.Movies, "movie_id")
}

// TestProduceDatasetMovieShop: every event produce --dataset writes for the
// movie shop (seeded for its spec) decodes through the spec's own mapping —
// the decoder of stream --dataset — with the shop's user and movie ids; new
// shoppers have ids the shop does not; the config file's dataset key gives
// the same events; a spec without a stream section gets its default fields.
func TestProduceDatasetMovieShop(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			dir := t.TempDir()
			specFile := filepath.Join(dir, "shop.yaml")
			if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
				t.Fatal(err)
			}
			src := b.URL(t)
			if out, stderr, err := runCLI(t, "seed", "--source", src, "--dataset", specFile, "--ratings", "2000", "--seed", "5"); err != nil {
				t.Fatalf("seed: %v\n%s%s", err, out, stderr)
			}
			users, items := shopIDs(t, src)
			spec, err := dataset.Load(specFile)
			if err != nil {
				t.Fatal(err)
			}
			m, err := event.NewMapping(spec)
			if err != nil {
				t.Fatal(err)
			}
			decodeAll := func(m *event.Mapping, out string, n int) (known, fresh int) {
				t.Helper()
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != n {
					t.Fatalf("%d events, want %d", len(lines), n)
				}
				for _, l := range lines {
					r, err := m.Decode([]byte(l))
					if err != nil {
						t.Fatalf("%s: %v", l, err)
					}
					if users[r.UserID] {
						known++
					} else {
						fresh++
					}
					if r.SessionID == "" || len(r.Browsed) == 0 || len(r.UserFeatures) != 2 {
						t.Fatalf("%s: record %+v", l, r)
					}
					for _, it := range r.Browsed {
						if !items[it.ItemID] {
							t.Fatalf("%s: movie %s is not in the shop", l, it.ItemID)
						}
					}
				}
				return known, fresh
			}

			out, stderr, err := runCLI(t, "produce", "--dataset", specFile, "--source", src, "--dry-run", "--count", "2000", "--rate", "0", "--new-shoppers", "0")
			if err != nil {
				t.Fatalf("produce --dataset: %v\n%s", err, stderr)
			}
			if known, fresh := decodeAll(m, out, 2000); known != 2000 || fresh != 0 {
				t.Errorf("%d events by the shop's users, %d by others, with no new shoppers", known, fresh)
			}
			if !strings.Contains(out, `"viewed":[{"movie":`) || !strings.Contains(out, `"copies":"`) {
				t.Errorf("events not in the spec's fields:\n%.400s", out)
			}

			// New shoppers: ids the shop does not have, still decoding.
			out, stderr, err = runCLI(t, "produce", "--dataset", specFile, "--source", src, "--dry-run", "--count", "1000", "--rate", "0", "--new-shoppers", "0.3")
			if err != nil {
				t.Fatalf("produce --dataset --new-shoppers 0.3: %v\n%s", err, stderr)
			}
			if known, fresh := decodeAll(m, out, 1000); known == 0 || fresh == 0 {
				t.Errorf("%d events by the shop's users, %d by new shoppers", known, fresh)
			}

			// Published to a stream: each record keyed by its session.
			if b.Name == "sqlite" {
				url := "nats-embedded://" + filepath.Join(dir, "nats")
				out, stderr, err := runCLI(t, "produce", "--dataset", specFile, "--source", src, "--stream", url, "--count", "200", "--rate", "0")
				if err != nil {
					t.Fatalf("produce --dataset --stream: %v\n%s%s", err, out, stderr)
				}
				if !strings.Contains(out, "produced 200 events") || !strings.Contains(out, "next: recoflow stream --stream "+url+" --dataset "+specFile) {
					t.Errorf("summary:\n%s", out)
				}
				readSpecEvents(t, url, m, 200, users, items)
			}

			// The config file's dataset key: the same events.
			cfg := filepath.Join(dir, "recoflow.yaml")
			if err := os.WriteFile(cfg, []byte("dataset: shop.yaml\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			viaFlag, _, err := runCLI(t, "produce", "--dataset", specFile, "--source", src, "--dry-run", "--count", "50", "--rate", "0")
			if err != nil {
				t.Fatal(err)
			}
			viaConfig, stderr, err := runCLI(t, "produce", "--config", cfg, "--source", src, "--dry-run", "--count", "50", "--rate", "0")
			if err != nil || viaConfig != viaFlag {
				t.Errorf("produce --config with the dataset key: %v, events differ from --dataset: %t\n%s", err, viaConfig != viaFlag, stderr)
			}

			// No stream section: the spec's default fields, as stream
			// --dataset reads them too.
			bare := datasettest.ShopSpecYAML[:strings.Index(datasettest.ShopSpecYAML, "\nstream:")+1]
			bareFile := filepath.Join(dir, "bare.yaml")
			if err := os.WriteFile(bareFile, []byte(bare), 0o644); err != nil {
				t.Fatal(err)
			}
			bareSpec, err := dataset.Load(bareFile)
			if err != nil {
				t.Fatal(err)
			}
			bm, err := event.NewMapping(bareSpec)
			if err != nil {
				t.Fatal(err)
			}
			out, stderr, err = runCLI(t, "produce", "--dataset", bareFile, "--source", src, "--dry-run", "--count", "300", "--rate", "0", "--new-shoppers", "0")
			if err != nil {
				t.Fatalf("produce with a spec without a stream section: %v\n%s", err, stderr)
			}
			decodeAll(bm, out, 300)
			if !strings.Contains(out, `"session_id":`) || !strings.Contains(out, `"browse_history":[{"movie_id":`) || !strings.Contains(stderr, "browsed_items=browse_history") {
				t.Errorf("without a stream section:\n%.300s\n%s", out, stderr)
			}
		})
	}
}

// TestProduceDatasetErrors: a spec produce cannot follow fails before
// anything is published (the stream URL given is unreachable: reaching it
// would be a different error), naming the spec key.
func TestProduceDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	src := "sqlite://" + filepath.Join(dir, "shop.db")
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	const nowhere = "nats://127.0.0.1:1"
	run := func(spec string, args ...string) (string, error) {
		t.Helper()
		f := filepath.Join(dir, "case.yaml")
		if err := os.WriteFile(f, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := runCLI(t, append([]string{"produce", "--dataset", f, "--source", src, "--stream", nowhere, "--count", "10"}, args...)...)
		if out != "" {
			t.Errorf("output before the error: %s", out)
		}
		return stderr, err
	}

	// No database yet.
	if _, err := run(datasettest.ShopSpecYAML); err == nil || !strings.Contains(err.Error(), "--source") {
		t.Errorf("no source database: %v", err)
	}
	if out, stderr, err := runCLI(t, "seed", "--source", src, "--dataset", specFile, "--ratings", "500", "--seed", "2"); err != nil {
		t.Fatalf("seed: %v\n%s%s", err, out, stderr)
	}

	for _, tc := range []struct {
		name, spec, key string
		usage           bool
	}{
		{"two fields on one event field", strings.Replace(datasettest.ShopSpecYAML, "browsed_items: viewed", "browsed_items: user", 1), "stream.browsed_items", true},
		{"a feature users do not have", strings.Replace(datasettest.ShopSpecYAML, "    age: age\n", "    age: age\n    income: income\n", 1), "stream.user_features.income", true},
		{"a column the source lacks", strings.Replace(datasettest.ShopSpecYAML, "- column: age", "- column: years\n      name: age", 1), "years", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr, err := run(tc.spec)
			var ee *cli.ExitError
			if err == nil || !strings.Contains(err.Error(), tc.key) || errors.As(err, &ee) && ee.Code == cli.ExitUsage != tc.usage {
				t.Errorf("error %v (usage error wanted: %t), want one naming %s\n%s", err, tc.usage, tc.key, stderr)
			}
			if strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(stderr, "producing") {
				t.Errorf("the stream was reached: %v\n%s", err, stderr)
			}
		})
	}

	// A mapped numeric feature no user has a value the stream accepts of
	// (a negative number): nobody the events can carry.
	db, err := connect.Source(context.Background(), src, connect.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL.Exec("UPDATE " + db.Quote(datasettest.Users) + " SET age = -1"); err != nil {
		t.Fatal(err)
	}
	stderr, err := run(datasettest.ShopSpecYAML)
	if err == nil || !strings.Contains(err.Error(), "stream.user_features.age") || strings.Contains(stderr, "producing") {
		t.Errorf("every age negative: %v, want an error naming stream.user_features.age\n%s", err, stderr)
	}
	// Not mapping age lets the same shop produce.
	noAge := strings.Replace(datasettest.ShopSpecYAML, "    age: age\n", "", 1)
	f := filepath.Join(dir, "noage.yaml")
	if err := os.WriteFile(f, []byte(noAge), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "produce", "--dataset", f, "--source", src, "--dry-run", "--count", "5", "--rate", "0")
	if err != nil || strings.Count(out, `"age"`) != 0 || strings.Count(out, `"country"`) != 5 {
		t.Errorf("without age mapped: %v\n%s%s", err, out, stderr)
	}
}

// readSpecEvents reads n events from the stream at url through m: each
// decodes, is keyed by its session, and names the shop's movies.
func readSpecEvents(t *testing.T, url string, m *event.Mapping, n int, users, items map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := connect.Stream(ctx, url, connect.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	known := 0
	for got := 0; got < n; {
		batch, ack, err := src.ReadBatch(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", got, n, err)
		}
		for _, msg := range batch {
			r, err := m.Decode(msg.Data)
			if err != nil {
				t.Fatalf("%s: %v", msg.Data, err)
			}
			if msg.Key != r.SessionID {
				t.Fatalf("message key %q is not the session %q", msg.Key, r.SessionID)
			}
			if users[r.UserID] {
				known++
			}
			for _, it := range r.Browsed {
				if !items[it.ItemID] {
					t.Fatalf("%s: movie %s is not in the shop", msg.Data, it.ItemID)
				}
			}
		}
		got += len(batch)
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if known == 0 {
		t.Error("no event by a user of the shop")
	}
}
