// Package streamtest is the acceptance suite every stream backend passes:
// publish and consume everything exactly once when acked, unacked messages
// delivered again (with the same IDs) after the consumer restarts, two
// consumers of one group splitting the work without overlap, the in-flight
// bound, and the Source's contract on contexts, Close and repeated acks.
//
// A backend's test calls Run with a function that makes a fresh, empty
// stream for each case:
//
//	func TestAcceptance(t *testing.T) {
//		streamtest.Run(t, func(t *testing.T) streamtest.Env {
//			name := uniqueName(t)
//			return streamtest.Env{
//				Producer: func(t *testing.T) stream.Producer { … },
//				Source:   func(t *testing.T, group string, member, members int, o stream.SourceOptions) stream.Source { … },
//			}
//		})
//	}
package streamtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/stream"
)

// Env is one fresh, empty stream of the backend under test. A backend with
// partitions gives it at least two, and spreads keys across them.
type Env struct {
	// Producer opens a producer to the stream. The suite closes it.
	Producer func(t *testing.T) stream.Producer
	// Source opens a consumer of the stream in group: member (0-based) of
	// members consumers that the suite opens in that group at the same
	// time (backends that divide partitions statically, like Kinesis, use
	// it; others ignore it). The suite closes it.
	Source func(t *testing.T, group string, member, members int, opts stream.SourceOptions) stream.Source
	// Settle is how long a group takes to share its partitions among
	// members that just opened (a Kafka rebalance); 0 when immediate.
	Settle time.Duration
	// Wait bounds each wait for messages; default 30s.
	Wait time.Duration
}

// Run runs the suite; newEnv is called once per case.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	cases := []struct {
		name string
		fn   func(*testing.T, Env)
	}{
		{"PublishConsumeAck", testPublishConsumeAck},
		{"RedeliverUnackedAfterRestart", testRedeliverAfterRestart},
		{"GroupSplitsWork", testGroupSplitsWork},
		{"BoundedInFlight", testBoundedInFlight},
		{"Contract", testContract},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			if env.Wait == 0 {
				env.Wait = 30 * time.Second
			}
			c.fn(t, env)
		})
	}
}

// payload is the data of message i: its key, its index, and padding.
func payload(prefix string, i int) (key string, data []byte) {
	key = fmt.Sprintf("session-%02d", i%20)
	return key, fmt.Appendf(nil, `{"key":%q,"n":"%s-%04d","pad":%q}`, key, prefix, i, strings.Repeat("x", i%50))
}

func publish(t *testing.T, env Env, prefix string, n int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), env.Wait)
	defer cancel()
	p := env.Producer(t)
	sent := map[string]string{} // data → key
	for i := range n {
		key, data := payload(prefix, i)
		if err := p.Publish(ctx, key, data); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		sent[string(data)] = key
		clear(data) // the producer may not keep the caller's buffer
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close producer: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close of producer: %v", err)
	}
	return sent
}

func closeSource(t *testing.T, src stream.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Close(ctx); err != nil {
		t.Errorf("Close %s: %v", src, err)
	}
}

type read struct {
	batch stream.Batch
	ack   stream.AckFunc
}

// readUntil reads batches until done says so, failing after env.Wait.
func readUntil(t *testing.T, env Env, src stream.Source, done func(read) bool) {
	t.Helper()
	deadline := time.Now().Add(env.Wait)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		b, ack, err := src.ReadBatch(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatalf("ReadBatch: %v", err)
		}
		if len(b) == 0 || ack == nil {
			t.Fatalf("ReadBatch returned %d messages and ack %v without an error", len(b), ack != nil)
		}
		if done(read{b, ack}) {
			return
		}
	}
	t.Fatalf("gave up waiting for messages after %s", env.Wait)
}

