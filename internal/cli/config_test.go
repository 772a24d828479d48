package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/internal/cli"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "recoflow.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigUnknownKeys: a key no command reads is an error naming the file,
// the line and the nearest valid key, before the command does anything.
func TestConfigUnknownKeys(t *testing.T) {
	lake := filepath.Join(t.TempDir(), "lake")
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"misspelt key in a section", "log-level: warn\netl:\n  sorce: sqlite:///nowhere.db\n",
			[]string{"line 3", `unknown key "sorce" in section "etl"`, `did you mean "source"?`}},
		{"misspelt top-level key", "# settings\nlake: file:///tmp/x\nlog-levle: debug\n",
			[]string{"line 3", `unknown key "log-levle"`, `did you mean "log-level"?`}},
		{"misspelt section", "etll:\n  source: sqlite:///x.db\n",
			[]string{"line 1", `unknown section "etll"`, `did you mean "etl"?`}},
		{"flag of another command in a section", "etl:\n  rate: 10\n",
			[]string{"line 2", `unknown key "rate" in section "etl"`}},
		{"several problems: the first is named", "etl:\n  sorce: x\n  lak: y\n",
			[]string{"line 2", `"sorce"`, "and 1 more unknown keys"}},
		{"duplicate key", "etl:\n  source: a\n  source: b\n",
			[]string{"line 3", "already defined on line 2"}},
		{"not a mapping", "- etl\n", []string{"line 1", "want a mapping"}},
		{"nested too deep", "etl:\n  source:\n    url: x\n", []string{"line 2", "etl.source", "want a scalar"}},
		{"bad value", "etl:\n  uploaders: lots\n", []string{"line 2", `key "uploaders"`, "invalid syntax"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.yaml)
			_, _, err := runCLI(t, "etl", "--config", cfg, "--lake", "file://"+lake)
			if cli.ExitCode(err) != cli.ExitUsage {
				t.Fatalf("exit %d (%v), want %d", cli.ExitCode(err), err, cli.ExitUsage)
			}
			for _, w := range append([]string{"config file " + cfg}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, err := os.Stat(lake); err == nil {
				t.Error("the rejected run created the lake")
			}
		})
	}
}

// TestConfigKeysApply: valid keys apply, at the top level, in the command's
// section and in a parent command's section ("vectors" for vectors load).
func TestConfigKeysApply(t *testing.T) {
	dir := t.TempDir()
	items := filepath.Join(dir, "items.csv")
	if err := os.WriteFile(items, []byte("id,embedding\na,\"[1,0,0,0]\"\nb,\"[0,1,0,0]\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vecDir := filepath.Join(dir, "vectors")
	cfg := writeConfig(t, "log-level: warn\nvectors:\n  vectors: file://"+vecDir+"\n  version: from-config\n  dim: 4\n  items: "+items+"\nserve:\n  listen: 127.0.0.1:0\n")
	out, stderr, err := runCLI(t, "vectors", "load", "--config", cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "loaded model version from-config into file://"+vecDir) {
		t.Errorf("the config's section was not applied:\n%s", out)
	}
	if strings.Contains(stderr, "level=INFO") {
		t.Errorf("top-level log-level: warn was not applied:\n%s", stderr)
	}
}

// TestHelpShowsFlagTypes: a back-quoted word in a usage string becomes the
// flag's type name in --help; --cpu-profile's must read "string".
func TestHelpShowsFlagTypes(t *testing.T) {
	out, _, err := runCLI(t, "etl", "--help")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--cpu-profile") {
			line = l
		}
	}
	if !strings.Contains(line, "--cpu-profile string") {
		t.Errorf("--help shows %q, want --cpu-profile string", line)
	}
}
