package connect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/vector"
)

func TestVectorsFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, filepath.Join(dir, "rel"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"file://" + filepath.Join(dir, "abs"), filepath.Join(dir, "plain"), "file://" + rel} {
		st, err := Vectors(ctx, u, VectorOptions{})
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if st.Dim() != vector.DefaultDim {
			t.Errorf("%s: dim %d", u, st.Dim())
		}
		if _, err := st.Version(ctx); !errors.Is(err, vector.ErrEmpty) {
			t.Errorf("%s: new store's Version: %v", u, err)
		}
		st.Close()
	}
	for _, d := range []string{"abs", "plain", "rel"} {
		if _, err := os.Stat(filepath.Join(dir, d, "versions")); err != nil {
			t.Errorf("store %s not created: %v", d, err)
		}
	}
}

func TestVectorsBadURLs(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", "empty"},
		{"redis://u:pw@host/0", `unknown scheme "redis"`},
		{"postgres://u:pw@127.0.0.1:1/db?load_method=fast", `load method "fast"`},
		{"file://", "no directory"},
	} {
		_, err := Vectors(context.Background(), c.url, VectorOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.url, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%q: error %q shows the password", c.url, err)
		}
	}
}

// TestVectorsPostgresParams: recoflow's own URL parameters are taken out
// before pgx sees the URL (the server would reject them).
func TestVectorsPostgresParams(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	ctx := context.Background()
	schema := testenv.PostgresSchema(t, url, "recoflow_connect")
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	st, err := Vectors(ctx, url+sep+"schema="+schema+"&load_method=insert&pool_max_conns=2", VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !strings.Contains(st.String(), "schema="+schema) {
		t.Errorf("String() = %q, want it to name the schema", st)
	}
	if _, err := st.Version(ctx); !errors.Is(err, vector.ErrEmpty) {
		t.Fatalf("Version: %v", err)
	}
}
