package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func marshal(t *testing.T, s *dataset.Spec) string {
	t.Helper()
	b, err := dataset.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// indent indents every non-empty line of s by n spaces.
func indent(s string, n int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = strings.Repeat(" ", n) + l
		}
	}
	return strings.Join(lines, "\n")
}

// TestDatasetSpecSources: a file wins; without one the config file's
// dataset key (a path relative to the config file, or the spec inline);
// without that the built-in spec.
func TestDatasetSpecSources(t *testing.T) {
	dir := t.TempDir()
	shopFile := writeFile(t, dir, "shop.yaml", datasettest.ShopSpecYAML)
	want, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	classic := dataset.Classic()

	// No config, no file: the built-in spec.
	a := &app{}
	s, from, err := a.resolveDataset(nil, "")
	if err != nil || marshal(t, s) != marshal(t, &classic) || !from.builtIn {
		t.Fatalf("no config: %v, from %v", err, from)
	}
	// A file.
	s, err = a.datasetSpec(nil, shopFile)
	if err != nil || marshal(t, s) != marshal(t, want) {
		t.Fatalf("file: %v", err)
	}

	// The config's dataset key as a path relative to the config file, from
	// another working directory.
	cfgDir := filepath.Join(dir, "conf")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfgDir, "movies.yaml", datasettest.ShopSpecYAML)
	t.Chdir(t.TempDir())
	a = &app{configFile: writeFile(t, cfgDir, "recoflow.yaml", "log-level: warn\ndataset: movies.yaml\nseed:\n  dataset: generated\n")}
	s, from, err = a.resolveDataset(nil, "")
	if err != nil || marshal(t, s) != marshal(t, want) {
		t.Fatalf("config path: %v", err)
	}
	if from.config != a.configFile || from.line != 2 || !strings.Contains(from.String(), "line 2") {
		t.Errorf("from = %+v (%s)", from, from)
	}
	// A file given on the command line wins over the config.
	if s, err = a.datasetSpec(nil, filepath.Join(dir, "..", filepath.Base(dir), "shop.yaml")); err != nil || s.Name != "movie-shop" {
		t.Fatalf("file over config: %v", err)
	}
	c := dataset.Classic()
	classicFile := writeFile(t, dir, "classic.yaml", string(dataset.ClassicYAML()))
	if s, err = a.datasetSpec(nil, classicFile); err != nil || marshal(t, s) != marshal(t, &c) {
		t.Fatalf("classic file over config: %v", err)
	}

	// Inline, block style, between other keys.
	a = &app{configFile: writeFile(t, dir, "inline.yaml", "log-level: warn\ndataset:\n"+indent(datasettest.ShopSpecYAML, 2)+"\netl:\n  uploaders: 2\n")}
	s, from, err = a.resolveDataset(nil, "")
	if err != nil || marshal(t, s) != marshal(t, want) || from.line != 2 {
		t.Fatalf("inline: %v (from %+v)", err, from)
	}
	// Inline, flow style, last in the file.
	a = &app{configFile: writeFile(t, dir, "flow.yaml", "log-level: warn\ndataset: {version: 1, interactions: {table: r, user_key: u, item_key: i, feedback: {kind: count}}, "+
		"users: {table: us, id: u, id_type: string}, items: {table: it, id: i, id_type: integer}}\n")}
	if s, err = a.datasetSpec(nil, ""); err != nil || s.Interactions.Table != "r" || s.Items.IDType != "integer" {
		t.Fatalf("flow inline: %v", err)
	}
}

// TestDatasetSpecErrors: every mistake names the file, the line and the
// key, and is a usage error.
func TestDatasetSpecErrors(t *testing.T) {
	dir := t.TempDir()
	bad := strings.Replace(datasettest.ShopSpecYAML, "      delimiter: ", "      delimitr: ", 1)
	bad = strings.Replace(bad, "  item_key: movie_id", "  itemkey: movie_id", 1)
	badLine := func(text, find string) int {
		return strings.Count(text[:strings.Index(text, find)], "\n") + 1
	}
	tests := []struct {
		name, config, file string
		want               []string
	}{
		{"spec file on the command line", "", writeFile(t, dir, "bad.yaml", bad),
			[]string{"bad.yaml:", "interactions.itemkey: unknown key", `did you mean "item_key"?`}},
		{"missing spec file on the command line", "", filepath.Join(dir, "nowhere.yaml"),
			[]string{"--dataset", "nowhere.yaml"}},
		{"config: a spec file with mistakes", "# my shop\ndataset: bad.yaml\n", "",
			[]string{"line 2, key dataset", "bad.yaml:", "items.features[0].delimitr: unknown key", `did you mean "delimiter"?`}},
		{"config: a missing spec file", "log-level: warn\n\ndataset: none.yaml\n", "",
			[]string{"line 3, key dataset", "none.yaml"}},
		{"config: inline with mistakes", "log-level: warn\ndataset:\n" + indent(bad, 2) + "\n", "",
			[]string{"2 problems in the dataset spec",
				"line " + strconv.Itoa(2+badLine(bad, "itemkey")) + ", key dataset.interactions.itemkey: unknown key",
				"line " + strconv.Itoa(2+badLine(bad, "delimitr")) + ", key dataset.items.features[0].delimitr: unknown key"}},
		{"config: inline, one mistake", "dataset:\n  version: 2\n  interactions: {table: r, user_key: u, item_key: i, feedback: {kind: count}}\n" +
			"  users: {table: us, id: u, id_type: string}\n  items: {table: it, id: i, id_type: integer}\n", "",
			[]string{"line 2, key dataset.version:"}},
		{"config: a list", "dataset:\n  - shop.yaml\n", "",
			[]string{"line 1, key dataset", "want the path of a dataset spec file, or the spec itself as a mapping"}},
		{"config: empty", "dataset:\n", "", []string{"line 1, key dataset: empty"}},
		{"config: twice", "dataset: a.yaml\nlog-level: warn\ndataset: b.yaml\n", "", []string{"line 3", "already defined on line 1"}},
	}
	writeFile(t, dir, "bad.yaml", bad)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{}
			if tt.config != "" {
				a.configFile = writeFile(t, dir, "recoflow.yaml", tt.config)
				tt.want = append(tt.want, "config file "+a.configFile)
			}
			_, err := a.datasetSpec(nil, tt.file)
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != ExitUsage {
				t.Fatalf("error %v, want a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