func ack(t *testing.T, a stream.AckFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func checkMessage(t *testing.T, m stream.Message, sent map[string]string) {
	t.Helper()
	key, ok := sent[string(m.Data)]
	if !ok {
		t.Fatalf("received %q, which was not published", m.Data)
	}
	if m.Key != key {
		t.Errorf("message %s has key %q, want %q", m.Data, m.Key, key)
	}
	if m.ID == "" || m.Partition == "" || m.Position == "" {
		t.Errorf("message %s: ID %q, Partition %q, Position %q: none may be empty", m.Data, m.ID, m.Partition, m.Position)
	}
}

func testPublishConsumeAck(t *testing.T, env Env) {
	const n = 300
	sent := publish(t, env, "first", n)
	src := env.Source(t, "acceptance", 0, 1, stream.SourceOptions{MaxBatch: 50})
	seen := map[string]string{} // data → ID
	ids := map[string]bool{}
	lastOfKey := map[string]string{}
	readUntil(t, env, src, func(r read) bool {
		if len(r.batch) > 50 {
			t.Fatalf("batch of %d messages, more than MaxBatch 50", len(r.batch))
		}
		for _, m := range r.batch {
			checkMessage(t, m, sent)
			if _, dup := seen[string(m.Data)]; dup {
				t.Fatalf("%s delivered twice before any restart", m.Data)
			}
			if ids[m.ID] {
				t.Fatalf("ID %s given to two messages", m.ID)
			}
			// Messages of one key keep their publishing order.
			if prev, n := lastOfKey[m.Key], seqOf(m.Data); prev != "" && prev > n {
				t.Errorf("key %s: %s came after %s", m.Key, n, prev)
			}
			lastOfKey[m.Key] = seqOf(m.Data)
			seen[string(m.Data)] = m.ID
			ids[m.ID] = true
		}
		ack(t, r.ack)
		return len(seen) == n
	})
	closeSource(t, src)

	// After a restart, nothing acked comes back: only what is new.
	more := publish(t, env, "second", 5)
	src = env.Source(t, "acceptance", 0, 1, stream.SourceOptions{MaxBatch: 50})
	defer closeSource(t, src)
	got := 0
	readUntil(t, env, src, func(r read) bool {
		for _, m := range r.batch {
			if _, old := seen[string(m.Data)]; old {
				t.Fatalf("acked message %s (%s) delivered again after a restart", m.Data, m.ID)
			}
			checkMessage(t, m, more)
			got++
		}
		ack(t, r.ack)
		return got >= 5
	})
	if got != 5 {
		t.Errorf("after the restart got %d new messages, want 5", got)
	}
}

func testRedeliverAfterRestart(t *testing.T, env Env) {
	const n = 100
	sent := publish(t, env, "redeliver", n)
	src := env.Source(t, "acceptance", 0, 1, stream.SourceOptions{MaxBatch: 10})
	var reads []read
	total := 0
	readUntil(t, env, src, func(r read) bool {
		reads = append(reads, r)
		total += len(r.batch)
		return total >= n
	})
	if total != n {
		t.Fatalf("read %d messages, want %d", total, n)
	}
	// Ack the first half of the batches (for partitioned backends, a
	// prefix of every partition), leave the rest unacked, and restart.
	acked, unacked := map[string]string{}, map[string]string{} // data → ID
	for i, r := range reads {
		for _, m := range r.batch {
			if i < len(reads)/2 {
				acked[string(m.Data)] = m.ID
			} else {
				unacked[string(m.Data)] = m.ID
			}
		}
		if i < len(reads)/2 {
			ack(t, r.ack)
		}
	}
	closeSource(t, src)
	if err := reads[len(reads)-1].ack(context.Background()); err == nil {
		t.Errorf("an ack after Close succeeded")
	}

	src = env.Source(t, "acceptance", 0, 1, stream.SourceOptions{MaxBatch: 10})
	defer closeSource(t, src)
	again := map[string]bool{}
	readUntil(t, env, src, func(r read) bool {
		for _, m := range r.batch {
			checkMessage(t, m, sent)
			if id, ok := acked[string(m.Data)]; ok {
				t.Fatalf("acked message %s (%s) delivered again", m.Data, id)
			}
			if id := unacked[string(m.Data)]; id != m.ID {
				t.Errorf("redelivered %s has ID %s, first delivered as %s", m.Data, m.ID, id)
			}
			again[string(m.Data)] = true
		}
		ack(t, r.ack)
		return len(again) == len(unacked)
	})
}

func testGroupSplitsWork(t *testing.T, env Env) {
	const n = 200
	opts := stream.SourceOptions{MaxBatch: 5}
	a := env.Source(t, "split", 0, 2, opts)
	defer closeSource(t, a)
	b := env.Source(t, "split", 1, 2, opts)
	defer closeSource(t, b)
	if env.Settle > 0 { // let the group share its partitions before anything is read
		time.Sleep(env.Settle)
	}
	sent := publish(t, env, "split", n)

	var (
		mu     sync.Mutex
		owner  = map[string]string{} // data → member that got it
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	done := make(chan struct{})
	deadline := time.Now().Add(env.Wait)
	for name, src := range map[string]stream.Source{"a": a, "b": b} {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				batch, ackFn, err := src.ReadBatch(ctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					continue
				}
				if err != nil {
					t.Errorf("member %s: ReadBatch: %v", name, err)
					return
				}
				mu.Lock()
				for _, m := range batch {
					checkMessage(t, m, sent)
					if prev, ok := owner[string(m.Data)]; ok {
						t.Errorf("%s went to member %s and to member %s", m.Data, prev, name)
					}
					owner[string(m.Data)] = name
					counts[name]++
				}
				all := len(owner) == n
				mu.Unlock()
				if err := ackFn(context.Background()); err != nil {
					t.Errorf("member %s: ack: %v", name, err)
				}
				if all {
					close(done)
					return
				}
				time.Sleep(time.Millisecond) // give the other member its turn
			}
		})
	}
	wg.Wait()
	if len(owner) != n {
		t.Fatalf("the group consumed %d of %d messages", len(owner), n)
	}
	if counts["a"] == 0 || counts["b"] == 0 {
		t.Errorf("one member did all the work: %v", counts)
	}
	t.Logf("split: %v", counts)
}

