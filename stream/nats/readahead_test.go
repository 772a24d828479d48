package nats

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestReadAheadKeepsOrder reads a backlog from the real server in small
// batches, so that the source reads ahead (four batches a pull request),
// acking every other batch late: every message must come exactly once, in
// stream order across batches, and the consumer's ack floor must reach the
// last message once all are acked. Close with batches read ahead and not
// handed out must give them back to the group at once (well before
// AckWait), each once.
func TestReadAheadKeepsOrder(t *testing.T) {
	ctx := context.Background()
	cfg := realNATS(t)
	cfg.Source.MaxBatch = 10
	p := open(t, NewProducer, cfg)
	const n = 237
	for i := range n {
		if err := p.Publish(ctx, "k"+strconv.Itoa(i%5), fmt.Appendf(nil, "m%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := open(t, NewSource, cfg)
	var last uint64
	var ids []string
	var late []func(context.Context) error
	for len(ids) < n {
		rctx, cancel := context.WithTimeout(ctx, time.Minute) // generous: CI is a loaded machine
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d messages: %v", len(ids), err)
		}
		for _, m := range b {
			seq, err := strconv.ParseUint(m.Position, 10, 64)
			if err != nil || seq <= last {
				t.Fatalf("message %s (sequence %s) after sequence %d", m.Data, m.Position, last)
			}
			last = seq
			if want := fmt.Sprintf("m%03d", len(ids)); string(m.Data) != want {
				t.Fatalf("got %s, want %s", m.Data, want)
			}
			ids = append(ids, m.ID)
		}
		if len(ids)/10%2 == 0 {
			late = append(late, ack)
		} else if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, ack := range late {
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	acked, err := s.Acknowledged(ctx, ids[n-1:])
	if err != nil || !acked[0] {
		t.Fatalf("last message %s acknowledged: %v, %v", ids[n-1], acked, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A second backlog: read one batch (the source reads ahead), close,
	// and a new source must get everything after that batch at once.
	p = open(t, NewProducer, cfg)
	for i := range 60 {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "x%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = open(t, NewSource, cfg)
	b, ack, err := s.ReadBatch(ctx)
	if err != nil || len(b) != 10 {
		t.Fatalf("first batch: %d, %v", len(b), err)
	}
	if err := ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = open(t, NewSource, cfg)
	defer s.Close(ctx)
	// Given-back messages come again in any order relative to the rest
	// (the server applies the negative acks asynchronously).
	seen := map[string]bool{}
	got := 0
	for got < 50 {
		// Far below AckWait (1 min): only messages given back arrive in time.
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after close, %d of 50 messages: %v", got, err)
		}
		for _, m := range b {
			i, err := strconv.Atoi(string(m.Data[1:]))
			if err != nil || i < 10 || i >= 60 || seen[string(m.Data)] {
				t.Fatalf("after close got %s (acked, unknown or twice)", m.Data)
			}
			seen[string(m.Data)] = true
			got++
		}
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
