package recommend_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/internal/testenv"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
)

func TestOpen(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	unseen := model.UserFeatures{City: "Perth", Country: "Australia", CreditLimit: 70000}

	t.Run("the store's version", func(t *testing.T) {
		for _, version := range []string{"", fixtureVersion} {
			e, err := recommend.Open(ctx, f.bucket, "file://"+f.vecDir, version, recommend.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := e.Status(ctx)
			if st.Err != nil || st.ModelVersion != fixtureVersion || st.StoreVersion != fixtureVersion || st.Popular != 24 || st.StoreItems != 24 {
				t.Errorf("version %q: status %+v", version, st)
			}
			a, err := e.ItemsForUser(ctx, e.UserEmbedding(unseen), 3)
			if err != nil || a.Fallback || len(a.Items) != 3 {
				t.Errorf("version %q: %+v, %v", version, a, err)
			}
			if err := e.Close(); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("another explicit version", func(t *testing.T) {
		_, err := recommend.Open(ctx, f.bucket, "file://"+f.vecDir, "v9", recommend.Options{})
		if !errors.Is(err, recommend.ErrVersionMismatch) {
			t.Errorf("got %v, want ErrVersionMismatch", err)
		}
	})

	t.Run("empty store", func(t *testing.T) {
		e, err := recommend.Open(ctx, f.bucket, t.TempDir(), "", recommend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if st := e.Status(ctx); !errors.Is(st.Err, vector.ErrEmpty) || st.ModelVersion != fixtureVersion {
			t.Errorf("status %+v, want the latest model and ErrEmpty", st)
		}
		a, err := e.ItemsForUser(ctx, e.UserEmbedding(unseen), 3)
		if err != nil || !a.Fallback || a.Reason != recommend.ReasonStoreEmpty {
			t.Errorf("got %+v, %v; want a store_empty fallback", a, err)
		}
	})

	t.Run("vectors of a version the lake has no model for", func(t *testing.T) {
		dir := t.TempDir()
		st, err := loadStore(ctx, dir, f.bucket, fixtureVersion, "lab-2024")
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if _, err := recommend.Open(ctx, f.bucket, dir, "", recommend.Options{}); !errors.Is(err, recommend.ErrVersionMismatch) {
			t.Errorf("got %v, want ErrVersionMismatch", err)
		}
		e, err := recommend.Open(ctx, f.bucket, dir, "", recommend.Options{AllowVersionMismatch: true})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		a, err := e.SimilarItems(ctx, "S10_0001", 2)
		if err != nil || a.Fallback || a.ModelVersion != fixtureVersion {
			t.Errorf("allowed mismatch: %+v, %v", a, err)
		}
	})

	t.Run("dimension mismatch", func(t *testing.T) {
		_, err := recommend.Open(ctx, f.bucket, t.TempDir(), "", recommend.Options{Vectors: connect.VectorOptions{Dim: 16}})
		if !errors.Is(err, recommend.ErrDimension) {
			t.Errorf("got %v, want ErrDimension", err)
		}
	})

	t.Run("no model", func(t *testing.T) {
		empty, err := lakefile.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recommend.Open(ctx, empty, t.TempDir(), "", recommend.Options{}); !errors.Is(err, model.ErrNoModel) {
			t.Errorf("got %v, want model.ErrNoModel", err)
		}
	})

	t.Run("no training dataset", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.CopyFS(filepath.Join(dir, model.Prefix), os.DirFS(filepath.Join(f.lakeDir, model.Prefix))); err != nil {
			t.Fatal(err)
		}
		b, err := lakefile.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		e, err := recommend.Open(ctx, b, t.TempDir(), "", recommend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if st := e.Status(ctx); st.Popular != 0 {
			t.Errorf("status %+v: want no popular products", st)
		}
		if _, err := e.ItemsForUser(ctx, e.UserEmbedding(unseen), 3); !errors.Is(err, recommend.ErrUnavailable) {
			t.Errorf("empty store, no fallback: %v, want ErrUnavailable", err)
		}
	})

	t.Run("bad store URL", func(t *testing.T) {
		if _, err := recommend.Open(ctx, f.bucket, "redis://x", "", recommend.Options{}); err == nil {
			t.Error("no error")
		}
	})
}

// TestPgvector runs the engine against PostgreSQL + pgvector, in a schema
// of its own, and checks it answers as the embedded store does.
func TestPgvector(t *testing.T) {
	url := testenv.URL(t, testenv.PgvectorVar)
	f := getFixture(t)
	ctx := context.Background()
	schema := testenv.PostgresSchema(t, url, "recoflow_recommend")
	vopts := connect.VectorOptions{Schema: schema, MaxConns: 2}
	st, err := connect.Vectors(ctx, url, vopts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Load(ctx, fixtureVersion, artifactEntries(ctx, f.bucket, fixtureVersion, model.ItemEmbeddingsFile),
		artifactEntries(ctx, f.bucket, fixtureVersion, model.UserEmbeddingsFile))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	e, err := recommend.Open(ctx, f.bucket, url, "", recommend.Options{Vectors: vopts})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ref := newEngine(t, f.store, recommend.Options{})
	emb := e.UserEmbedding(model.UserFeatures{City: "City 5", Country: "France", CreditLimit: 30000})
	got, err := e.ItemsForUser(ctx, emb, 5)
	if err != nil || got.Fallback {
		t.Fatalf("%+v, %v", got, err)
	}
	want, _ := ref.ItemsForUser(ctx, emb, 5)
	sameItems(t, "items for user", got.Items, want.Items)
	res := e.RecommendBatch(ctx, []recommend.Request{{Embedding: emb, K: 5, SimilarTo: "S10_0006", SimilarK: 3}})
	wantSim, _ := ref.SimilarItems(ctx, "S10_0006", 3)
	if res[0].ItemsErr != nil || res[0].SimilarErr != nil {
		t.Fatalf("batch: %+v", res[0])
	}
	sameItems(t, "batch items", res[0].Items.Items, want.Items)
	sameItems(t, "batch similar", res[0].Similar.Items, wantSim.Items)
	if _, err := e.SimilarItems(ctx, "NOPE", 3); !errors.Is(err, recommend.ErrUnknownItem) {
		t.Errorf("unknown item: %v", err)
	}
	e.Close()
	a, err := e.ItemsForUser(ctx, emb, 3)
	if err != nil || !a.Fallback || a.Reason != recommend.ReasonStoreUnavailable {
		t.Errorf("after Close: %+v, %v; want a store_unavailable fallback", a, err)
	}
}

// TestOpenStore: engines built with OpenWithStore share the caller's
// store, and closing them leaves it open and usable.
func TestOpenStore(t *testing.T) {
	f := getFixture(t)
	ctx := context.Background()
	unseen := model.UserFeatures{City: "Perth", Country: "Australia", CreditLimit: 70000}

	st, err := recommend.OpenStore(ctx, "file://"+f.vecDir, recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if info, err := st.Version(ctx); err != nil || info.Version != fixtureVersion {
		t.Fatalf("the opened store: %+v, %v", info, err)
	}

	e1, err := recommend.OpenWithStore(ctx, f.bucket, st, "", recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := recommend.OpenWithStore(ctx, f.bucket, st, fixtureVersion, recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []*recommend.Engine{e1, e2} {
		if s := e.Status(ctx); s.Err != nil || s.ModelVersion != fixtureVersion || s.StoreItems != 24 {
			t.Errorf("engine %d: status %+v", i+1, s)
		}
	}
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	// The store outlives the engine: it answers, and so does the other
	// engine built on it.
	if hits, err := st.SearchItems(ctx, e2.UserEmbedding(unseen), 3); err != nil || len(hits) != 3 {
		t.Errorf("the store after an engine's Close: %v, %v", hits, err)
	}
	a, err := e2.ItemsForUser(ctx, e2.UserEmbedding(unseen), 3)
	if err != nil || a.Fallback || len(a.Items) != 3 {
		t.Errorf("the other engine after the first one's Close: %+v, %v", a, err)
	}
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ItemVector(ctx, "S10_0001"); err != nil {
		t.Errorf("the store after every engine's Close: %v", err)
	}

	t.Run("a failed engine leaves the store open", func(t *testing.T) {
		if _, err := recommend.OpenWithStore(ctx, f.bucket, st, "v9", recommend.Options{}); !errors.Is(err, recommend.ErrVersionMismatch) {
			t.Errorf("got %v, want ErrVersionMismatch", err)
		}
		if info, err := st.Version(ctx); err != nil || info.Version != fixtureVersion {
			t.Errorf("the store after a failed OpenWithStore: %+v, %v", info, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, err := recommend.OpenWithStore(ctx, f.bucket, nil, "", recommend.Options{}); err == nil {
			t.Error("OpenWithStore without a store: no error")
		}
		if _, err := recommend.OpenStore(ctx, "redis://cache:6379", recommend.Options{}); err == nil || !strings.Contains(err.Error(), "unknown scheme") {
			t.Errorf("OpenStore of an unknown scheme: %v", err)
		}
	})

	t.Run("the store closed by its owner", func(t *testing.T) {
		st2, err := recommend.OpenStore(ctx, f.vecDir, recommend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := recommend.OpenWithStore(ctx, f.bucket, st2, "", recommend.Options{})
		if err != nil {
			st2.Close()
			t.Fatal(err)
		}
		defer e.Close()
		if err := st2.Close(); err != nil {
			t.Fatal(err)
		}
		if s := e.Status(ctx); !errors.Is(s.Err, vector.ErrUnavailable) {
			t.Errorf("status after the owner closed the store: %+v, want ErrUnavailable", s)
		}
	})
}
