package lake

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recoflow/recoflow/batch"
	rlake "github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/sink"
)

// benchRecord is a recommendation record of about 1 KiB, the size of the
// lab's output (the input event plus five recommended and five similar
// items).
func benchRecord(id string) []byte {
	return fmt.Appendf(nil, `{"session_id":%q,"customer_number":478,"city":"Pasadena","country":"USA","credit_limit":59811,`+
		`"browse_history":[{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true},{"product_code":"S18_3232","quantity":2,"in_shopping_cart":false}],`+
		`"recommended_items":[{"id":"S10_1678","score":0.9812},{"id":"S10_1949","score":0.9731},{"id":"S10_2016","score":0.9655},{"id":"S10_4698","score":0.9521},{"id":"S10_4757","score":0.9433}],`+
		`"similar_items":{"product_code":"S50_1514","similar_items":[{"id":"S18_1097","distance":0.0123},{"id":"S18_1129","distance":0.0234},{"id":"S18_1342","distance":0.0345},{"id":"S18_1367","distance":0.0456},{"id":"S18_1589","distance":0.0567}]},`+
		`"pad":"%0220d"}`, id, 0)
}

// BenchmarkDelivery measures the latency from handing a batch to the lake
// sink (file lake, 1 s interval, 5 MiB size) to its acknowledgement, which
// comes only once the object holding it is durable (fsynced), at a steady
// rate of records for 10 s; and the peak heap while doing so.
//
//	go test ./sink/lake -run '^$' -bench Delivery -benchtime 1x
func BenchmarkDelivery(b *testing.B) {
	for _, c := range []struct {
		name      string
		perSecond int // records per second, in batches every 10 ms
		gzip      bool
	}{
		{"rate=1000", 1000, false},
		{"rate=1000/gzip", 1000, true},
		{"rate=10000", 10000, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				benchDelivery(b, c.perSecond, c.gzip, 10*time.Second)
			}
		})
	}
}

func benchDelivery(b *testing.B, perSecond int, gz bool, d time.Duration) {
	fb, err := lakefile.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	bucket := &timedBucket{Bucket: fb}
	s, err := New(b.Context(), bucket, Options{Gzip: gz}, sink.Options{
		Policy: batch.Policy{Bytes: sink.DefaultBufferSize, Period: time.Second},
		Logger: quiet(),
	})
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		peak      uint64
	)
	cpu0 := cpu()
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // peak heap, sampled every 20 ms
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	// Every 10 ms, hand in the records owed by the clock (so a late tick on
	// a busy machine does not lower the rate).
	ticker := time.NewTicker(10 * time.Millisecond)
	n := 0
	begin := time.Now()
	for end := begin.Add(d); time.Now().Before(end); <-ticker.C {
		owed := int(time.Since(begin).Seconds()*float64(perSecond)) - n
		if owed <= 0 {
			continue
		}
		recs := make([]sink.Record, owed)
		for i := range recs {
			id := fmt.Sprint(n)
			n++
			recs[i] = sink.Record{ID: id, Data: benchRecord(id)}
		}
		start := time.Now()
		err := s.Write(context.Background(), sink.Batch{Records: recs, Ack: func(context.Context) error {
			lat := time.Since(start)
			mu.Lock()
			latencies = append(latencies, lat)
			mu.Unlock()
			return nil
		}})
		if err != nil {
			b.Fatal(err)
		}
	}
	ticker.Stop()
	// Let the last interval flush on its own, then close.
	time.Sleep(1200 * time.Millisecond)
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	close(stop)
	<-sampled
	st := s.Stats()
	slices.Sort(latencies)
	q := func(p float64) float64 { return latencies[int(p*float64(len(latencies)-1))].Seconds() }
	b.ReportMetric(q(0.5), "p50-s")
	b.ReportMetric(q(0.99), "p99-s")
	b.ReportMetric(latencies[len(latencies)-1].Seconds(), "max-s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(st.Written)/d.Seconds(), "records/s")
	b.ReportMetric(float64(st.Flushes), "flushes")
	slices.Sort(bucket.puts)
	b.ReportMetric(bucket.puts[len(bucket.puts)/2].Seconds(), "put-p50-s")
	b.ReportMetric(bucket.puts[len(bucket.puts)-1].Seconds(), "put-max-s")
	b.ReportMetric(cpu().Seconds()-cpu0.Seconds(), "cpu-s")
}

// timedBucket times every Put (ledger entries and objects: write, fsync,
// rename, directory fsync).
type timedBucket struct {
	rlake.Bucket
	mu   sync.Mutex
	puts []time.Duration
}

func (t *timedBucket) Put(ctx context.Context, key string, r io.Reader) error {
	start := time.Now()
	err := t.Bucket.Put(ctx, key, r)
	t.mu.Lock()
	t.puts = append(t.puts, time.Since(start))
	t.mu.Unlock()
	return err
}

// cpu returns the CPU time (user and system) used by the process so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
