package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/recoflow/recoflow/stream"
	"github.com/recoflow/recoflow/stream/streamtest"
)

// No Kafka broker can be installed on the machines this project is built
// on, so these tests run against franz-go's in-process kfake cluster, which
// speaks the Kafka protocol (groups, commits, rebalances included). The code
// under test knows nothing of kfake.
func cluster(t *testing.T, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func open[T any](t *testing.T, fn func(context.Context, Config) (T, error), cfg Config) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := fn(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAcceptance(t *testing.T) {
	streamtest.Run(t, func(t *testing.T) streamtest.Env {
		base := Config{Brokers: cluster(t, "events"), Topic: "events"}
		return streamtest.Env{
			Producer: func(t *testing.T) stream.Producer { return open(t, NewProducer, base) },
			Source: func(t *testing.T, group string, _, _ int, o stream.SourceOptions) stream.Source {
				cfg := base
				cfg.Group = group
				cfg.Source = o
				return open(t, NewSource, cfg)
			},
			Settle: 3 * time.Second,
			Wait:   2 * time.Minute, // generous: CI is a loaded machine
		}
	})
}

func TestMissingTopic(t *testing.T) {
	brokers := cluster(t, "events")
	_, err := NewSource(context.Background(), Config{Brokers: brokers, Topic: "nope"})
	if !errors.Is(err, stream.ErrNotFound) {
		t.Errorf("source on a missing topic: %v, want stream.ErrNotFound", err)
	}
}

func TestConfig(t *testing.T) {
	if _, err := (Config{Topic: "t"}).withDefaults(); err == nil {
		t.Error("no brokers accepted")
	}
	if _, err := (Config{Brokers: []string{"b:9092"}}).withDefaults(); err == nil {
		t.Error("no topic accepted")
	}
	c, err := Config{Brokers: []string{"a:9092", "b:9092"}, Topic: "t"}.withDefaults()
	if err != nil || c.Group != DefaultGroup || c.where() != "kafka://a:9092,b:9092/t" {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

// TestRebalanceMovesUnacked: records a member holds unacked when a
// rebalance moves their partition go to the new owner with the same IDs,
// and the old member's late ack of them fails instead of committing.
func TestRebalanceMovesUnacked(t *testing.T) {
	ctx := context.Background()
	base := Config{Brokers: cluster(t, "events"), Topic: "events", Group: "g"}
	p := open(t, NewProducer, base)
	for i := range 40 {
		if err := p.Publish(ctx, string(rune('a'+i%20)), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	a := open(t, NewSource, base)
	defer a.Close(ctx)
	held := map[string]bool{}
	var acks []stream.AckFunc
	for len(held) < 40 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		b, ack, err := a.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range b {
			held[m.ID] = true
		}
		acks = append(acks, ack)
	}

	// B joins; the group gives it some of A's partitions, whose records it
	// reads from the start (nothing was committed).
	b := open(t, NewSource, base)
	defer b.Close(ctx)
	moved := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(moved) == 0 && time.Now().Before(deadline) {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		batch, ack, err := b.ReadBatch(rctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range batch {
			if !held[m.ID] {
				t.Fatalf("B got %s, which A never saw", m.ID)
			}
			moved[m.ID] = true
		}
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(moved) == 0 {
		t.Fatal("no partition moved to the second member")
	}
	failed := 0
	for _, ack := range acks {
		if err := ack(ctx); errors.Is(err, errMoved) {
			failed++
		} else if err != nil {
			t.Fatalf("A's ack: %v", err)
		}
	}
	if failed == 0 {
		t.Error("A's acks of records whose partition moved all succeeded")
	}
	t.Logf("%d records moved to B; %d of A's %d acks reported moved partitions", len(moved), failed, len(acks))
}

// TestAcknowledged: a record is reported acknowledged once the group's
// committed offset is past it, and not before; another topic's ID, a
// malformed one or one of a partition never read is not.
func TestAcknowledged(t *testing.T) {
	ctx := context.Background()
	base := Config{Brokers: cluster(t, "events"), Topic: "events", Group: "g"}
	p := open(t, NewProducer, base)
	for i := range 10 {
		if err := p.Publish(ctx, "k", []byte{byte(i)}); err != nil { // one key: one partition
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := open(t, NewSource, base)
	defer s.Close(ctx)
	var ids []string
	var acks []stream.AckFunc
	for len(ids) < 10 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range b {
			ids = append(ids, m.ID)
		}
		acks = append(acks, ack)
	}
	others := []string{"kafka:other:0:0", "kafka:events:x:1", "kafka:events:99:0", "nats:events:1"}
	got, err := s.Acknowledged(ctx, append(append([]string(nil), ids...), others...))
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range got {
		if ok {
			t.Fatalf("%s reported acknowledged before any ack", append(ids, others...)[i])
		}
	}
	for _, ack := range acks {
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.Acknowledged(ctx, append(append([]string(nil), ids...), others...))
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range got {
		if want := i < len(ids); ok != want {
			t.Errorf("%s: acknowledged %v, want %v", append(ids, others...)[i], ok, want)
		}
	}
}

// The Kafka source tells the sink what its group has acknowledged.
var _ interface {
	Acknowledged(context.Context, []string) ([]bool, error)
} = (*Source)(nil)
