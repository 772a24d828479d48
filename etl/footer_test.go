package etl_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// parquetFiles returns every Parquet object under prefix with its bytes.
func parquetFiles(t *testing.T, b lake.BucketReader, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	err := b.List(ctx, prefix, func(k string) error {
		if !strings.HasSuffix(k, ".parquet") {
			return nil
		}
		rc, err := b.Get(ctx, k)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		out[k] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFootersNameEveryColumnChunk opens every file a run writes (the
// training data and the catalogue) and checks that each column chunk's
// path_in_schema names its column, as readers that find chunks by path
// (parquet-mr, hyparquet, parquetjs) require.
func TestFootersNameEveryColumnChunk(t *testing.T) {
	db := sqliteSource(t)
	seedClassic(t, db)
	b := fileLake(t)
	// Small files force several files per partition too.
	if _, err := etl.Run(context.Background(), db, b, etl.Options{}); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, b, training.Dataset+"/")
	if len(files) != 98+2 {
		t.Fatalf("the run wrote %d Parquet files, want 98 partitions + 2 catalogue files", len(files))
	}
	bad := 0
	for key, data := range files {
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		leaves := pf.Schema().Columns()
		md := pf.Metadata()
		if len(md.RowGroups) == 0 {
			t.Errorf("%s has no row group", key)
		}
		for g, rg := range md.RowGroups {
			if len(rg.Columns) != len(leaves) {
				t.Errorf("%s row group %d has %d column chunks, schema %d columns", key, g, len(rg.Columns), len(leaves))
				bad++
				continue
			}
			for i, cc := range rg.Columns {
				got := strings.Join(cc.MetaData.PathInSchema, ".")
				want := strings.Join(leaves[i], ".")
				if got != want {
					if bad < 5 {
						t.Errorf("%s row group %d column %d: path_in_schema %q, want %q", key, g, i, cc.MetaData.PathInSchema, want)
					}
					bad++
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d column chunks in %d files do not name their column", bad, len(files))
	}
}
