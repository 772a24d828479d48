package firehose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/recoflow/recoflow/batch"
	"github.com/recoflow/recoflow/internal/testenv"
	rlake "github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	lakes3 "github.com/recoflow/recoflow/lake/s3"
	"github.com/recoflow/recoflow/sink"
	sinklake "github.com/recoflow/recoflow/sink/lake"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func record(id string) sink.Record {
	return sink.Record{ID: id, Data: []byte(fmt.Sprintf(`{"session_id":%q}`, id))}
}

func errorWriter(t *testing.T) (*sinklake.Writer, rlake.Bucket) {
	t.Helper()
	b, err := lakefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := sinklake.NewWriter(b, sinklake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w, b
}

// fakeAPI is a test double of Firehose's PutRecordBatch: it records every
// call, fails the entries whose data the test names (a given number of
// times each), and can fail whole calls.
type fakeAPI struct {
	mu        sync.Mutex
	calls     [][]string // the data of each call's records, newline included
	accepted  []string
	failEntry map[string]int // data without newline → how many more times to fail it
	failCalls int            // fail this many more whole calls
	failAfter int            // fail whole calls only after this many calls
}

func (f *fakeAPI) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, _ ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(in.Records) > MaxBatchRecords {
		return nil, fmt.Errorf("%d records in one call", len(in.Records))
	}
	var call []string
	size := 0
	for _, r := range in.Records {
		call = append(call, string(r.Data))
		size += len(r.Data)
	}
	if size > MaxBatchBytes {
		return nil, fmt.Errorf("%d bytes in one call", size)
	}
	f.calls = append(f.calls, call)
	if len(f.calls) > f.failAfter && f.failCalls > 0 {
		f.failCalls--
		return nil, errors.New("ServiceUnavailableException: slow down (test)")
	}
	out := &firehose.PutRecordBatchOutput{FailedPutCount: aws.Int32(0)}
	for _, d := range call {
		key := strings.TrimSuffix(d, "\n")
		if f.failEntry[key] > 0 {
			f.failEntry[key]--
			*out.FailedPutCount++
			out.RequestResponses = append(out.RequestResponses, types.PutRecordBatchResponseEntry{
				ErrorCode: aws.String("ServiceUnavailableException"), ErrorMessage: aws.String("Slow down."),
			})
			continue
		}
		f.accepted = append(f.accepted, d)
		out.RequestResponses = append(out.RequestResponses, types.PutRecordBatchResponseEntry{RecordId: aws.String("id-" + key)})
	}
	return out, nil
}

