package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/recoflow/recoflow/lake/file"
)

// A run writes its objects under a prefix of its own, then publishes the
// whole prefix at once by pointing a name at it.
func ExampleBucket_Link() {
	dir, err := os.MkdirTemp("", "lake")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	b, err := file.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, run := range []string{"run-1", "run-2"} {
		key := "runs/" + run + "/customerNumber=103/part-0.parquet"
		if err := b.Put(ctx, key, strings.NewReader(run)); err != nil {
			log.Fatal(err)
		}
		if err := b.Link(ctx, "runs/"+run, "dataset"); err != nil {
			log.Fatal(err)
		}
		target, _ := b.Resolve(ctx, "dataset")
		fmt.Println("dataset ->", target)
	}
	b.List(ctx, "dataset/", func(key string) error {
		fmt.Println(key)
		return nil
	})
	// Output:
	// dataset -> runs/run-1
	// dataset -> runs/run-2
	// dataset/customerNumber=103/part-0.parquet
}
