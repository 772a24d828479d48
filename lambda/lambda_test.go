package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
)

// enrich is the test's transform: it parses the shopper event, drops
// heartbeats (an empty session_id) and adds a fixed recommendation, as the
// fixtures' expected responses say.
func enrich(_ context.Context, data []byte) ([]byte, error) {
	var ev struct {
		SessionID *string `json:"session_id"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if ev.SessionID == nil || *ev.SessionID == "" {
		return nil, fmt.Errorf("heartbeat: %w", ErrDrop)
	}
	out := bytes.TrimSuffix(bytes.TrimSpace(data), []byte("}"))
	return append(out, `,"recommended_items":[{"id":"S10_1678","score":0.5}]}`...), nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestFixtures feeds events in the shape Firehose sends (from a Kinesis
// stream and from Direct PUT) through aws-lambda-go's own invocation path
// (JSON in, JSON out, as the Lambda runtime does) and compares the
// response with the expected one.
func TestFixtures(t *testing.T) {
	for _, name := range []string{"kinesis-source", "direct-put"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile("testdata/firehose-" + name + "-event.json")
			if err != nil {
				t.Fatal(err)
			}
			wantRaw, err := os.ReadFile("testdata/firehose-" + name + "-response.json")
			if err != nil {
				t.Fatal(err)
			}
			h := awslambda.NewHandler(NewHandler(enrich, Options{Logger: quiet(), Concurrency: 3}))
			gotRaw, err := h.Invoke(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(gotRaw, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("response:\n%s\nwant:\n%s", gotRaw, wantRaw)
			}
		})
	}
}

func event(data ...string) events.KinesisFirehoseEvent {
	ev := events.KinesisFirehoseEvent{InvocationID: "inv-1"}
	for i, d := range data {
		ev.Records = append(ev.Records, events.KinesisFirehoseEventRecord{RecordID: fmt.Sprint("r", i), Data: []byte(d)})
	}
	return ev
}

func TestResults(t *testing.T) {
	transform := func(_ context.Context, data []byte) ([]byte, error) {
		switch string(data) {
		case "panic":
			panic("boom")
		case "fail":
			return nil, errors.New("bad input")
		case "empty":
			return nil, nil
		case "newline":
			return []byte("{\"a\":1}\n"), nil
		}
		return data, nil
	}
	resp, err := NewHandler(transform, Options{Logger: quiet()})(t.Context(), event(`{"x":1}`, "panic", "fail", "empty", "newline"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ result, data string }{
		{"Ok", "{\"x\":1}\n"},
		{"ProcessingFailed", "panic"},
		{"ProcessingFailed", "fail"},
		{"Dropped", "empty"},
		{"Ok", "{\"a\":1}\n"},
	}
	if len(resp.Records) != len(want) {
		t.Fatalf("%d results", len(resp.Records))
	}
	for i, w := range want {
		r := resp.Records[i]
		if r.RecordID != fmt.Sprint("r", i) || r.Result != w.result || string(r.Data) != w.data {
			t.Errorf("record %d: %s %s %q, want r%d %s %q", i, r.RecordID, r.Result, r.Data, i, w.result, w.data)
		}
	}
}

func TestRetryFailsInvocation(t *testing.T) {
	transform := func(_ context.Context, data []byte) ([]byte, error) {
		if string(data) == "b" {
			return nil, fmt.Errorf("vector store unreachable: %w", ErrRetry)
		}
		return data, nil
	}
	_, err := Handler(transform)(t.Context(), event("a", "b", "c"))
	if !errors.Is(err, ErrRetry) {
		t.Fatalf("err = %v, want ErrRetry", err)
	}
}

func TestDeadlineFailsInvocation(t *testing.T) {
	transform := func(ctx context.Context, data []byte) ([]byte, error) {
		select {
		case <-time.After(50 * time.Millisecond):
			return data, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Millisecond)
	defer cancel()
	_, err := NewHandler(transform, Options{Logger: quiet()})(ctx, event("a", "b", "c", "d"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
}

func TestConcurrencyKeepsOrder(t *testing.T) {
	var running, peak atomic.Int32
	transform := func(_ context.Context, data []byte) ([]byte, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Duration(len(data)%3) * time.Millisecond)
		running.Add(-1)
		return append([]byte("out-"), data...), nil
	}
	var in []string
	for i := range 40 {
		in = append(in, fmt.Sprintf("%0*d", i%5+1, i))
	}
	resp, err := NewHandler(transform, Options{Concurrency: 4})(t.Context(), event(in...))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Records {
		if r.RecordID != fmt.Sprint("r", i) || string(r.Data) != "out-"+in[i]+"\n" {
			t.Fatalf("record %d: %s %q", i, r.RecordID, r.Data)
		}
	}
	if peak.Load() > 4 {
		t.Fatalf("%d transforms at once, limit 4", peak.Load())
	}
}

func TestEmptyEvent(t *testing.T) {
	resp, err := Handler(enrich)(t.Context(), events.KinesisFirehoseEvent{})
	if err != nil || len(resp.Records) != 0 {
		t.Fatalf("%v %v", resp, err)
	}
}
