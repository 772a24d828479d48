package dataset_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
)

// lineOf returns the 1-based line of the first line of text containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the spec", s)
	return 0
}

func TestParseShopSpec(t *testing.T) {
	s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Interactions.Table != "order" || s.Users.Table != "shop users" || s.Users.IDType != "string" || s.Items.IDType != "integer" {
		t.Errorf("parsed %+v", s)
	}
	g := s.Items.Features[0]
	if g.Kind != dataset.KindMultiCategorical || g.Delimiter != "|" || g.MaxCategories != 30 || g.Overflow != "hash" {
		t.Errorf("genres feature = %+v", g)
	}
	// Defaults are filled.
	if f := s.Users.Features[0]; f.Overflow != dataset.OverflowOther {
		t.Errorf("country overflow = %q, want the default %q", f.Overflow, dataset.OverflowOther)
	}
	if f := s.Users.Features[1]; f.Scaling != dataset.ScalingStandard {
		t.Errorf("age scaling = %q, want the default standard", f.Scaling)
	}
	if s.Stream.InCart != "" || s.Stream.Quantity != "copies" {
		t.Errorf("stream = %+v", s.Stream)
	}
}

// A spec with each kind of mistake is rejected before any work, with the
// file, the line and the key path, and the nearest valid word for typos.
func TestParseRejectsMistakes(t *testing.T) {
	shop := datasettest.ShopSpecYAML
	tests := []struct {
		name     string
		old, new string // a replacement in the shop spec
		lineAt   string // text on the line the error must name ("" = the new text)
		want     []string
	}{
		{"unknown top-level key", "interactions:\n", "interaction:\n", "", []string{
			`shop.yaml:4: interaction: unknown key; did you mean "interactions"? (valid here: version, name, interactions, users, items, lake, stream)`}},
		{"unknown nested key", `delimiter: "|"`, `delimeter: "|"`, "", []string{
			`items.features[0].delimeter: unknown key; did you mean "delimiter"?`}},
		{"unknown feature kind", "kind: multi_categorical", "kind: categoricl", "", []string{
			`items.features[0].kind: unknown kind "categoricl"; did you mean "categorical"?`}},
		{"unknown feedback kind", "kind: quantity ", "kind: quantiy ", "", []string{
			`interactions.feedback.kind: unknown feedback kind "quantiy"; did you mean "quantity"?`}},
		{"unknown id type", "id_type: integer", "id_type: int", "", []string{
			`items.id_type: unknown id type "int"; did you mean "integer"?`}},
		{"unknown scaling", "scaling: log", "scaling: logarithmic", "", []string{
			`items.features[2].scaling: unknown scaling "logarithmic"`, `want "standard" or "log"`}},
		{"wrong value type", "max_categories: 30", "max_categories: thirty", "", []string{
			"cannot unmarshal", "thirty"}},
		{"a mapping where a list goes",
			"    - column: country\n      kind: categorical\n      max_categories: 50     # the 50 most frequent countries; the rest become \"other\"\n    - column: age\n      kind: numeric\n",
			"    country: categorical\n    age: numeric\n", "features:", []string{`users.features: want a list, got a mapping`}},
		{"repeated key", "  id: user_id\n", "  id: user_id\n  id: uid\n", "id: uid", []string{`users.id: key "id" is already set on line`}},
		{"missing version", "version: 1\n", "", "name: movie-shop", []string{"version: missing; want 1"}},
		{"missing id column", "  id: movie_id\n", "", "items:", []string{"items.id: missing"}},
		{"missing feature kind", "    - column: age\n      kind: numeric\n", "    - column: age\n", "column: age", []string{
			`users.features[1].kind: missing; want "categorical", "multi_categorical", "numeric" or "text"`}},
		{"setting of another kind", "      kind: numeric\n\nitems:", "      kind: numeric\n      delimiter: \",\"\n\nitems:", `delimiter: ","`, []string{
			`users.features[1].delimiter: applies only to kind "multi_categorical"`}},
		{"overflow without a cap", "      max_categories: 30\n", "", "overflow: hash", []string{
			`items.features[0].overflow: "hash" needs max_categories`}},
		{"negative cap", "max_categories: 50", "max_categories: -5", "", []string{"users.features[0].max_categories: -5; want 0 (no cap) or more"}},
		{"explicit feedback without a scale", "kind: quantity ", "kind: explicit ", "feedback:", []string{
			"interactions.feedback.scale: missing; explicit feedback wants its scale"}},
		{"an upside-down scale", "    column: quantity\n", "    column: quantity\n    scale: {min: 5, max: 1}\n", "scale:", []string{
			"interactions.feedback.scale: a scale applies only to kind \"explicit\""}},
		{"a count with a column", "kind: quantity ", "kind: count ", "column: quantity", []string{
			`interactions.feedback.column: a count needs no column`}},
		{"weights without weight kind", "    column: quantity\n", "    column: quantity\n    weights: {view: 1}\n", "weights:", []string{
			`interactions.feedback.weights: weights apply only to kind "weight"`}},
		{"weight kind without weights", "kind: quantity ", "kind: weight ", "feedback:", []string{
			"interactions.feedback.weights: missing; kind weight wants each event type's weight"}},
		{"table and query", "  table: order ", "  query: SELECT * FROM x\n  table: order ", "query:", []string{
			"interactions.query: set either table or query, not both"}},
		{"a query that is not a SELECT", "  table: order ", "  query: DELETE FROM x\n  #", "query:", []string{
			`interactions.query: want one SELECT statement, got one starting "DELETE"`}},
		{"two statements", "  table: order ", "  query: SELECT 1; DROP TABLE x\n  #", "query:", []string{
			"interactions.query: want one SELECT statement; it holds a ';'"}},
		{"a clash of column names", "    - column: release_year\n", "    - column: release_year\n      name: country\n", "name: country", []string{
			`items.features[1].name: "country" is also users.features[0]`}},
		{"the same column twice", "    - column: release_year\n", "    - column: genres # again\n", "", []string{
			`items.features[1].column: column "genres" is already items.features[0]`}},
		{"a reserved lake prefix", "dataset: movie_orders", "dataset: ml-artifacts", "", []string{
			`lake.dataset: "ml-artifacts" is where recoflow keeps other data`}},
		{"a lake path", "dataset: movie_orders", "dataset: ../movies", "", []string{
			`lake.dataset: "../movies"; want one path segment`}},
		{"a partition that is no column", "partition: user_id", "partition: user", "", []string{
			`lake.partition: "user" is not a column of the training data; did you mean "user_id"?`}},
		{"a stream feature that is no feature", "    country: country\n", "    contry: country\n", "contry:", []string{
			`stream.user_features.contry: "contry" is not a feature of users; did you mean "country"?`}},
		{"a YAML syntax error", "  item_key: movie_id\n", "  item_key: [movie_id\n", "", []string{"shop.yaml:"}},
		{"several problems at once", "id_type: string", "id_type: text", "", []string{
			"2 problems in the dataset spec", `users.id_type: unknown id type "text"`, "version: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(shop, tt.old) {
				t.Fatalf("the shop spec has no %q", tt.old)
			}
			text := strings.Replace(shop, tt.old, tt.new, 1)
			if tt.name == "several problems at once" {
				text = strings.Replace(text, "version: 1\n", "", 1)
			}
			_, err := dataset.Parse([]byte(text), "shop.yaml")
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", text)
			}
			var se *dataset.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want *dataset.Error", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
			if tt.name == "a YAML syntax error" || tt.name == "several problems at once" {
				return
			}
			at := tt.lineAt
			if at == "" {
				at = strings.TrimSpace(strings.SplitN(tt.new, "\n", 2)[0])
			}
			if want := lineOf(t, text, at); se.Problems[0].Line != want || se.Problems[0].File != "shop.yaml" {
				t.Errorf("error at %s:%d, want shop.yaml:%d (%q): %v", se.Problems[0].File, se.Problems[0].Line, want, at, err)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n"} {
		if _, err := dataset.Parse([]byte(text), "empty.yaml"); err == nil || !strings.Contains(err.Error(), "empty.yaml: the dataset spec is empty") {
			t.Errorf("Parse(%q) = %v", text, err)
		}
	}
}

// The reference's complete example is the movie shop's spec the tests
// check against the movie shop, and its other snippets are valid YAML of
// the interactions section.
func TestReferenceExample(t *testing.T) {
	data, err := os.ReadFile("../docs/DATASET_SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	_, after, ok := strings.Cut(doc, "## A complete example")
	if !ok {
		t.Fatal("docs/DATASET_SPEC.md has no complete example")
	}
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if block != datasettest.ShopSpecYAML {
		t.Errorf("the example in docs/DATASET_SPEC.md differs from datasettest.ShopSpecYAML")
	}
	// The other snippets replace the example's interactions and parse.
	_, rest, _ := strings.Cut(after, "Other feedback, for other shops:")
	examples := strings.Split(rest, "\ninteractions:")
	if len(examples) != 3 {
		t.Fatalf("want two other interactions snippets, found %d", len(examples)-1)
	}
	shopIn := datasettest.ShopSpecYAML[strings.Index(datasettest.ShopSpecYAML, "interactions:"):strings.Index(datasettest.ShopSpecYAML, "users:")]
	for _, ex := range examples[1:] {
		ex, _, _ = strings.Cut(ex, "\n#")
		ex, _, _ = strings.Cut(ex, "```")
		text := strings.Replace(datasettest.ShopSpecYAML, shopIn, "interactions:"+ex+"\n", 1)
		if _, err := dataset.Parse([]byte(text), "snippet.yaml"); err != nil {
			t.Errorf("snippet\ninteractions:%s\ndoes not parse: %v", ex, err)
		}
	}
	// The status says which stages follow a spec.
	for _, want := range []string{"**`train --dataset`**", "**`stream --dataset`**", "**`vectors load`**", "**`produce --dataset`**", "**`serve`**"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the reference's status does not say %s", want)
		}
	}
}
