package nats

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestAcknowledged: the IDs at or below the consumer group's
// acknowledgement floor are acknowledged for good; those handed out and not
// acknowledged, or of another stream, are not.
func TestAcknowledged(t *testing.T) {
	cfg := Config{EmbeddedDir: t.TempDir(), AckWait: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := open(t, NewProducer, cfg)
	defer p.Close(ctx)
	for i := range 4 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Source.MaxBatch = 2
	src := open(t, NewSource, cfg)
	defer src.Close(ctx)
	var ids []string
	first, ack, err := src.ReadBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range first {
		ids = append(ids, m.ID)
	}
	if err := ack(ctx); err != nil {
		t.Fatal(err)
	}
	second, _, err := src.ReadBatch(ctx) // handed out, not acknowledged
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range second {
		ids = append(ids, m.ID)
	}
	ids = append(ids, "nats:other:1", "nats:"+src.cfg.Stream+":x", "kafka:t:0:1")
	got, err := src.Acknowledged(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]bool, len(ids))
	for i := range first {
		want[i] = true
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Acknowledged(%v) = %v, want %v", ids, got, want)
	}
}
