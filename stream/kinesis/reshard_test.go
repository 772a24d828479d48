package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/recoflow/recoflow/stream"
)

// fakeKinesis is an in-memory stream with the resharding behaviour of the
// real service, which moto does not reproduce (its SplitShard moves the
// parent's records into the children and keeps writing to the parent): a
// split closes the parent, whose GetRecords ends with no next iterator once
// it is read, and new records go to the children.
type fakeKinesis struct {
	mu     sync.Mutex
	seq    int
	shards []*fakeShard
}

type fakeShard struct {
	id, parent string
	recs       []types.Record
	closed     bool
}

func (f *fakeKinesis) addShard(parent string) *fakeShard {
	sh := &fakeShard{id: fmt.Sprintf("shardId-%012d", len(f.shards)), parent: parent}
	f.shards = append(f.shards, sh)
	return sh
}

// put appends a record to the open shard at index key%open.
func (f *fakeKinesis) put(key int, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var open []*fakeShard
	for _, sh := range f.shards {
		if !sh.closed {
			open = append(open, sh)
		}
	}
	sh := open[key%len(open)]
	f.seq++
	sh.recs = append(sh.recs, types.Record{Data: []byte(data), PartitionKey: aws.String(strconv.Itoa(key)),
		SequenceNumber: aws.String(fmt.Sprintf("%020d", f.seq)), ApproximateArrivalTimestamp: aws.Time(time.Now())})
}

// split closes shard i and opens two children.
func (f *fakeKinesis) split(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards[i].closed = true
	f.addShard(f.shards[i].id)
	f.addShard(f.shards[i].id)
}

func (f *fakeKinesis) ListShards(_ context.Context, _ *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &kinesis.ListShardsOutput{}
	for _, sh := range f.shards {
		s := types.Shard{ShardId: aws.String(sh.id)}
		if sh.parent != "" {
			s.ParentShardId = aws.String(sh.parent)
		}
		out.Shards = append(out.Shards, s)
	}
	return out, nil
}

func (f *fakeKinesis) shard(id string) *fakeShard {
	for _, sh := range f.shards {
		if sh.id == id {
			return sh
		}
	}
	return nil
}

func (f *fakeKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sh := f.shard(aws.ToString(in.ShardId))
	if sh == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard")}
	}
	pos := 0
	if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		for pos < len(sh.recs) && aws.ToString(sh.recs[pos].SequenceNumber) <= aws.ToString(in.StartingSequenceNumber) {
			pos++
		}
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(sh.id + "/" + strconv.Itoa(pos))}, nil
}

func (f *fakeKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	pos, _ := strconv.Atoi(p)
	sh := f.shard(id)
	end := min(len(sh.recs), pos+int(aws.ToInt32(in.Limit)))
	out := &kinesis.GetRecordsOutput{Records: sh.recs[pos:end], MillisBehindLatest: aws.Int64(0)}
	if !sh.closed || end < len(sh.recs) {
		out.NextShardIterator = aws.String(sh.id + "/" + strconv.Itoa(end))
	}
	return out, nil
}

