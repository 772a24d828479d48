package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

func vectorsCLI(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cli.Run(context.Background(), args, cli.Options{
		Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
	})
	return out.String(), errb.String(), err
}

func csvBytes(t *testing.T, entries []embedding.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := embedding.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// userEntries makes n users with integer ids 100, 101, ….
func userEntries(n, dim int) []embedding.Entry {
	out := vectortest.Clustered(99, n, dim, "")
	for i := range out {
		out[i].ID = fmt.Sprint(100 + i)
	}
	return out
}

// writeModel commits a model version's embeddings in a file lake the way
// recoflow train does (files, then the manifest, then LATEST).
func writeModel(t *testing.T, lakeDir, version string, items, users []embedding.Entry, latest bool) {
	t.Helper()
	man := map[string]any{
		"format": "recoflow.ml-artifacts/v1", "version": version, "created_at": time.Now().UTC(),
		"dim": len(items[0].Vector), "users": len(users), "items": len(items),
	}
	var files []map[string]any
	for file, entries := range map[string][]embedding.Entry{model.ItemEmbeddingsFile: items, model.UserEmbeddingsFile: users} {
		data := csvBytes(t, entries)
		p := filepath.Join(lakeDir, filepath.FromSlash(model.Key(version, file)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		files = append(files, map[string]any{"path": file, "bytes": len(data), "sha256": hex.EncodeToString(sum[:])})
	}
	man["files"] = files
	js, _ := json.Marshal(man)
	if err := os.WriteFile(filepath.Join(lakeDir, filepath.FromSlash(model.Key(version, model.ManifestName))), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if latest {
		if err := os.WriteFile(filepath.Join(lakeDir, filepath.FromSlash(model.LatestKey)), []byte(version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func openVectors(t *testing.T, url string) vector.Store {
	t.Helper()
	st, err := connect.Vectors(context.Background(), url, connect.VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func checkLoaded(t *testing.T, url, version string, items, users []embedding.Entry) {
	t.Helper()
	ctx := context.Background()
	st := openVectors(t, url)
	info, err := st.Version(ctx)
	if err != nil || info.Version != version || info.Items != len(items) || info.Users != len(users) {
		t.Fatalf("store holds %+v, %v; want version %s with %d items and %d users", info, err, version, len(items), len(users))
	}
	v, err := st.ItemVector(ctx, items[3].ID)
	if err != nil || !slices.Equal(v, items[3].Vector) {
		t.Fatalf("item %s: %v, %v", items[3].ID, v, err)
	}
	hits, err := st.SearchItems(ctx, items[3].Vector, 1)
	if err != nil || len(hits) != 1 || hits[0].ID != items[3].ID {
		t.Fatalf("nearest to item %s: %v, %v", items[3].ID, hits, err)
	}
	if len(users) > 0 {
		if _, err := st.UserVector(ctx, "100"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVectorsLoadLatest(t *testing.T) {
	lakeDir, vecDir := t.TempDir(), t.TempDir()
	items := vectortest.Clustered(1, 120, 32, "S10_")
	users := userEntries(40, 32)
	writeModel(t, lakeDir, "20250101T000000Z", vectortest.Clustered(2, 50, 32, "OLD"), users, false)
	writeModel(t, lakeDir, "20250102T000000Z", items, users, true)
	vecURL := "file://" + vecDir
	out, stderr, err := vectorsCLI(t, "vectors", "load", "--lake", "file://"+lakeDir, "--vectors", vecURL)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"loaded model version 20250102T000000Z into " + vecURL, "items                  120", "users                   40", "dimension               32"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	checkLoaded(t, vecURL, "20250102T000000Z", items, users)

	// An older version, by name.
	if _, stderr, err := vectorsCLI(t, "vectors", "load", "--lake", "file://"+lakeDir, "--vectors", vecURL, "--version", "20250101T000000Z"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	st := openVectors(t, vecURL)
	if info, _ := st.Version(context.Background()); info.Version != "20250101T000000Z" || info.Items != 50 {
		t.Fatalf("after loading the older version: %+v", info)
	}
}

func TestVectorsLoadFiles(t *testing.T) {
	dir := t.TempDir()
	items := vectortest.Clustered(3, 80, 32, "S18_")
	users := userEntries(10, 32)
	itemsFile, usersFile := filepath.Join(dir, "items.csv"), filepath.Join(dir, "users.csv")
	os.WriteFile(itemsFile, csvBytes(t, items), 0o644)
	os.WriteFile(usersFile, csvBytes(t, users), 0o644)
	vecURL := "file://" + filepath.Join(dir, "vectors")
	out, stderr, err := vectorsCLI(t, "vectors", "load", "--items", itemsFile, "--users", usersFile, "--version", "lab-2024", "--vectors", vecURL)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "from          "+itemsFile+", "+usersFile) {
		t.Errorf("summary does not name the files:\n%s", out)
	}
	checkLoaded(t, vecURL, "lab-2024", items, users)
}

func TestVectorsLoadErrors(t *testing.T) {
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	os.MkdirAll(lakeDir, 0o755)
	vecURL := "file://" + filepath.Join(dir, "vectors")
	items := vectortest.Clustered(4, 30, 32, "I")
	itemsFile := filepath.Join(dir, "items.csv")
	os.WriteFile(itemsFile, csvBytes(t, items), 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,embedding\nx,\"[1,2,oops]\"\n"), 0o644)
	// The same item on lines 3 and 6, the same user (12 and 012) on lines 2 and 4.
	dupItems := filepath.Join(dir, "dup-items.csv")
	os.WriteFile(dupItems, csvBytes(t, append(slices.Clone(items[:4]), items[1], items[4])), 0o644)
	dupUsers := filepath.Join(dir, "dup-users.csv")
	users := userEntries(3, 32)
	users[0].ID, users[2].ID = "12", "012"
	os.WriteFile(dupUsers, csvBytes(t, users), 0o644)
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()

	cases := []struct {
		name     string
		setup    func()
		args     []string
		code     int
		sentinel error
		want     []string
		notWant  string
	}{
		{name: "no model", args: []string{"--lake", "file://" + lakeDir}, code: cli.ExitFailure,
			want: []string{"no committed model", "recoflow train"}},
		{name: "users without items", args: []string{"--users", itemsFile}, code: cli.ExitUsage, want: []string{"--users needs --items"}},
		{name: "items without version", args: []string{"--items", itemsFile}, code: cli.ExitUsage, want: []string{"--version is required"}},
		{name: "bad version name", args: []string{"--items", itemsFile, "--version", " v"}, code: cli.ExitUsage, want: []string{"--version"}},
		{name: "bad load method", args: []string{"--items", itemsFile, "--version", "v", "--load-method", "fast"}, code: cli.ExitUsage, want: []string{"--load-method"}},
		{name: "missing file", args: []string{"--items", filepath.Join(dir, "nope.csv"), "--version", "v"}, code: cli.ExitFailure,
			want: []string{"nope.csv", "no such file"}},
		{name: "bad csv", args: []string{"--items", bad, "--version", "v"}, code: cli.ExitFailure,
			want: []string{"line 2", `"oops"`}},
		{name: "duplicate item", args: []string{"--items", dupItems, "--version", "v"}, code: cli.ExitFailure, sentinel: vector.ErrInvalid,
			want: []string{"dup-items.csv, lines 3 and 6", `item id "` + items[1].ID + `" appears twice`}},
		{name: "duplicate user", args: []string{"--items", itemsFile, "--users", dupUsers, "--version", "v"}, code: cli.ExitFailure, sentinel: vector.ErrInvalid,
			want: []string{"dup-users.csv, lines 2 and 4", `user id "12" appears twice`}},
		{name: "dimension", setup: func() {
			writeModel(t, lakeDir, "dim16", vectortest.Clustered(5, 20, 16, "D"), userEntries(3, 16), true)
		}, args: []string{"--lake", "file://" + lakeDir}, code: cli.ExitFailure, sentinel: vector.ErrDimension,
			want: []string{"16-dimensional", "32-dimensional"}},
		{name: "damaged file", setup: func() {
			writeModel(t, lakeDir, "damaged", items, userEntries(3, 32), true)
			p := filepath.Join(lakeDir, filepath.FromSlash(model.Key("damaged", model.ItemEmbeddingsFile)))
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte("I1,"), []byte("Z1,"), 1), 0o644)
		}, args: []string{"--lake", "file://" + lakeDir}, code: cli.ExitFailure, want: []string{"manifest lists", "damaged"}},
		{name: "store down", args: []string{"--items", itemsFile, "--version", "v", "--vectors", "postgres://u:hunter2@" + closed + "/db?sslmode=disable"},
			code: cli.ExitFailure, sentinel: vector.ErrUnavailable, want: []string{closed}, notWant: "hunter2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			args := append([]string{"vectors", "load", "--vectors", vecURL}, c.args...)
			_, _, err := vectorsCLI(t, args...)
			if err == nil {
				t.Fatal("no error")
			}
			if got := cli.ExitCode(err); got != c.code {
				t.Errorf("exit code %d, want %d (%v)", got, c.code, err)
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("error %v does not wrap %v", err, c.sentinel)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if c.notWant != "" && strings.Contains(err.Error(), c.notWant) {
				t.Errorf("error %q contains %q", err, c.notWant)
			}
		})
	}
	// None of the failures loaded anything.
	st := openVectors(t, vecURL)
	if _, err := st.Version(context.Background()); !errors.Is(err, vector.ErrEmpty) {
		t.Fatalf("after failed loads: %v, want ErrEmpty", err)
	}
}

func TestVectorsLoadPgvector(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	schema := testenv.PostgresSchema(t, url, "recoflow_cli")
	lakeDir := t.TempDir()
	items := vectortest.Clustered(6, 110, 32, "S24_")
	users := userEntries(98, 32)
	writeModel(t, lakeDir, "20250103T000000Z", items, users, true)
	out, stderr, err := vectorsCLI(t, "vectors", "load", "--lake", "file://"+lakeDir, "--vectors", url, "--pg-schema", schema, "--pg-max-conns", "2")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "items                  110") || !strings.Contains(out, "schema="+schema) {
		t.Errorf("summary:\n%s", out)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	checkLoaded(t, url+sep+"schema="+schema, "20250103T000000Z", items, users)
}

// TestVectorsLoadItemsOnly loads --items without --users: a version with items
// and no users (it used to panic on the missing users file).
func TestVectorsLoadItemsOnly(t *testing.T) {
	dir := t.TempDir()
	items := vectortest.Clustered(5, 60, 32, "S24_")
	itemsFile := filepath.Join(dir, "items.csv")
	if err := os.WriteFile(itemsFile, csvBytes(t, items), 0o644); err != nil {
		t.Fatal(err)
	}
	vecURL := "file://" + filepath.Join(dir, "vectors")
	out, stderr, err := vectorsCLI(t, "vectors", "load", "--items", itemsFile, "--version", "items-only", "--vectors", vecURL)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"loaded model version items-only", "items                   60", "users                    0", "from          " + itemsFile + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	checkLoaded(t, vecURL, "items-only", items, nil)
}

// TestFailedCommandsLeaveNoDirectories: a command that fails before it
// writes anything leaves no empty lake or vector directory behind.
func TestFailedCommandsLeaveNoDirectories(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "recoflow-data")
	lakeURL, vecURL := "file://"+filepath.Join(data, "lake"), "file://"+filepath.Join(data, "vectors")
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("id,embedding\nx,\"[1,2,oops]\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"train", "--lake", lakeURL},
		{"vectors", "load", "--lake", lakeURL, "--vectors", vecURL},
		{"vectors", "load", "--items", bad, "--version", "v1", "--vectors", vecURL},
	} {
		if _, _, err := vectorsCLI(t, args...); err == nil {
			t.Fatalf("recoflow %s succeeded on nothing", strings.Join(args, " "))
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Fatalf("recoflow %s failed but left %s behind", strings.Join(args, " "), data)
		}
	}
}
