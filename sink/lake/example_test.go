package lake_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/recoflow/recoflow/batch"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/sink"
	sinklake "github.com/recoflow/recoflow/sink/lake"
)

func Example() {
	dir, _ := os.MkdirTemp("", "lake")
	defer os.RemoveAll(dir)
	bucket, _ := lakefile.Open(dir)
	ctx := context.Background()

	s, err := sinklake.New(ctx, bucket, sinklake.Options{Stream: "shop"},
		sink.Options{Policy: batch.Policy{Bytes: 5 << 20, Period: time.Second}})
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	err = s.Write(ctx, sink.Batch{
		Records: []sink.Record{{ID: "seq-1", Data: []byte(`{"session_id":"a","recommended_items":[]}`), Time: at}},
		Errors:  []sink.ErrorRecord{{ID: "seq-2", Raw: []byte(`{"session_id":`), Reason: "unexpected end of JSON input", Time: at}},
		Ack: func(context.Context) error {
			fmt.Println("acknowledged: both outputs are durable")
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Close(ctx); err != nil { // flushes, waits, acknowledges
		fmt.Println(err)
		return
	}
	for _, prefix := range []string{"recommendations/", "recommendations-errors/"} {
		bucket.List(ctx, prefix, func(key string) error {
			fmt.Println(key[:len(key)-len("0123456789abcdef.json")] + "<id>.json")
			return nil
		})
	}
	// Output:
	// acknowledged: both outputs are durable
	// recommendations/2025/01/02/03/shop-2025-01-02-03-04-05-<id>.json
	// recommendations-errors/2025/01/02/03/shop-2025-01-02-03-04-05-<id>.json
}