func fakeSource(t *testing.T, fk *fakeKinesis, ck Checkpointer, worker, workers int) *Source {
	t.Helper()
	cfg, err := Config{Stream: "fake", Checkpoints: ck, Worker: worker, Workers: workers,
		PollInterval: 10 * time.Millisecond, ListInterval: 100 * time.Millisecond}.withDefaults(true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSource(context.Background(), cfg, fk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func readFor(t *testing.T, s *Source, wait time.Duration) (stream.Batch, stream.AckFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	b, ack, err := s.ReadBatch(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b, ack
}

// TestReshard splits the only shard while records of it are unacked: the
// parent is read to its end, its children only once all of it is acked (so
// each key's events stay in order), and the parent's checkpoint becomes
// ShardEnd. A new Source then starts from the children.
func TestReshard(t *testing.T) {
	ctx := context.Background()
	fk := &fakeKinesis{}
	fk.addShard("")
	for i := range 20 {
		fk.put(i%5, fmt.Sprintf("a-%02d", i))
	}
	ck, _ := NewFileCheckpoints(t.TempDir())
	src := fakeSource(t, fk, ck, 0, 1)

	var got []stream.Message
	var acks []stream.AckFunc
	for len(got) < 20 {
		b, ack := readFor(t, src, time.Minute)
		if b == nil {
			t.Fatalf("read %d of the parent's 20 records", len(got))
		}
		got, acks = append(got, b...), append(acks, ack)
	}
	fk.split(0)
	for i := range 20 {
		fk.put(i%5, fmt.Sprintf("b-%02d", i))
	}
	time.Sleep(3 * src.cfg.ListInterval)
	if b, _ := readFor(t, src, 300*time.Millisecond); b != nil {
		t.Fatalf("a child shard was read while its parent had unacked records: %s", b[0].ID)
	}
	for _, ack := range acks {
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; n < 20; {
		b, ack := readFor(t, src, time.Minute)
		if b == nil {
			t.Fatalf("read %d of the children's 20 records", n)
		}
		for _, m := range b {
			if m.Partition == "shardId-000000000000" {
				t.Fatalf("parent record %s delivered again", m.ID)
			}
		}
		got = append(got, b...)
		n += len(b)
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	last := map[string]string{}
	for _, m := range got {
		if prev := last[m.Key]; prev > string(m.Data) {
			t.Errorf("key %s: %s after %s", m.Key, m.Data, prev)
		}
		last[m.Key] = string(m.Data)
	}
	if c, _ := ck.Get(ctx, "fake", DefaultGroup, "shardId-000000000000"); c != ShardEnd {
		t.Errorf("parent checkpoint %q, want %s", c, ShardEnd)
	}
	src.Close(ctx)

	// A new source skips the finished parent and resumes the children.
	fk.put(1, "c-00")
	src = fakeSource(t, fk, ck, 0, 1)
	b, ack := readFor(t, src, time.Minute)
	if len(b) != 1 || string(b[0].Data) != "c-00" {
		t.Fatalf("after a restart: %v", b)
	}
	ack(ctx)
}

// TestWorkersDivideShards: two workers of a group read disjoint halves of
// the shards, and a child shard waits for a parent another worker owns.
func TestWorkersDivideShards(t *testing.T) {
	ctx := context.Background()
	fk := &fakeKinesis{}
	for range 4 {
		fk.addShard("")
	}
	for i := range 40 {
		fk.put(i, fmt.Sprintf("m-%02d", i))
	}
	ck, _ := NewFileCheckpoints(t.TempDir())
	w0, w1 := fakeSource(t, fk, ck, 0, 2), fakeSource(t, fk, ck, 1, 2)
	owner := map[string]int{}
	for n := 0; n < 40; {
		for w, s := range []*Source{w0, w1} {
			b, ack := readFor(t, s, 100*time.Millisecond)
			for _, m := range b {
				if o, ok := owner[m.Partition]; ok && o != w {
					t.Fatalf("shard %s read by workers %d and %d", m.Partition, o, w)
				}
				owner[m.Partition] = w
				n++
			}
			if ack != nil {
				ack(ctx)
			}
		}
	}
	if len(owner) != 4 || owner["shardId-000000000000"] != 0 || owner["shardId-000000000001"] != 1 {
		t.Errorf("shard owners %v, want index %% 2", owner)
	}

	// Split worker 0's first shard: its second child (index 5) belongs to
	// worker 1, which learns from the shared checkpoints that the parent
	// is finished.
	fk.split(0)
	for i := range 12 {
		fk.put(i, fmt.Sprintf("n-%02d", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for owner["shardId-000000000005"] != 1 && time.Now().Before(deadline) {
		for w, s := range []*Source{w0, w1} {
			b, ack := readFor(t, s, 50*time.Millisecond)
			for _, m := range b {
				owner[m.Partition] = w
			}
			if ack != nil {
				ack(ctx)
			}
		}
	}
	if owner["shardId-000000000004"] != 0 || owner["shardId-000000000005"] != 1 {
		t.Errorf("children owners %v, want shard 4 to worker 0 and 5 to worker 1", owner)
	}
}
