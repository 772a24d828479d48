package etl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/seed"
)

// Run the ETL from an embedded SQLite shop database, seeded with the real
// classicmodels sample, into a lake on the local disk.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "recoflow-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := connect.Source(ctx, "sqlite://"+filepath.Join(dir, "shop.db"), connect.SourceOptions{Create: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if _, err := seed.Classicmodels(ctx, db, seed.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	lake, err := connect.Lake(ctx, "file://"+filepath.Join(dir, "lake"), connect.LakeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := etl.Run(ctx, db, lake, etl.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum.Rows, "rows in", sum.Partitions, "partitions, manifest at", sum.ManifestKey)
	// Output: 2532 rows in 98 partitions, manifest at ratings_ml_training/_manifest.json
}
