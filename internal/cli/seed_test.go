package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source/sqlite"
)

// runCLI runs recoflow in-process with an empty environment.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cli.Run(context.Background(), args, cli.Options{
		Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
	})
	return out.String(), errb.String(), err
}

// runSteps runs each command line in turn, in-process (runCLI), and stops
// the test at the first that fails, with its output.
func runSteps(t *testing.T, steps [][]string) {
	t.Helper()
	for _, args := range steps {
		if out, stderr, err := runCLI(t, args...); err != nil {
			t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
	}
}

// countLine finds "  <table>  <n>" in a seed summary.
func countLine(t *testing.T, out, table string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + table + ` +([\d,]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("summary has no line for %s:\n%s", table, out)
	}
	return m[1]
}

func TestSeedCommand(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			out, stderr, err := runCLI(t, "seed", "--source", url)
			if err != nil {
				t.Fatalf("seed: %v\n%s", err, stderr)
			}
			for table, want := range map[string]string{"customers": "122", "products": "110", "orders": "326",
				"orderdetails": "2,996", "ratings": "2,532", "total": "6,396"} {
				if got := countLine(t, out, table); got != want {
					t.Errorf("summary says %s %s, want %s", table, got, want)
				}
			}
			if !strings.Contains(out, "classicmodels sample") || !strings.Contains(out, "next: recoflow etl --source "+url) {
				t.Errorf("summary:\n%s", out)
			}
			if !strings.Contains(stderr, "msg=seeding") || !strings.Contains(stderr, "msg=seeded") {
				t.Errorf("log on stderr:\n%s", stderr)
			}

			// A second seed is refused, names what is there, and exits 1.
			_, _, err = runCLI(t, "seed", "--source", url, "--ratings", "2000")
			if cli.ExitCode(err) != cli.ExitFailure || err == nil ||
				!strings.Contains(err.Error(), "customers (122 rows)") || !strings.Contains(err.Error(), "--replace") {
				t.Fatalf("second seed: exit %d, %v", cli.ExitCode(err), err)
			}

			// --replace with a size generates (the dataset follows the sizes).
			out, stderr, err = runCLI(t, "seed", "--source", url, "--ratings", "3000", "--seed", "9", "--replace", "--progress-interval", "1ns")
			if err != nil {
				t.Fatalf("seed --replace: %v\n%s", err, stderr)
			}
			if countLine(t, out, "ratings") != "3,000" || countLine(t, out, "customers") != "50" ||
				countLine(t, out, "orders") != "0" || !strings.Contains(out, "generated dataset (seed 9)") {
				t.Errorf("summary after --replace:\n%s", out)
			}
			if !strings.Contains(stderr, "msg=progress") || !strings.Contains(stderr, "total=3") {
				t.Errorf("no progress lines on stderr with --progress-interval 1ns:\n%s", stderr)
			}
		})
	}
}

func TestSeedDefaultSource(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, stderr, err := runCLI(t, "seed"); err != nil {
		t.Fatalf("seed: %v\n%s", err, stderr)
	}
	path := filepath.Join(dir, "recoflow-data", "shop.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("default source not created: %v", err)
	}
	db, err := sqlite.Open(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.CountRows(context.Background(), "ratings"); err != nil || n != 2532 {
		t.Errorf("default source has %d ratings (%v), want 2532", n, err)
	}
}

func TestSeedUsageErrors(t *testing.T) {
	src := "sqlite://" + filepath.Join(t.TempDir(), "shop.db")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", "northwind"}, "--dataset"},
		{[]string{"--ratings", "-5"}, "--ratings"},
		{[]string{"--customers", "-1", "--dataset", "generated"}, "--customers"},
		{[]string{"--customers", "2", "--products", "2", "--ratings", "5"}, "--ratings 5 is more than customers × products"},
		{[]string{"--dataset", "classicmodels", "--ratings", "10"}, "apply only to --dataset generated"},
		{[]string{"--seed", "3"}, "apply only to --dataset generated"},
		{[]string{"--dataset", "classicmodels", "--latent-weight", "1"}, "apply only to --dataset generated"},
		{[]string{"--selection-bias", "-1"}, "--selection-bias -1 is outside 0..5"},
		{[]string{"--dataset", "generated", "--popularity-skew", "9"}, "--popularity-skew 9 is outside 0..3"},
		{[]string{"--ratings", "many"}, "invalid argument"},
		{[]string{"--progress-interval", "0s"}, "--progress-interval"},
		{[]string{"extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"seed", "--source", src}, tt.args...)...)
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("exit %d, error %v; want exit %d and %q", cli.ExitCode(err), err, cli.ExitUsage, tt.want)
			}
		})
	}
	if _, err := os.Stat(strings.TrimPrefix(src, "sqlite://")); err == nil {
		t.Error("a usage error still created the source file")
	}
}

func TestSeedNeverShowsThePassword(t *testing.T) {
	const secret = "Top-Secret-9"
	out, stderr, err := runCLI(t, "seed", "--source", "mysql://root:"+secret+"@127.0.0.1:1/shop")
	if err == nil {
		t.Fatal("seeding a closed port succeeded")
	}
	for name, s := range map[string]string{"error": err.Error(), "stdout": out, "stderr": stderr} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the password: %s", name, s)
		}
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not name the address: %v", err)
	}
}

func TestSeedHelp(t *testing.T) {
	out, _, err := runCLI(t, "seed", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"recoflow seed --source sqlite://", "recoflow seed --source mysql://", "--dataset", "--replace", "--ratings", "--seed"} {
		if !strings.Contains(out, w) {
			t.Errorf("seed --help does not mention %q", w)
		}
	}
}

// TestSeedSpec: seed generates data for a dataset spec given as --dataset
// FILE or by the config file's dataset key, on every backend; the spec
// checks against the result; a second seed is refused naming the tables.
func TestSeedSpec(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			out, stderr, err := runCLI(t, "seed", "--source", url, "--dataset", specFile, "--ratings", "2000", "--seed", "3", "--progress-interval", "1ns")
			if err != nil {
				t.Fatalf("seed --dataset %s: %v\n%s", specFile, err, stderr)
			}
			for table, want := range map[string]string{"shop users": "50", "movies": "110", "order": "2,000", "total": "2,160"} {
				if got := countLine(t, out, table); got != want {
					t.Errorf("summary says %s %s, want %s:\n%s", table, got, want, out)
				}
			}
			if !strings.Contains(out, "generated dataset for the spec movie-shop (seed 3)") ||
				!strings.Contains(out, "next: recoflow etl --source "+url+" --dataset "+specFile) {
				t.Errorf("summary:\n%s", out)
			}
			if !strings.Contains(stderr, "spec=movie-shop") || !strings.Contains(stderr, "msg=progress") {
				t.Errorf("log:\n%s", stderr)
			}
			if out, stderr, err := runCLI(t, "spec", "check", "--dataset", specFile, "--source", url); err != nil {
				t.Fatalf("spec check on the seeded source: %v\n%s%s", err, out, stderr)
			}

			// Again, from the config file's dataset key: refused, naming the tables.
			cfg := filepath.Join(dir, b.Name+".yaml")
			if err := os.WriteFile(cfg, []byte("dataset: shop.yaml\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = runCLI(t, "seed", "--config", cfg, "--source", url, "--seed", "3")
			if cli.ExitCode(err) != cli.ExitFailure || err == nil || !strings.Contains(err.Error(), "shop users (50 rows)") ||
				!strings.Contains(err.Error(), "movies (110 rows)") || !strings.Contains(err.Error(), "order (2000 rows)") ||
				!strings.Contains(err.Error(), "--replace") {
				t.Fatalf("second seed: exit %d, %v", cli.ExitCode(err), err)
			}
			out, stderr, err = runCLI(t, "seed", "--config", cfg, "--source", url, "--seed", "4", "--replace", "--customers", "70")
			if err != nil {
				t.Fatalf("seed --config (dataset key) --replace: %v\n%s", err, stderr)
			}
			if countLine(t, out, "shop users") != "70" || !strings.Contains(out, "spec movie-shop (seed 4)") ||
				strings.Contains(out, "--dataset") {
				t.Errorf("summary:\n%s", out)
			}
			// spec check without --dataset checks the config's spec.
			out, stderr, err = runCLI(t, "spec", "check", "--config", cfg, "--source", url)
			if err != nil || !strings.Contains(out, "(the config file's dataset key) (movie-shop) fits") {
				t.Errorf("spec check --config: %v\n%s%s", err, out, stderr)
			}
		})
	}
}

// TestSeedSpecUsageErrors: what seed refuses about a spec, before it
// touches the source.
func TestSeedSpecUsageErrors(t *testing.T) {
	dir := t.TempDir()
	src := "sqlite://" + filepath.Join(dir, "shop.db")
	specFile := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(specFile, []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "recoflow.yaml")
	if err := os.WriteFile(cfg, []byte("log-level: warn\ndataset: shop.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgClassic := filepath.Join(dir, "classic-section.yaml")
	if err := os.WriteFile(cfgClassic, []byte("dataset: shop.yaml\nseed:\n  dataset: classicmodels\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inline := filepath.Join(dir, "inline.yaml")
	bad := "dataset:\n" + "  version: 1\n  interactions: {table: r, user_key: u, item_key: i, feedback: {kind: count}}\n" +
		"  users: {table: us, id: u, id_type: strng}\n  items: {table: it, id: i, id_type: integer}\n"
	if err := os.WriteFile(inline, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	query := filepath.Join(dir, "query.yaml")
	q := strings.Replace(datasettest.ShopSpecYAML, "  table: order ", "  query: SELECT * FROM x ", 1)
	if err := os.WriteFile(query, []byte(q), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--dataset", "generatd"}, []string{`--dataset "generatd"`, "classicmodels, generated or a dataset spec file"}},
		{[]string{"--dataset", filepath.Join(dir, "none.yaml")}, []string{"--dataset", "none.yaml"}},
		{[]string{"--config", cfg, "--dataset", "classicmodels"}, []string{"--dataset classicmodels", "movie-shop",
			"config file " + cfg + " (line 2)", "use --dataset generated"}},
		{[]string{"--config", cfgClassic}, []string{"--dataset classicmodels", "config file " + cfgClassic + " (line 1)"}},
		{[]string{"--config", inline}, []string{"config file " + inline + ", line 4, key dataset.users.id_type", `did you mean "string"?`}},
		{[]string{"--dataset", query}, []string{"interactions.query", "seed generates tables"}},
		{[]string{"--dataset", specFile, "--ratings", "5", "--customers", "1", "--products", "1"}, []string{"--ratings 5 is more than"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"seed", "--source", src}, tt.args...)...)
			if cli.ExitCode(err) != cli.ExitUsage {
				t.Fatalf("exit %d, error %v; want exit %d", cli.ExitCode(err), err, cli.ExitUsage)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := os.Stat(strings.TrimPrefix(src, "sqlite://")); err == nil {
		t.Error("a usage error still created the source file")
	}
}

// TestConfigDatasetKey: the top-level dataset key is the spec, not the
// value of seed's --dataset flag; a seed section's dataset key still is.
func TestConfigDatasetKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(datasettest.ShopSpecYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	// An inline spec is no "unknown section"; seed: {dataset: generated}
	// with the classicmodels spec generates the lab's tables.
	cfg := filepath.Join(dir, "recoflow.yaml")
	classic := "dataset:\n" + indentLines(string(dataset.ClassicYAML()), "  ") + "seed:\n  dataset: generated\n  ratings: 1000\n"
	if err := os.WriteFile(cfg, []byte(classic), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "sqlite://" + filepath.Join(dir, "lab.db")
	out, stderr, err := runCLI(t, "seed", "--config", cfg, "--source", url)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "a generated dataset (seed 0)") || countLine(t, out, "ratings") != "1,000" || countLine(t, out, "customers") != "50" {
		t.Errorf("summary:\n%s", out)
	}
}

func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(l)
	}
	return b.String()
}
