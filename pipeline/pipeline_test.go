package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/pipeline"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/stream"
)

// memSource is a test double of a stream.Source (an in-memory queue): it
// hands out its messages in batches and, like a broker, delivers again
// whatever was not acknowledged when it is "restarted".
type memSource struct {
	mu      sync.Mutex
	msgs    []stream.Message
	next    int
	batch   int
	acked   map[string]bool
	allAckd chan struct{}
}

func newMemSource(msgs []stream.Message, batch int) *memSource {
	return &memSource{msgs: msgs, batch: batch, acked: map[string]bool{}, allAckd: make(chan struct{})}
}

func (s *memSource) ReadBatch(ctx context.Context) (stream.Batch, stream.AckFunc, error) {
	s.mu.Lock()
	if s.next >= len(s.msgs) {
		s.mu.Unlock()
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	end := min(s.next+s.batch, len(s.msgs))
	b := append(stream.Batch(nil), s.msgs[s.next:end]...)
	s.next = end
	s.mu.Unlock()
	return b, func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range b {
			s.acked[m.ID] = true
		}
		if len(s.acked) == len(s.msgs) {
			select {
			case <-s.allAckd:
			default:
				close(s.allAckd)
			}
		}
		return nil
	}, nil
}

func (s *memSource) Close(context.Context) error { return nil }
func (s *memSource) String() string              { return "memory" }

// prepare runs the demo's batch stages into dir and opens the engine.
func prepare(t *testing.T) (string, lake.Bucket, *recommend.Engine) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	var out strings.Builder
	if err := cli.Run(ctx, []string{"demo", "--batch-only", "--dir", dir, "--log-level", "warn"}, cli.Options{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	b, err := connect.Lake(ctx, "file://"+filepath.Join(dir, "lake"), connect.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := recommend.Open(ctx, b, "file://"+filepath.Join(dir, "vectors"), "", recommend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return dir, b, e
}

func readNDJSON(t *testing.T, b lake.Bucket, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	ctx := context.Background()
	err := b.List(ctx, prefix, func(key string) error {
		if !strings.HasSuffix(key, ".json") {
			return nil
		}
		rc, err := b.Get(ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		sc := bufio.NewScanner(rc)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return fmt.Errorf("%s: %v", key, err)
			}
			out = append(out, m)
		}
		_, _ = io.Copy(io.Discard, rc)
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPipelineDeliversEveryEventOnce(t *testing.T) {
	_, b, e := prepare(t)
	now := time.Now()
	var msgs []stream.Message
	good := map[string]string{} // id -> session
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("mem:events:%d", i+1)
		session := fmt.Sprintf("session-%03d", i)
		city, country, credit := "Nantes", "France", "21000"
		if i%2 == 1 {
			city, country, credit = "Atlantis", "Nowhere", "5000" // a shopper never seen
		}
		qty := `"7"`
		if i%3 == 0 {
			qty = "3"
		}
		data := fmt.Sprintf(`{"session_id":%q,"customer_number":%d,"city":%q,"country":%q,"credit_limit":%s,`+
			`"browse_history":[{"product_code":"S10_1678","quantity":%s,"in_shopping_cart":true},{"product_code":"S18_2625","quantity":"1","in_shopping_cart":false}]}`,
			session, 100+i, city, country, credit, qty)
		msgs = append(msgs, stream.Message{ID: id, Data: []byte(data), Time: now})
		good[id] = session
	}
	bad := map[string]string{
		"mem:events:bad1": `{"session_id":"x",`,
		"mem:events:bad2": `{"session_id":"y","customer_number":1,"city":"A","country":"B","credit_limit":1,"browse_history":[{"product_code":"S10_1678","quantity":"7x","in_shopping_cart":true}]}`,
	}
	for id, data := range bad {
		msgs = append(msgs, stream.Message{ID: id, Data: []byte(data), Time: now})
	}
	src := newMemSource(msgs, 7)
	tr, err := pipeline.NewTransformer(e, pipeline.TransformOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snk, err := connect.Sink(context.Background(), "", b, connect.SinkOptions{BufferInterval: 200 * time.Millisecond, Stream: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, src, tr, snk, pipeline.Options{}) }()
	select {
	case <-src.allAckd:
	case <-time.After(30 * time.Second):
		t.Fatal("not every event was acknowledged within 30 s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	recs := readNDJSON(t, b, "recommendations/")
	seen := map[string]int{}
	for _, r := range recs {
		s, _ := r["session_id"].(string)
		seen[s]++
		items, _ := r["recommended_items"].([]any)
		if len(items) != 10 {
			t.Errorf("session %s: %d recommended_items, want 10", s, len(items))
		}
		sim, _ := r["similar_items"].(map[string]any)
		if sim["product_code"] != "S10_1678" {
			t.Errorf("session %s: similar_items for %v, want the item in the cart S10_1678", s, sim["product_code"])
		}
		if list, _ := sim["similar_items"].([]any); len(list) != 5 {
			t.Errorf("session %s: %d similar items, want 5", s, len(list))
		} else {
			for _, x := range list {
				if x.(map[string]any)["id"] == "S10_1678" {
					t.Errorf("session %s: the item itself is among its similar items", s)
				}
			}
		}
		if _, ok := r["browse_history"]; !ok {
			t.Errorf("session %s: the input fields are not kept", s)
		}
	}
	for _, s := range good {
		if seen[s] != 1 {
			t.Errorf("session %s has %d output records, want exactly 1", s, seen[s])
		}
	}
	errs := readNDJSON(t, b, "recommendations-errors/")
	if len(errs) != len(bad) {
		t.Fatalf("%d error records, want %d: %v", len(errs), len(bad), errs)
	}
	all := fmt.Sprint(errs)
	if !strings.Contains(all, "quantity") {
		t.Errorf("error records do not name the bad field: %s", all)
	}
}
