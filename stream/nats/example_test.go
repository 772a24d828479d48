package nats_test

import (
	"context"
	"fmt"
	"os"

	"github.com/recoflow/recoflow/stream/nats"
)

// An embedded JetStream in a directory: publish an event keyed by its
// session id, read it back, and acknowledge it once its output is durable.
func Example() {
	dir, _ := os.MkdirTemp("", "recoflow-nats-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	cfg := nats.Config{EmbeddedDir: dir}

	p, err := nats.NewProducer(ctx, cfg)
	if err != nil {
		panic(err)
	}
	if err := p.Publish(ctx, "session-1", []byte(`{"session_id":"session-1"}`)); err != nil {
		panic(err)
	}
	if err := p.Close(ctx); err != nil { // flushes: the server has it
		panic(err)
	}

	src, err := nats.NewSource(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer src.Close(ctx)
	batch, ack, err := src.ReadBatch(ctx)
	if err != nil {
		panic(err)
	}
	for _, m := range batch {
		fmt.Println(m.ID, m.Key, string(m.Data))
	}
	// … write the outputs of batch durably, then:
	if err := ack(ctx); err != nil {
		panic(err)
	}
	// Output: nats:RECOFLOW:1 session-1 {"session_id":"session-1"}
}
