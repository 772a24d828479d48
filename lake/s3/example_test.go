package s3_test

import (
	"context"
	"log"
	"strings"

	"github.com/recoflow/recoflow/lake/s3"
)

// Opening a lake on an S3-compatible store; credentials come from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the SDK's other
// sources.
func ExampleOpen() {
	ctx := context.Background()
	b, err := s3.Open(ctx, s3.Config{
		Bucket:    "recoflow",
		Prefix:    "lake",
		Endpoint:  "http://127.0.0.1:7070",
		PathStyle: true,
	})
	if err != nil {
		log.Fatal(err) // e.g. s3 bucket recoflow at http://127.0.0.1:7070: connection refused
	}
	defer b.Close()
	if err := b.Put(ctx, "hello.txt", strings.NewReader("hello")); err != nil {
		log.Fatal(err)
	}
}
