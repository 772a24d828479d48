package cli_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/testenv"
)

// TestBenchVectorsTiny runs bench vectors on a small data set, with a
// pgvector server beside the embedded store when RECOFLOW_TEST_PGVECTOR
// names one, and checks that every figure is reported.
func TestBenchVectorsTiny(t *testing.T) {
	pg := os.Getenv(testenv.PgvectorVar)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"bench", "vectors", "--items", "3000", "--queries", "50", "--clusters", "100",
		"--duration", "100ms", "--rounds", "2", "--dir", t.TempDir(), "--log-level", "warn"}
	if pg != "" {
		args = append(args, "--pgvector", pg)
	}
	var out, errb bytes.Buffer
	err := cli.Run(ctx, args, cli.Options{Stdout: &out, Stderr: &errb, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	report := out.String()
	t.Log("\n" + report)
	systems := 1
	if pg != "" {
		systems = 2
	}
	figures := func(metric, unit string) []float64 {
		t.Helper()
		cell := `\s+(\d+(?:\.\d+)?)` + unit + `(?: \([^)]*\))?`
		re := `(?m)^  ` + regexp.QuoteMeta(metric) + `\s*`
		for range systems {
			re += cell
		}
		re += `$`
		m := regexp.MustCompile(re).FindStringSubmatch(report)
		if m == nil {
			t.Fatalf("no line matching %q in:\n%s", re, report)
		}
		var out []float64
		for _, s := range m[1:] {
			v, _ := strconv.ParseFloat(s, 64)
			out = append(out, v)
		}
		return out
	}
	for i, r := range figures("recall@10", "") {
		if r < 0.9 || r > 1 {
			t.Errorf("system %d: recall@10 %v", i+1, r)
		}
	}
	for _, metric := range []string{"in-process QPS, c = 1", "in-process QPS, c = 2", "load + index build, wall s",
		"HTTP QPS, c = 1", "HTTP QPS, c = 2", "HTTP / in-process QPS, c = 1", "HTTP / in-process QPS, c = 2"} {
		for i, v := range figures(metric, "") {
			if v <= 0 {
				t.Errorf("system %d: %s %v", i+1, metric, v)
			}
		}
	}
	// Throughput is measured as serve runs: its collector setting, said.
	if !strings.Contains(report, "GOGC 25 (serve's)") {
		t.Errorf("the report does not say the collector's setting (serve's GOGC 25):\n%s", report)
	}
	// The HTTP floor: one figure each, whatever the systems.
	for _, metric := range []string{"HTTP floor QPS, c = 1", "HTTP floor QPS, c = 2", "HTTP floor CPU-µs/request, c = 1", "HTTP floor CPU-µs/request, c = 2"} {
		m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(metric) + `\s+(\d+)(?:\s+\([^)]*\))?$`).FindStringSubmatch(report)
		if m == nil {
			t.Errorf("no %q line in:\n%s", metric, report)
		} else if v, _ := strconv.Atoi(m[1]); v <= 0 {
			t.Errorf("%s %d", metric, v)
		}
	}
	for i, v := range figures("on disk", " MiB") {
		if v <= 0 {
			t.Errorf("system %d: %v MiB on disk", i+1, v)
		}
	}
	figures("load + index build, CPU-s", "") // may round to 0 at this size
	if !regexp.MustCompile(`(?m)^  embedded  embedded file store, exact scan \(fewer than \d+ items\)$`).MatchString(report) {
		t.Errorf("the embedded store is not described:\n%s", report)
	}
	if pg != "" {
		pglite := regexp.MustCompile(`(?m)^  pgvector  pgvector \S+ on .*PGlite.*$`).FindString(report)
		if pglite != "" && !regexp.MustCompile(`a floor for pgvector, not its speed`).MatchString(pglite) {
			t.Errorf("a PGlite server is not labelled as such: %s", pglite)
		}
		if !regexp.MustCompile(`(?m)^  ratio embedded / pgvector QPS, c = 1: \d+\.\d\d$`).MatchString(report) {
			t.Errorf("no ratio line:\n%s", report)
		}
		// The adapter against plain SQL: both kinds of search, positive
		// figures, the same answers.
		for _, kind := range []string{"user → items", "item → items"} {
			m := regexp.MustCompile(`(?m)^    ` + kind + `((?:\s+\d+(?:\.\d+)?){8}) (\d+)/(\d+)$`).FindStringSubmatch(report)
			if m == nil {
				t.Errorf("no adapter-against-plain-SQL line for %s:\n%s", kind, report)
				continue
			}
			for _, f := range strings.Fields(m[1]) {
				if v, _ := strconv.ParseFloat(f, 64); v <= 0 && f != "0.0" {
					t.Errorf("%s: figure %s in %q", kind, f, m[0])
				}
			}
			if m[2] != m[3] {
				t.Errorf("%s: the adapter and plain SQL agree on only %s of %s searches", kind, m[2], m[3])
			}
		}
	}
}

func TestBenchVectorsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--items", "10"},
		{"--queries", "0"},
		{"--sigma", "0"},
		{"--rounds", "0"},
		{"--dim", "1"},
	} {
		var errb bytes.Buffer
		err := cli.Run(context.Background(), append([]string{"bench", "vectors"}, args...), cli.Options{Stderr: &errb})
		if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%v: exit code %d (%v), want %d", args, cli.ExitCode(err), err, cli.ExitUsage)
		}
	}
}
