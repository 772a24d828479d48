package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/recoflow/recoflow/stream"
)

// publishN publishes n messages m0, m1, … on cfg's stream and waits until
// the server has stored them.
func publishN(t *testing.T, cfg Config, n int) {
	t.Helper()
	ctx := context.Background()
	p := open(t, NewProducer, cfg)
	for i := range n {
		if err := p.Publish(ctx, "k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// readN reads batches from s until it holds n messages, and returns them
// with the ack of each batch.
func readN(t *testing.T, s *Source, n int) (stream.Batch, []stream.AckFunc) {
	t.Helper()
	var got stream.Batch
	var acks []stream.AckFunc
	deadline := time.Now().Add(2 * time.Minute) // generous: CI is a loaded machine
	for len(got) < n {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		b, ack, err := s.ReadBatch(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), n, err)
		}
		got = append(got, b...)
		acks = append(acks, ack)
	}
	return got, acks
}

// consumerInfo asks the server about the consumer of s, on a connection
// of its own (not through a test proxy).
func consumerInfo(t *testing.T, url string, s *Source) *jetstream.ConsumerInfo {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cons, err := js.Consumer(ctx, s.cfg.Stream, s.cfg.Consumer)
	if err != nil {
		t.Fatalf("consumer %s > %s: %v", s.cfg.Stream, s.cfg.Consumer, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s > %s info: %v", s.cfg.Stream, s.cfg.Consumer, err)
	}
	return info
}

// lastSeq is the stream sequence of the last message of b.
func lastSeq(t *testing.T, b stream.Batch) uint64 {
	t.Helper()
	seq, err := strconv.ParseUint(b[len(b)-1].Position, 10, 64)
	if err != nil {
		t.Fatalf("message %s: position %q: %v", b[len(b)-1].ID, b[len(b)-1].Position, err)
	}
	return seq
}

// checkAllAcked fails unless the consumer has applied the acks of every
// message up to seq: its ack floor is seq, nothing is pending, and nothing
// was delivered twice.
func checkAllAcked(t *testing.T, url string, s *Source, seq uint64) {
	t.Helper()
	info := consumerInfo(t, url, s)
	if info.AckFloor.Stream != seq || info.NumAckPending != 0 || info.NumRedelivered != 0 {
		t.Fatalf("consumer %s > %s: ack floor %d (want %d), %d acks pending, %d redelivered (want 0)",
			s.cfg.Stream, s.cfg.Consumer, info.AckFloor.Stream, seq, info.NumAckPending, info.NumRedelivered)
	}
}

// TestAckConfirmsWholeBatch: once an ack returns, the server has applied
// the acks of its whole batch (plain acks and one confirmed double ack):
// the ack floor is the last message, nothing is pending, and the next
// message read is a new one.
func TestAckConfirmsWholeBatch(t *testing.T) {
	ctx := context.Background()
	cfg := realNATS(t)
	cfg.Source.MaxBatch = 7
	const n = 21
	publishN(t, cfg, n)
	s := open(t, NewSource, cfg)
	defer s.Close(ctx)
	got, acks := readN(t, s, n)
	for _, ack := range acks {
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	checkAllAcked(t, cfg.URL, s, lastSeq(t, got))
	if r := s.c.reacked.Load(); r != 0 {
		t.Errorf("%d batches acked again without a reconnect", r)
	}

	// Evidence of no redelivery: the next message read is the new one.
	p := open(t, NewProducer, cfg)
	if err := p.Publish(ctx, "k", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	next, acks := readN(t, s, 1)
	if len(next) != 1 || string(next[0].Data) != "after" {
		t.Fatalf("after acking %d messages, read %d: first %s; want the new message only", n, len(next), next[0].Data)
	}
	if err := acks[0](ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAckDeletedConsumer: acking a batch of a consumer deleted meanwhile
// fails at once (not at a timeout) with an error that names the consumer.
func TestAckDeletedConsumer(t *testing.T) {
	ctx := context.Background()
	cfg := realNATS(t)
	publishN(t, cfg, 5)
	s := open(t, NewSource, cfg)
	defer s.Close(ctx)
	_, acks := readN(t, s, 5)
	if err := s.c.js.DeleteConsumer(ctx, s.cfg.Stream, s.cfg.Consumer); err != nil {
		t.Fatalf("delete consumer %s > %s: %v", s.cfg.Stream, s.cfg.Consumer, err)
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute) // the bound; the answer comes at once
	defer cancel()
	err := acks[0](actx)
	want := fmt.Sprintf("consumer %s > %s is gone (deleted?)", s.cfg.Stream, s.cfg.Consumer)
	switch {
	case err == nil:
		t.Fatal("ack of a deleted consumer's batch succeeded")
	case errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("ack of a deleted consumer's batch waited for its deadline: %v", err)
	case !strings.Contains(err.Error(), want) || !errors.Is(err, stream.ErrNotFound):
		t.Fatalf("ack error %q: want it to say %q and wrap stream.ErrNotFound", err, want)
	}
	t.Log(err)
}

// TestAckErrorRedelivered: an ack that fails (the server gets none of it)
// returns an error, and the batch's messages come again.
func TestAckErrorRedelivered(t *testing.T) {
	ctx := context.Background()
	cfg := realNATS(t)
	publishN(t, cfg, 5)
	px := startProxy(t, cfg.URL)
	pcfg := cfg
	pcfg.URL = px.url
	pcfg.AckWait = time.Second // the messages come back soon after the failed ack
	s := open(t, NewSource, pcfg)
	defer s.Close(ctx)
	got, acks := readN(t, s, 5)

	px.setDropping(true) // the server gets nothing from here on
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := acks[0](actx)
	cancel()
	if err == nil {
		t.Fatal("an ack the server never got succeeded")
	}
	t.Log(err)
	px.cut() // forward again, on new connections

	want := map[string]bool{}
	for _, m := range got {
		want[m.ID] = true
	}
	deadline := time.Now().Add(2 * time.Minute) // generous: CI is a loaded machine
	for len(want) > 0 {
		rctx, cancel := context.WithDeadline(ctx, deadline)
		b, ack, err := s.ReadBatch(rctx)
		cancel()
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("%d messages of the failed ack not delivered again: %v", len(want), err)
			}
			time.Sleep(100 * time.Millisecond) // reconnecting: read again
			continue
		}
		for _, m := range b {
			if !want[m.ID] {
				t.Fatalf("unexpected message %s", m.ID)
			}
			delete(want, m.ID)
		}
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAckAfterReconnect: the connection is lost after the plain acks of a
// batch (which the server never gets) and before their confirmation; the
// ack must notice the reconnect and ack the whole batch again, so that it
// returns nil only with every message acked on the server.
func TestAckAfterReconnect(t *testing.T) {
	ctx := context.Background()
	cfg := realNATS(t)
	const n = 50
	publishN(t, cfg, n)
	px := startProxy(t, cfg.URL)
	pcfg := cfg
	pcfg.URL = px.url
	pcfg.Source.MaxBatch = 100 // one batch, no read-ahead
	s := open(t, NewSource, pcfg)
	defer s.Close(ctx)
	got, acks := readN(t, s, n)
	if len(acks) != 1 {
		t.Fatalf("%d messages in %d batches; want one batch", n, len(acks))
	}

	px.setDropping(true) // the plain acks never reach the server
	s.c.afterPlainAcks = func() {
		px.waitDropped(t, n-1)
		px.cut()
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute) // generous: CI is a loaded machine
	err := acks[0](actx)
	cancel()
	s.c.afterPlainAcks = nil
	if err != nil {
		t.Fatal(err)
	}
	if r := s.c.reacked.Load(); r != 1 {
		t.Fatalf("%d batches acked again after the reconnect; want 1", r)
	}
	checkAllAcked(t, cfg.URL, s, lastSeq(t, got))
}

// proxy forwards TCP connections from a loopback port to a NATS server;
// it can drop what clients send and cut every connection.
type proxy struct {
	url    string // the NATS URL through the proxy
	target string // host:port of the server

	mu       sync.Mutex
	conns    []net.Conn
	dropping bool
	dropped  []byte // what clients sent while dropping
}

// startProxy starts a proxy to the server of the NATS URL u (one server),
// stopped when the test ends.
func startProxy(t *testing.T, u string) *proxy {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("NATS URL: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &proxy{target: parsed.Host}
	parsed.Host = ln.Addr().String()
	px.url = parsed.String()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		px.cut()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", px.target)
			if err != nil {
				t.Logf("proxy: dial %s: %v", px.target, err)
				client.Close()
				continue
			}
			px.mu.Lock()
			px.conns = append(px.conns, client, server)
			px.mu.Unlock()
			wg.Go(func() {
				io.Copy(client, server)
				client.Close()
				server.Close()
			})
			wg.Go(func() {
				px.forward(server, client)
				client.Close()
				server.Close()
			})
		}
	})
	return px
}

// forward copies what the client sends to the server, unless dropping.
func (px *proxy) forward(server, client net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			px.mu.Lock()
			drop := px.dropping
			if drop {
				px.dropped = append(px.dropped, buf[:n]...)
			}
			px.mu.Unlock()
			if !drop {
				if _, err := server.Write(buf[:n]); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// setDropping starts or stops dropping what clients send.
func (px *proxy) setDropping(on bool) {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.dropping = on
}

// waitDropped waits until the proxy has dropped at least n acks (+ACK).
func (px *proxy) waitDropped(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: CI is a loaded machine
	for {
		px.mu.Lock()
		got := bytes.Count(px.dropped, ackPayload)
		px.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("proxy dropped %d acks in a minute; want %d", got, n)
			return
		}
		time.Sleep(5 * time.Millisecond) // polling the proxy
	}
}

// cut closes every connection through the proxy and stops dropping: the
// clients reconnect through it.
func (px *proxy) cut() {
	px.mu.Lock()
	conns := px.conns
	px.conns = nil
	px.dropping = false
	px.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}