func newSink(t *testing.T, api API, so sink.Options) (*sink.Buffered, rlake.Bucket) {
	t.Helper()
	ew, eb := errorWriter(t)
	so.Logger = quiet()
	so.MinBackoff, so.MaxBackoff = time.Millisecond, 10*time.Millisecond
	s, err := New(t.Context(), Config{DeliveryStream: "recs", Client: api, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, ew, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s, eb
}

func TestConfig(t *testing.T) {
	ew, _ := errorWriter(t)
	if _, err := NewWriter(t.Context(), Config{}, ew); err == nil {
		t.Error("no stream name accepted")
	}
	if _, err := NewWriter(t.Context(), Config{DeliveryStream: "x"}, nil); err == nil {
		t.Error("no error writer accepted")
	}
	if _, err := NewWriter(t.Context(), Config{DeliveryStream: "x", Endpoint: "127.0.0.1:5000"}, ew); err == nil {
		t.Error("endpoint without scheme accepted")
	}
	if _, err := NewWriter(t.Context(), Config{DeliveryStream: "x", Endpoint: "http://127.0.0.1:5000", Region: "eu-west-1"}, ew); err != nil {
		t.Error(err)
	}
}

func TestCallLimits(t *testing.T) {
	api := &fakeAPI{}
	s, _ := newSink(t, api, sink.Options{Policy: batch.Policy{Count: 2000}})
	var recs []sink.Record
	for i := range 1200 {
		recs = append(recs, record(fmt.Sprint(i)))
	}
	// Ten records of 600 KiB: at most six fit under 4 MiB.
	for i := range 10 {
		recs = append(recs, sink.Record{ID: fmt.Sprint("big", i), Data: bytes.Repeat([]byte("x"), 600<<10)})
	}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(api.accepted) != 1210 {
		t.Fatalf("%d records accepted, want 1210", len(api.accepted))
	}
	for i, d := range api.accepted {
		if !strings.HasSuffix(d, "\n") || strings.Count(d, "\n") != 1 {
			t.Fatalf("record %d is not newline-terminated: %q", i, d[:min(len(d), 40)])
		}
	}
	var calls []int
	for _, c := range api.calls {
		calls = append(calls, len(c))
	}
	// 500 + 500 small; 200 small and six large (under 4 MiB); four large.
	if !slices.Equal(calls, []int{500, 500, 206, 4}) {
		t.Fatalf("calls of %v records", calls)
	}
}

func TestPartialFailureResendsOnlyFailed(t *testing.T) {
	api := &fakeAPI{failEntry: map[string]int{`{"session_id":"b"}`: 2, `{"session_id":"d"}`: 1}}
	s, _ := newSink(t, api, sink.Options{Policy: batch.Policy{Count: 5}})
	var acked bool
	b := sink.Batch{Ack: func(context.Context) error { acked = true; return nil }}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		b.Records = append(b.Records, record(id))
	}
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !acked {
		t.Fatal("not acknowledged")
	}
	var calls []int
	for _, c := range api.calls {
		calls = append(calls, len(c))
	}
	if !slices.Equal(calls, []int{5, 2, 1}) {
		t.Fatalf("calls of %v records, want 5, then the 2 failed, then the 1 still failing", calls)
	}
	if len(api.accepted) != 5 {
		t.Fatalf("accepted %v", api.accepted)
	}
	if s.Stats().Retries != 0 {
		t.Fatal("partial failures within the rounds should not fail the flush")
	}
}

func TestWholeCallFailureKeepsProgress(t *testing.T) {
	// 700 records: the first call (500) succeeds, the second fails as a
	// whole twice; the sink retries the flush, which must send only the
	// 200 that were not accepted.
	api := &fakeAPI{failCalls: 2, failAfter: 1}
	s, _ := newSink(t, api, sink.Options{Policy: batch.Policy{Count: 700}})
	var recs []sink.Record
	for i := range 700 {
		recs = append(recs, record(fmt.Sprint(i)))
	}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var calls []int
	for _, c := range api.calls {
		calls = append(calls, len(c))
	}
	if !slices.Equal(calls, []int{500, 200, 200, 200}) {
		t.Fatalf("calls of %v records", calls)
	}
	if len(api.accepted) != 700 {
		t.Fatalf("%d accepted, want 700 (no duplicates)", len(api.accepted))
	}
	if s.Stats().Retries != 2 {
		t.Fatalf("retries %d, want 2", s.Stats().Retries)
	}
}

func TestPersistentEntryFailureRetriesFlush(t *testing.T) {
	api := &fakeAPI{failEntry: map[string]int{`{"session_id":"x"}`: rounds + 2}}
	s, _ := newSink(t, api, sink.Options{Policy: batch.Policy{Count: 1}})
	if err := s.Write(t.Context(), sink.Batch{Records: []sink.Record{record("x")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(api.accepted) != 1 || s.Stats().Retries != 1 {
		t.Fatalf("accepted %v, retries %d", api.accepted, s.Stats().Retries)
	}
}

func TestErrorRecordsGoToLake(t *testing.T) {
	api := &fakeAPI{}
	s, eb := newSink(t, api, sink.Options{Policy: batch.Policy{Count: 10}})
	huge := sink.Record{ID: "huge", Data: bytes.Repeat([]byte("y"), MaxRecordBytes)}
	if err := s.Write(t.Context(), sink.Batch{
		Records: []sink.Record{record("a"), huge},
		Errors:  []sink.ErrorRecord{{ID: "bad", Raw: []byte("{"), Reason: "unexpected end of JSON input"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(api.accepted, []string{`{"session_id":"a"}` + "\n"}) {
		t.Fatalf("accepted %v", api.accepted)
	}
	reasons := map[string]string{}
	for _, m := range readLines(t, eb, sinklake.DefaultErrorPrefix) {
		reasons[m["id"].(string)] = m["reason"].(string)
	}
	if reasons["bad"] != "unexpected end of JSON input" || !strings.Contains(reasons["huge"], "exceeds Firehose's limit") {
		t.Fatalf("error records %v", reasons)
	}
}

func readLines(t *testing.T, b rlake.Bucket, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	err := b.List(t.Context(), prefix, func(key string) error {
		r, err := b.Get(t.Context(), key)
		if err != nil {
			return err
		}
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return fmt.Errorf("%s: %q: %w", key, sc.Text(), err)
			}
			out = append(out, m)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMoto sends records through a real Firehose API (moto, which delivers
// each PutRecordBatch to its S3 bucket at once) and reads them back from
// the delivery stream's S3 destination.
func TestMoto(t *testing.T) {
	endpoint := testenv.URL(t, testenv.FirehoseVar)
	ctx := t.Context()
	suffix := fmt.Sprint(time.Now().UnixNano())
	bucketName, streamName := "recoflow-fh-"+suffix, "recoflow-recs-"+suffix
	dest, err := lakes3.Open(ctx, lakes3.Config{
		Bucket: bucketName, Endpoint: endpoint, PathStyle: true, Create: true,
		AccessKeyID: "testing", SecretAccessKey: "testing",
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, endpoint)
	_, err = admin.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(streamName),
		DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::" + bucketName),
			RoleARN:   aws.String("arn:aws:iam::123456789012:role/recoflow-firehose"),
			Prefix:    aws.String("recommendations/"),
		},
	})
	if err != nil {
		t.Fatalf("create delivery stream: %v", err)
	}
	t.Cleanup(func() {
		admin.DeleteDeliveryStream(context.Background(), &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String(streamName)})
	})

	ew, eb := errorWriter(t)
	s, err := New(ctx, Config{DeliveryStream: streamName, Endpoint: endpoint, AccessKeyID: "testing", SecretAccessKey: "testing"}, ew,
		sink.Options{Policy: batch.Policy{Count: 50, Period: 200 * time.Millisecond}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := 0
	for i := range 12 {
		var b sink.Batch
		for j := range 10 {
			b.Records = append(b.Records, record(fmt.Sprintf("s%d-%d", i, j)))
		}
		if i == 3 {
			b.Errors = []sink.ErrorRecord{{ID: "broken", Raw: []byte(`{"customer_number":`), Reason: "unexpected end of JSON input"}}
		}
		b.Ack = func(context.Context) error { mu.Lock(); acked++; mu.Unlock(); return nil }
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if acked != 12 {
		t.Fatalf("%d batches acknowledged, want 12", acked)
	}
	seen := map[string]int{}
	objects := 0
	err = dest.List(ctx, "recommendations/", func(key string) error {
		objects++
		if !strings.Contains(key, "/"+streamName+"-") {
			t.Errorf("object %s is not named after the delivery stream", key)
		}
		r, err := dest.Get(ctx, key)
		if err != nil {
			return err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if !bytes.HasSuffix(data, []byte("\n")) {
			t.Errorf("object %s does not end with a newline", key)
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n"), "\n") {
			var m map[string]string
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("%s: line %q: %v", key, line, err)
				continue
			}
			seen[m["session_id"]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 120 {
		t.Fatalf("%d distinct records in %d objects at the destination, want 120", len(seen), objects)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
	if errs := readLines(t, eb, sinklake.DefaultErrorPrefix); len(errs) != 1 || errs[0]["id"] != "broken" {
		t.Fatalf("error records %v", errs)
	}
}

func newClient(t *testing.T, endpoint string) *firehose.Client {
	t.Helper()
	return firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		// moto tells services apart by the signature, so sign.
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
}
