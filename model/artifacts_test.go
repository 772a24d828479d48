package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/embedding"
)

func trainSmall(t *testing.T) (*Result, *Dataset) {
	t.Helper()
	d := datasetOf(t, smallData(t, 8))
	res, err := Train(context.Background(), d, Config{Seed: 1, Epochs: 4})
	if err != nil {
		t.Fatal(err)
	}
	return res, d
}

func readEmbeddings(t *testing.T, b *memBucket, key string) map[string][]float32 {
	t.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string][]float32{}
	if err := embedding.Read(rc, func(e embedding.Entry) error { out[e.ID] = e.Vector; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	res, d := trainSmall(t)
	b := newMemBucket()
	if err := res.Save(ctx, b, "20261125T153000Z"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ItemEmbeddingsFile, UserEmbeddingsFile, UserTowerFile, ItemTowerFile, IDEmbeddingsFile, UserEncoderFile, ItemEncoderFile, MetricsFile, LossCurveFile, ManifestName} {
		if _, err := b.Attributes(ctx, Key("20261125T153000Z", f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if v, err := LatestVersion(ctx, b); err != nil || v != "20261125T153000Z" {
		t.Fatalf("LatestVersion = %q, %v", v, err)
	}
	m, err := Load(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != "20261125T153000Z" || m.Dim() != 32 {
		t.Errorf("loaded version %q dim %d", m.Version(), m.Dim())
	}
	users := readEmbeddings(t, b, Key(m.Version(), UserEmbeddingsFile))
	items := readEmbeddings(t, b, Key(m.Version(), ItemEmbeddingsFile))
	if len(users) != d.NumUsers() || len(items) != d.NumItems() {
		t.Fatalf("embeddings files hold %d users and %d items, want %d and %d", len(users), len(items), d.NumUsers(), d.NumItems())
	}
	for k, g := range d.users {
		f := g.labUser()
		if got, want := m.EmbedUser(f), res.Model.EmbedUser(f); !sameBits(got, want) {
			t.Fatalf("user %s: loaded model embeds features %v, trained model %v", d.userIDs[k], got, want)
		}
		want := res.Model.EmbedKnownUser(d.userIDs[k], f)
		if !m.KnowsUser(d.userIDs[k]) {
			t.Fatalf("user %s: the loaded model has no id vector", d.userIDs[k])
		}
		if got := m.EmbedKnownUser(d.userIDs[k], f); !sameBits(got, want) {
			t.Fatalf("user %s: loaded model embeds %v, trained model %v", d.userIDs[k], got, want)
		}
		if got := users[d.userIDs[k]]; !sameBits(got, want) {
			t.Fatalf("user %s: file holds %v, model gives %v", d.userIDs[k], got, want)
		}
	}
	for k, g := range d.items {
		f := g.labItem()
		if got, want := m.EmbedItem(f), res.Model.EmbedItem(f); !sameBits(got, want) {
			t.Fatalf("item %s: loaded model embeds features %v, trained model %v", d.itemIDs[k], got, want)
		}
		want := res.Model.EmbedKnownItem(d.itemIDs[k], f)
		if got := m.EmbedKnownItem(d.itemIDs[k], f); !sameBits(got, want) {
			t.Fatalf("item %s: loaded model embeds %v, trained model %v", d.itemIDs[k], got, want)
		}
		if got := items[d.itemIDs[k]]; !sameBits(got, want) {
			t.Fatalf("item %s: file holds %v, model gives %v", d.itemIDs[k], got, want)
		}
	}
	if !slices.Equal(m.userVec, res.Model.userVec) || !slices.Equal(m.itemVec, res.Model.itemVec) || m.ratingA != res.Model.ratingA || m.ratingB != res.Model.ratingB {
		t.Fatal("id vectors or rating head differ after loading")
	}
	for i := range m.user.p {
		if math.Float64bits(m.user.p[i]) != math.Float64bits(res.Model.user.p[i]) {
			t.Fatalf("user weight %d: %v after loading, want %v", i, m.user.p[i], res.Model.user.p[i])
		}
	}

	rc, _ := b.Get(ctx, Key(m.Version(), MetricsFile))
	var met Metrics
	if err := json.NewDecoder(rc).Decode(&met); err != nil {
		t.Fatal(err)
	}
	if met.Version != m.Version() || met.Holdout.RMSE != res.Metrics.Holdout.RMSE || len(met.Epochs) != len(res.Metrics.Epochs) || met.Holdout.Ranking.Definition != RankingDefinition {
		t.Errorf("metrics.json = %+v, want %+v", met, res.Metrics)
	}
	rc, _ = b.Get(ctx, Key(m.Version(), LossCurveFile))
	png, _ := io.ReadAll(rc)
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", LossCurveFile)
	}

	if err := res.Save(ctx, b, m.Version()); !errors.Is(err, ErrVersionExists) {
		t.Errorf("saving the version again: %v, want ErrVersionExists", err)
	}
}

func TestUnseenUserGetsAnEmbedding(t *testing.T) {
	res, d := trainSmall(t)
	m := res.Model
	known := d.users[0].labUser()
	for _, f := range []UserFeatures{
		{City: "Atlantis", Country: "Nowhere", CreditLimit: 123456},
		{City: "", Country: "", CreditLimit: 0},
		{City: known.City, Country: "Elsewhere", CreditLimit: math.NaN()},
	} {
		e := m.EmbedUser(f)
		if len(e) != m.Dim() {
			t.Fatalf("%+v: %d dimensions, want %d", f, len(e), m.Dim())
		}
		norm := 0.0
		for _, x := range e {
			if !isFinite(float64(x)) {
				t.Fatalf("%+v: embedding %v is not finite", f, e)
			}
			norm += float64(x) * float64(x)
		}
		if norm == 0 {
			t.Errorf("%+v: zero embedding", f)
		}
	}
	// Normalization applies at inference too.
	messy := known
	messy.City = "  " + strings.ToUpper(known.City) + "\t"
	if !sameBits(m.EmbedUser(messy), m.EmbedUser(known)) {
		t.Error("a city in other case and spacing embeds differently")
	}
	item := m.EmbedItem(ItemFeatures{ProductLine: "Spaceships", ProductScale: "1:1", QuantityInStock: 1, BuyPrice: 2, MSRP: 3})
	if len(item) != m.Dim() {
		t.Errorf("unseen item: %d dimensions", len(item))
	}
	if p := m.PredictRating(UserFeatures{City: "Atlantis"}, d.items[0].labItem()); p < 1 || p > 5 {
		t.Errorf("PredictRating = %v, want 1..5", p)
	}
}

func TestFailedSaveLeavesNoVersion(t *testing.T) {
	ctx := context.Background()
	res, _ := trainSmall(t)
	for _, failing := range []string{MetricsFile, ManifestName} {
		t.Run(failing, func(t *testing.T) {
			b := newMemBucket()
			b.failPut = func(key string) bool { return strings.HasSuffix(key, "/"+failing) }
			if err := res.Save(ctx, b, "v1"); err == nil {
				t.Fatal("Save succeeded")
			}
			if keys := b.keys(Prefix + "/"); len(keys) != 0 {
				t.Errorf("left behind: %v", keys)
			}
			if _, err := Load(ctx, b, ""); !errors.Is(err, ErrNoModel) {
				t.Errorf("Load = %v, want ErrNoModel", err)
			}
			if _, err := Load(ctx, b, "v1"); !errors.Is(err, ErrNoModel) {
				t.Errorf("Load(v1) = %v, want ErrNoModel", err)
			}
		})
	}
}

func TestLoadIgnoresUncommittedAndChecksFiles(t *testing.T) {
	ctx := context.Background()
	res, _ := trainSmall(t)
	b := newMemBucket()
	if err := res.Save(ctx, b, "v1"); err != nil {
		t.Fatal(err)
	}
	// A version whose files are there but whose manifest is not.
	if err := res.Save(ctx, b, "v2"); err != nil {
		t.Fatal(err)
	}
	_ = b.Delete(ctx, Key("v2", ManifestName))
	if _, err := Load(ctx, b, "v2"); !errors.Is(err, ErrNoModel) {
		t.Errorf("Load(v2) without manifest = %v, want ErrNoModel", err)
	}
	if _, err := LatestVersion(ctx, b); !errors.Is(err, ErrNoModel) {
		t.Errorf("LatestVersion naming an uncommitted version = %v, want ErrNoModel", err)
	}
	if m, err := Load(ctx, b, "v1"); err != nil || m.Version() != "v1" {
		t.Errorf("Load(v1) = %v, %v", m, err)
	}
	// A corrupted file is caught by its checksum.
	_ = b.Put(ctx, Key("v1", UserTowerFile), strings.NewReader(`{"format":"recoflow.tower/v1"}`))
	if _, err := Load(ctx, b, "v1"); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Load with a corrupted tower = %v, want a checksum error", err)
	}
	for _, v := range []string{"", "../x", ".staging", "a/b", strings.Repeat("x", 129)} {
		if err := CheckVersion(v); err == nil {
			t.Errorf("CheckVersion(%q) accepted", v)
		}
		if err := res.Save(ctx, b, v); err == nil {
			t.Errorf("Save(%q) accepted", v)
		}
	}
}

func TestEmptyLakeHasNoModel(t *testing.T) {
	if _, err := Load(context.Background(), newMemBucket(), ""); !errors.Is(err, ErrNoModel) {
		t.Fatalf("Load = %v, want ErrNoModel", err)
	}
}
