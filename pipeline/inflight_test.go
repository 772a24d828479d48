package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/sink"
	"github.com/recoflow/recoflow/stream"
)

// holdingSink keeps every batch handed in, unacknowledged, until release.
type holdingSink struct {
	mu   sync.Mutex
	held []sink.Batch
	got  chan struct{} // signalled on each Write
}

func (s *holdingSink) Write(ctx context.Context, b sink.Batch) error {
	s.mu.Lock()
	s.held = append(s.held, b)
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	return nil
}

func (s *holdingSink) release(ctx context.Context) error {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, b := range held {
		if err := b.Ack(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *holdingSink) Close(context.Context) error { return nil }

// TestRunBoundsInFlightBytes: while the sink acknowledges nothing, Run
// reads no more than its byte bound; once the sink acknowledges, it reads
// on to the end.
func TestRunBoundsInFlightBytes(t *testing.T) {
	_, eng := prepareShared(t)
	tr, err := pipeline.NewTransformer(eng, pipeline.TransformOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n, batch, size = 2000, 10, 1000 // 1,000-byte events (bytes counted: 1,512 each)
	pad := strings.Repeat(" ", size)
	msgs := make([]stream.Message, n)
	for i := range msgs {
		data := fmt.Sprintf(`{"session_id":"s%d","customer_number":%d,"city":"Paris","country":"France","credit_limit":1000,"browse_history":[]%s}`, i, i, pad)
		msgs[i] = stream.Message{ID: fmt.Sprint(i), Data: []byte(data[:size-1] + "}")}
	}
	src := newMemSource(msgs, batch)
	snk := &holdingSink{got: make(chan struct{}, 1)}
	perMsg := int64(size + pipeline.MessageOverhead)
	bound := 20 * batch * perMsg // 20 batches
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, src, tr, snk, pipeline.Options{MaxInFlightBytes: bound, ShutdownGrace: 10 * time.Second})
	}()

	// Wait until the sink holds the 20 batches the bound allows.
	handedIn := func() int {
		snk.mu.Lock()
		defer snk.mu.Unlock()
		return len(snk.held)
	}
	for handedIn() < 20 {
		select {
		case <-snk.got:
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("the sink got %d batches", handedIn())
		}
	}
	src.mu.Lock()
	read := src.next
	src.mu.Unlock()
	// The reader reads ahead of the transform, but the batch it reads
	// counts at once: 20 batches fill the bound.
	if max := 20 * batch; read > max {
		t.Errorf("%d events read with none acknowledged, bound %d bytes (%d events)", read, bound, max)
	}

	// Acknowledge as batches come: everything is read and acknowledged.
	for {
		if err := snk.release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-src.allAckd:
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			return
		case <-snk.got:
		case <-ctx.Done():
			t.Fatalf("not every event acknowledged: %d of %d read", src.next, n)
		}
	}
}
