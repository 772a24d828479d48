package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/internal/cli"
)

// sampleLake seeds the classicmodels sample into SQLite and runs the ETL into
// a file lake, returning the lake's URL.
func sampleLake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "sqlite://" + filepath.Join(dir, "shop.db")
	lakeURL := "file://" + filepath.Join(dir, "lake")
	if _, stderr, err := runCLI(t, "seed", "--source", src); err != nil {
		t.Fatalf("seed: %v\n%s", err, stderr)
	}
	if _, stderr, err := runCLI(t, "etl", "--source", src, "--lake", lakeURL); err != nil {
		t.Fatalf("etl: %v\n%s", err, stderr)
	}
	return lakeURL
}

func TestEvaluateOnTheSample(t *testing.T) {
	lakeURL := sampleLake(t)
	out := filepath.Join(t.TempDir(), "report.json")
	// The default --methods: every baseline and both models.
	methods := []string{"popularity", "item-knn", "als", "bpr", "ease", "content-only", "hybrid"}
	stdout, stderr, err := runCLI(t, "evaluate", "--lake", lakeURL, "--out", out)
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, stderr)
	}
	t.Logf("\n%s", stdout)

	// Both tables list every method with numbers in [0, 1].
	row := regexp.MustCompile(`(?m)^\s*(\S+)((?:\s+\d+\.\d+){6})\s+(\S+)\s+\d+\.\d+s\s+(\d+)\s*$`)
	predictsRatings := map[string]bool{"content-only": true, "hybrid": true}
	rows := row.FindAllStringSubmatch(stdout, -1)
	if len(rows) != 2*len(methods) {
		t.Fatalf("%d table rows, want %d:\n%s", len(rows), 2*len(methods), stdout)
	}
	for i, r := range rows {
		if want := methods[i%len(methods)]; r[1] != want {
			t.Errorf("row %d is %q, want %q", i, r[1], want)
		}
		for _, f := range strings.Fields(r[2]) {
			if v, err := strconv.ParseFloat(f, 64); err != nil || v < 0 || v > 1 {
				t.Errorf("row %s: %q is not a number in [0, 1]", r[1], f)
			}
		}
		if rmse, err := strconv.ParseFloat(r[3], 64); predictsRatings[r[1]] != (err == nil) || err == nil && (rmse <= 0 || rmse > 4) {
			t.Errorf("row %s: RMSE %q", r[1], r[3])
		}
		if r[4] == "0" {
			t.Errorf("row %s: no users ranked", r[1])
		}
	}
	for _, want := range []string{"held-out ratings", "cold start", "k=10", "random 80/20 per user, seed 1", "report: " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.Contains(stderr, "msg=evaluate") || !strings.Contains(stderr, "item-knn: fitted") {
		t.Errorf("no progress lines on stderr:\n%s", stderr)
	}

	// The report file and the lake's copy hold the same report.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.K != 10 || len(rep.Methods) != 7 || len(rep.ColdStart) != 7 || rep.Users != 122 || rep.Items != 110 || rep.Protocol == "" || len(rep.Notes) != 0 {
		t.Errorf("report = %+v, want 7 methods over the catalogue's 122 customers and 110 products, no notes", rep)
	}
	// The hybrid model beats popularity on the sample, and serves cold-start
	// customers at least as well as popularity does.
	res := map[string]eval.Result{}
	for _, r := range rep.Methods {
		res[r.Method] = r
	}
	cold := map[string]eval.Result{}
	for _, r := range rep.ColdStart {
		cold[r.Method] = r
	}
	if res["hybrid"].NDCGAtK <= res["popularity"].NDCGAtK || cold["hybrid"].NDCGAtK < cold["popularity"].NDCGAtK {
		t.Errorf("hybrid NDCG@10 %.4f (cold start %.4f) vs popularity %.4f (%.4f)", res["hybrid"].NDCGAtK, cold["hybrid"].NDCGAtK,
			res["popularity"].NDCGAtK, cold["popularity"].NDCGAtK)
	}
	lakeDir := strings.TrimPrefix(lakeURL, "file://")
	copies, _ := filepath.Glob(filepath.Join(lakeDir, "ml-artifacts", "evaluations", "*.json"))
	if len(copies) != 1 {
		t.Fatalf("lake evaluations = %v, want one report", copies)
	}
	if lakeCopy, err := os.ReadFile(copies[0]); err != nil || string(lakeCopy) != string(data) {
		t.Errorf("the lake's report differs from --out (%v)", err)
	}

	// The ETL's ratings carry no time: a split by time is refused clearly.
	_, _, err = runCLI(t, "evaluate", "--lake", lakeURL, "--methods", "popularity", "--split", "time", "--out", out)
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "no rating times") {
		t.Errorf("--split time: exit %d, %v", cli.ExitCode(err), err)
	}
	if again, _ := os.ReadFile(out); string(again) != string(data) {
		t.Error("a refused run changed the --out report")
	}

	// Above --ease-max-items, ease is skipped with a note, and the run
	// goes on.
	stdout, stderr, err = runCLI(t, "evaluate", "--lake", lakeURL, "--methods", "popularity,ease", "--ease-max-items", "100", "--out", out)
	if err != nil {
		t.Fatalf("evaluate --ease-max-items 100: %v\n%s", err, stderr)
	}
	rows = row.FindAllStringSubmatch(stdout, -1)
	if len(rows) != 2 || rows[0][1] != "popularity" || !strings.Contains(stdout, "notes:\n  ease: skipped: 110 items, above EASE's bound of 100") {
		t.Errorf("--ease-max-items 100 on 110 products: want popularity's rows and a note on ease:\n%s", stdout)
	}
	data, _ = os.ReadFile(out)
	rep = eval.Report{}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Methods) != 1 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "ease") {
		t.Errorf("report with ease skipped: methods %v, notes %q (%v)", rep.Methods, rep.Notes, err)
	}
}

func TestEvaluateRejectsBadFlags(t *testing.T) {
	lakeURL := "file://" + t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--k", "0"}, "--k 0"},
		{[]string{"--test-fraction", "1"}, "--test-fraction 1"},
		{[]string{"--split", "yesterday"}, `--split "yesterday"`},
		{[]string{"--methods", "popularity,magic"}, `unknown method "magic"`},
		{[]string{"--ease-max-items", "0"}, "--ease-max-items 0"},
	} {
		_, _, err := runCLI(t, append([]string{"evaluate", "--lake", lakeURL}, tt.args...)...)
		if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: exit %d, %v; want usage error with %q", tt.args, cli.ExitCode(err), err, tt.want)
		}
	}
}
