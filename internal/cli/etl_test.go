package cli_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/seed/seedtest"
	_ "modernc.org/sqlite"
)

// TestETLCommand runs etl, etl runs and etl rollback as a user would, on
// the embedded sample.
func TestETLCommand(t *testing.T) {
	dir := t.TempDir()
	src := "sqlite://" + filepath.Join(dir, "shop.db")
	lakeURL := "file://" + filepath.Join(dir, "lake")
	if _, stderr, err := runCLI(t, "seed", "--source", src); err != nil {
		t.Fatalf("seed: %v\n%s", err, stderr)
	}
	out, stderr, err := runCLI(t, "etl", "--source", src, "--lake", lakeURL, "--keep-runs", "2")
	if err != nil {
		t.Fatalf("etl: %v\n%s", err, stderr)
	}
	for _, want := range []string{"rows        2,532 (", "partitions  98\n", "catalogue   122 customers, 110 products\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("etl summary lacks %q:\n%s", want, out)
		}
	}
	first := regexp.MustCompile(`etl committed run (\S+)`).FindStringSubmatch(out)[1]

	// An empty ratings table is refused, then allowed.
	db, err := sql.Open("sqlite", filepath.Join(dir, "shop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM ratings"); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "etl", "--source", src, "--lake", lakeURL)
	if err == nil || !strings.Contains(err.Error(), "--allow-empty") || !strings.Contains(err.Error(), "2,532 rows") {
		t.Fatalf("etl from an empty table: %v, want a refusal naming --allow-empty", err)
	}
	out, stderr, err = runCLI(t, "etl", "--source", src, "--lake", lakeURL, "--allow-empty", "--keep-runs", "2")
	if err != nil {
		t.Fatalf("etl --allow-empty: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "rows        0 (") {
		t.Errorf("etl --allow-empty summary:\n%s", out)
	}
	second := regexp.MustCompile(`etl committed run (\S+)`).FindStringSubmatch(out)[1]

	out, _, err = runCLI(t, "etl", "runs", "--lake", lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\* `+second+` .* etl +0 +0 `).MatchString(out) || !regexp.MustCompile(`(?m)^  `+first+` .* etl +2,532 +98 `).MatchString(out) {
		t.Fatalf("etl runs:\n%s", out)
	}
	out, stderr, err = runCLI(t, "etl", "rollback", "--lake", lakeURL)
	if err != nil {
		t.Fatalf("etl rollback: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "committed run "+first+" again") || !strings.Contains(out, "rows        2,532\n") || !strings.Contains(out, "replaced    "+second) {
		t.Fatalf("etl rollback:\n%s", out)
	}
	out, _, _ = runCLI(t, "etl", "runs", "--lake", lakeURL)
	if !regexp.MustCompile(`(?m)^\* ` + first + ` .* rollback +2,532 `).MatchString(out) {
		t.Fatalf("etl runs after rollback:\n%s", out)
	}
	if _, _, err := runCLI(t, "etl", "--source", src, "--lake", lakeURL, "--max-shrink", "0"); err == nil || !strings.Contains(err.Error(), "--max-shrink") {
		t.Errorf("--max-shrink 0: %v, want a usage error", err)
	}
	if _, _, err := runCLI(t, "etl", "--source", src, "--lake", lakeURL, "--gc-wait", "0s"); err == nil || !strings.Contains(err.Error(), "--gc-wait") {
		t.Errorf("--gc-wait 0s: %v, want a usage error", err)
	}
}

// TestETLBeforeSeed: etl on a source that was never seeded says to run
// seed, and leaves no lake directory behind.
func TestETLBeforeSeed(t *testing.T) {
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	for name, src := range map[string]string{
		"missing file":   "sqlite://" + filepath.Join(dir, "nothing.db"),
		"empty database": "sqlite://" + filepath.Join(dir, "empty.db"),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "empty database" {
				db, err := sql.Open("sqlite", filepath.Join(dir, "empty.db"))
				if err != nil {
					t.Fatal(err)
				}
				db.Exec("CREATE TABLE unrelated (x INTEGER)")
				db.Close()
			}
			_, _, err := runCLI(t, "etl", "--source", src, "--lake", "file://"+lakeDir)
			if err == nil || !strings.Contains(err.Error(), "run `recoflow seed`") {
				t.Fatalf("error %v, want it to say run `recoflow seed`", err)
			}
			if _, err := os.Stat(lakeDir); !os.IsNotExist(err) {
				t.Errorf("a failed etl created the lake directory %s", lakeDir)
			}
		})
	}
}

// TestETLDataset runs etl --dataset on the movie shop (a schema unlike the
// lab's) as a user would, and a spec that does not fit the source, which
// fails naming the key before the lake is created.
func TestETLDataset(t *testing.T) {
	dir := t.TempDir()
	src := datasettest.ShopURL(t, seedtest.Backends[0])
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	out, stderr, err := runCLI(t, "etl", "--dataset", specFile, "--source", src, "--lake", "file://"+lakeDir)
	if err != nil {
		t.Fatalf("etl --dataset: %v\n%s", err, stderr)
	}
	for _, want := range []string{"rows        4 (", "partitions  3\n", "rejected    0\n", "movie_orders/_manifest.json\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("etl summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "catalogue") {
		t.Errorf("etl summary of a spec run mentions a catalogue:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(lakeDir, "movie_orders", "user_id=3f2a-ana")); err != nil {
		t.Errorf("no partition of user 3f2a-ana: %v", err)
	}

	bad := strings.Replace(datasettest.ShopSpecYAML, "column: quantity", "column: qty", 1)
	if err := os.WriteFile(specFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	otherLake := filepath.Join(dir, "lake2")
	_, _, err = runCLI(t, "etl", "--dataset", specFile, "--source", src, "--lake", "file://"+otherLake)
	if err == nil || !strings.Contains(err.Error(), "interactions.feedback.column") || !strings.Contains(err.Error(), `"qty"`) {
		t.Fatalf("etl with a spec naming a missing column: %v, want an error naming interactions.feedback.column", err)
	}
	if _, err := os.Stat(otherLake); !os.IsNotExist(err) {
		t.Errorf("a spec that does not fit the source created the lake directory %s", otherLake)
	}
}