func testBoundedInFlight(t *testing.T, env Env) {
	const n, maxBatch, maxInFlight = 60, 8, 20
	sent := publish(t, env, "bounded", n)
	src := env.Source(t, "bounded", 0, 1, stream.SourceOptions{MaxBatch: maxBatch, MaxInFlight: maxInFlight})
	defer closeSource(t, src)
	var held []read
	out := 0
	readUntil(t, env, src, func(r read) bool {
		for _, m := range r.batch {
			checkMessage(t, m, sent)
		}
		held = append(held, r)
		out += len(r.batch)
		if out > maxInFlight {
			t.Fatalf("%d messages handed out unacked, more than MaxInFlight %d", out, maxInFlight)
		}
		return out == maxInFlight
	})

	// Full: ReadBatch waits instead of reading more.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	b, _, err := src.ReadBatch(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || len(b) != 0 {
		t.Fatalf("ReadBatch with %d unacked messages (the bound) = %d messages, %v; want to wait until ctx ends",
			maxInFlight, len(b), err)
	}

	// An ack makes room for exactly as many messages.
	got := map[string]bool{}
	freed := len(held[0].batch)
	for _, m := range held[0].batch {
		got[string(m.Data)] = true
	}
	ack(t, held[0].ack)
	held = held[1:]
	out -= freed
	readUntil(t, env, src, func(r read) bool {
		out += len(r.batch)
		if out > maxInFlight {
			t.Fatalf("%d messages handed out unacked after an ack of %d, more than MaxInFlight %d", out, freed, maxInFlight)
		}
		held = append(held, r)
		return out == maxInFlight
	})
	// Ack everything, then the rest flows.
	for _, r := range held {
		for _, m := range r.batch {
			got[string(m.Data)] = true
		}
		ack(t, r.ack)
	}
	if len(got) >= n {
		return
	}
	readUntil(t, env, src, func(r read) bool {
		for _, m := range r.batch {
			got[string(m.Data)] = true
		}
		ack(t, r.ack)
		return len(got) >= n
	})
	if len(got) != n {
		t.Errorf("got %d distinct messages, want %d", len(got), n)
	}
}

func testContract(t *testing.T, env Env) {
	src := env.Source(t, "contract", 0, 1, stream.SourceOptions{MaxBatch: 10})

	// Nothing to read: ReadBatch returns ctx's error, promptly.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	b, a, err := src.ReadBatch(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || b != nil || a != nil {
		t.Fatalf("ReadBatch on an empty stream = %d messages, %v; want context.DeadlineExceeded", len(b), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ReadBatch took %s to notice its context ended", d)
	}

	sent := publish(t, env, "contract", 3)
	var reads []read
	got := 0
	readUntil(t, env, src, func(r read) bool {
		reads = append(reads, r)
		got += len(r.batch)
		return got >= 3
	})
	for _, r := range reads {
		for _, m := range r.batch {
			checkMessage(t, m, sent)
		}
		ack(t, r.ack)
		if err := r.ack(context.Background()); err != nil {
			t.Errorf("second call of an ack: %v", err)
		}
	}

	closeSource(t, src)
	if err := src.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := src.ReadBatch(context.Background()); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("ReadBatch after Close: %v, want stream.ErrClosed", err)
	}
	if s := src.String(); s == "" || strings.Contains(s, "password") {
		t.Errorf("String() = %q", s)
	}
}

// seqOf returns the "n" field of a payload, which sorts in publishing order.
func seqOf(data []byte) string {
	_, rest, _ := strings.Cut(string(data), `"n":"`)
	n, _, _ := strings.Cut(rest, `"`)
	return n
}
