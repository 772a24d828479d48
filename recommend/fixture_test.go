package recommend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/training"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

// fixture is a small shop run through the batch stages: a committed
// training dataset in a file lake, a model trained on it and saved as
// version v1, and an embedded vector store with v1's embeddings.
type fixture struct {
	lakeDir, vecDir string
	bucket          lake.Bucket
	model           *model.Model
	store           *local.Store
	recs            []training.Record
	items           map[string][]float32 // item embeddings, from the artifacts
	popular         []recommend.Popular  // LoadPopular of the lake
}

const fixtureVersion = "v1"

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  error
	fixtureTmp  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureTmp != "" {
		os.RemoveAll(fixtureTmp)
	}
	os.Exit(code)
}

// getFixture builds the shared fixture once per test binary. Tests must
// not change it: they open stores of their own to break.
func getFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureTmp, fixtureErr = os.MkdirTemp("", "recommend-test-")
		if fixtureErr == nil {
			shared, fixtureErr = buildFixture(fixtureTmp)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return shared
}

// shopRecords is a small shop whose ratings depend on the features:
// customers of "north" countries like Ships and Planes, others Classic
// Cars and Motorcycles; rich customers like dear models.
func shopRecords(customers, products int) []training.Record {
	lines := []string{"Classic Cars", "Motorcycles", "Planes", "Ships"}
	countries := []string{"France ", "USA", "Norway", "Sweden"}
	var recs []training.Record
	for c := range customers {
		country := countries[c%len(countries)]
		north := c%len(countries) >= 2
		credit := int64(2_000_000 + 500_000*(c%7))
		for k := range 8 {
			p := (c*3 + k*5) % products
			line := lines[p%len(lines)]
			msrp := int64(5_000 + 1_500*(p%9))
			score := 0
			if (line == "Ships" || line == "Planes") == north {
				score += 2
			}
			if (credit > 3_500_000) == (msrp > 11_000) {
				score++
			}
			recs = append(recs, training.Record{
				CustomerNumber: int32(100 + c),
				Row: training.Row{
					City: fmt.Sprintf("City %d", c%10), Country: country, CreditLimit: credit,
					ProductCode: fmt.Sprintf("S10_%04d", p), ProductLine: line, ProductScale: []string{"1:10", "1:18", "1:24"}[p%3],
					QuantityInStock: int32(100 * p), BuyPrice: msrp / 2, MSRP: msrp,
					ProductRating: int32(min(1+score+(c+p)%2, 5)),
				},
			})
		}
	}
	return recs
}

// writeDataset commits recs as the lake's training dataset: one Parquet
// file per customer partition, then the manifest.
func writeDataset(ctx context.Context, b lake.Bucket, recs []training.Record) error {
	m := training.Manifest{RunID: "test-run", Source: "test", Schema: training.Schema, Rows: int64(len(recs))}
	var order []int32
	parts := map[int32][]training.Row{}
	for _, r := range recs {
		if _, ok := parts[r.CustomerNumber]; !ok {
			order = append(order, r.CustomerNumber)
		}
		parts[r.CustomerNumber] = append(parts[r.CustomerNumber], r.Row)
	}
	for _, c := range order {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[training.Row](&buf, parquet.Compression(&snappy.Codec{}))
		if _, err := w.Write(parts[c]); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		rel := fmt.Sprintf("%s=%d/part-0.snappy.parquet", training.PartitionColumn, c)
		if err := b.Put(ctx, training.Dataset+"/"+rel, bytes.NewReader(buf.Bytes())); err != nil {
			return err
		}
		n := int64(len(parts[c]))
		m.Partitions = append(m.Partitions, training.Partition{CustomerNumber: c, Rows: n,
			Files: []training.File{{Path: rel, Rows: n, Bytes: int64(buf.Len())}}})
	}
	data, err := json.Marshal(&m)
	if err != nil {
		return err
	}
	return b.Put(ctx, training.Dataset+"/"+training.ManifestName, bytes.NewReader(data))
}

func buildFixture(dir string) (*fixture, error) {
	ctx := context.Background()
	f := &fixture{lakeDir: dir + "/lake", vecDir: dir + "/vectors", recs: shopRecords(40, 24)}
	b, err := lakefile.Open(f.lakeDir)
	if err != nil {
		return nil, err
	}
	f.bucket = b
	if err := writeDataset(ctx, b, f.recs); err != nil {
		return nil, err
	}
	d, man, err := model.ReadDataset(ctx, b)
	if err != nil {
		return nil, err
	}
	res, err := model.Train(ctx, d, model.Config{Seed: 1, Epochs: 6, Workers: 1})
	if err != nil {
		return nil, err
	}
	res.Metrics.DatasetRunID = man.RunID
	if err := res.Save(ctx, b, fixtureVersion); err != nil {
		return nil, err
	}
	if f.model, err = model.Load(ctx, b, fixtureVersion); err != nil {
		return nil, err
	}
	if f.store, err = loadStore(ctx, f.vecDir, b, fixtureVersion, fixtureVersion); err != nil {
		return nil, err
	}
	if f.popular, err = recommend.LoadPopular(ctx, b); err != nil {
		return nil, err
	}
	f.items = map[string][]float32{}
	for e, err := range artifactEntries(ctx, b, fixtureVersion, model.ItemEmbeddingsFile) {
		if err != nil {
			return nil, err
		}
		f.items[e.ID] = e.Vector
	}
	return f, nil
}

// artifactEntries iterates over one embeddings file of a saved version.
func artifactEntries(ctx context.Context, b lake.BucketReader, version, file string) vector.Entries {
	return vector.FromCSV(func() (io.ReadCloser, error) { return b.Get(ctx, model.Key(version, file)) })
}

// loadStore opens an embedded store in dir and loads the embeddings of
// model version from the lake under the name as.
func loadStore(ctx context.Context, dir string, b lake.BucketReader, version, as string) (*local.Store, error) {
	st, err := local.Open(ctx, dir, local.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := st.Load(ctx, as, artifactEntries(ctx, b, version, model.ItemEmbeddingsFile),
		artifactEntries(ctx, b, version, model.UserEmbeddingsFile)); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}
