// Package recommendtest gives tests a model trained on a dataset spec
// other than the lab's: the movie shop of package datasettest (string user
// ids, integer movie ids, several genres per movie, purchases as implicit
// feedback), generated into SQLite, run through the ETL, trained, saved in
// a file lake and its item embeddings loaded into an embedded vector
// store.
package recommendtest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/seed"
	"github.com/recoflow/recoflow/source/sqlite"
	"github.com/recoflow/recoflow/training"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

// Version is the model version the shop's model is saved as.
const Version = "v1"

// Shop is the movie shop's lake, model and vector store.
type Shop struct {
	// Dir holds the lake (Dir/lake) and the vector store (Dir/vectors).
	Dir, LakeDir, VectorDir string
	Spec                    *dataset.Spec
	Bucket                  lake.Bucket
	Model                   *model.Model
	// Store holds the model's item embeddings (no user vectors) as
	// version Version.
	Store *local.Store
	// Users lists the user ids of the training dataset, Items the item
	// ids the store holds.
	Users, Items []string
	// Countries lists the users' countries in the training dataset, most
	// frequent first.
	Countries []string
}

// Build builds the movie shop in dir: users, items and interactions
// generated for datasettest.ShopSpecYAML, the ETL, a small model trained
// for a few epochs. The caller closes Bucket and Store.
func Build(ctx context.Context, dir string) (*Shop, error) {
	spec, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		return nil, err
	}
	s := &Shop{Dir: dir, LakeDir: filepath.Join(dir, "lake"), VectorDir: filepath.Join(dir, "vectors"), Spec: spec}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "shop.db"), true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := seed.GeneratedFor(ctx, db, spec, seed.SpecOptions{Users: 60, Items: 40, Interactions: 1500, Seed: 3}); err != nil {
		return nil, fmt.Errorf("seed the movie shop: %w", err)
	}
	if s.Bucket, err = lakefile.Open(s.LakeDir); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if _, err := etl.Run(ctx, db, s.Bucket, etl.Options{Spec: spec, RunID: "shop-run"}); err != nil {
		return nil, fmt.Errorf("etl of the movie shop: %w", err)
	}
	d, man, err := model.ReadSpecDataset(ctx, s.Bucket, spec)
	if err != nil {
		return nil, err
	}
	res, err := model.Train(ctx, d, model.Config{Seed: 1, Epochs: 3, Workers: 1, Dim: 8, Hidden: 16})
	if err != nil {
		return nil, fmt.Errorf("train the movie shop's model: %w", err)
	}
	res.Metrics.DatasetRunID = man.RunID
	if err := res.Save(ctx, s.Bucket, Version); err != nil {
		return nil, err
	}
	if s.Model, err = model.Load(ctx, s.Bucket, Version); err != nil {
		return nil, err
	}
	if s.Store, err = local.Open(ctx, s.VectorDir, local.Options{Dim: s.Model.Dim()}); err != nil {
		return nil, err
	}
	items := entries(ctx, s.Bucket, model.ItemEmbeddingsFile)
	if _, err := s.Store.Load(ctx, Version, items, nil); err != nil {
		return nil, err
	}
	for e, err := range items {
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, e.ID)
	}
	for e, err := range entries(ctx, s.Bucket, model.UserEmbeddingsFile) {
		if err != nil {
			return nil, err
		}
		s.Users = append(s.Users, e.ID)
	}
	counts := map[string]int{}
	if _, err := training.ReadTable(ctx, s.Bucket, spec, func(row *training.GenericRow) error {
		v, _ := row.Value("country")
		counts[v.String()]++
		return nil
	}); err != nil {
		return nil, err
	}
	for c := range counts {
		s.Countries = append(s.Countries, c)
	}
	slices.SortFunc(s.Countries, func(a, b string) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b)) })
	ok = true
	return s, nil
}

// Close closes the store and the lake.
func (s *Shop) Close() {
	if s.Store != nil {
		s.Store.Close()
	}
	if s.Bucket != nil {
		s.Bucket.Close()
	}
}

func entries(ctx context.Context, b lake.BucketReader, file string) vector.Entries {
	return vector.FromCSV(func() (io.ReadCloser, error) { return b.Get(ctx, model.Key(Version, file)) })
}

// New builds the movie shop in a temporary directory removed, with the
// shop closed, when t ends.
func New(t testing.TB) *Shop {
	t.Helper()
	dir, err := os.MkdirTemp("", "recommendtest-")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(context.Background(), dir)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		os.RemoveAll(dir)
	})
	return s
}
