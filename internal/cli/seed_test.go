package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
