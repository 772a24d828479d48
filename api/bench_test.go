package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// benchConcurrency is the number of clients sending requests at once.
const benchConcurrency = 8

// BenchmarkItemsFromUser measures POST /items_from_user?limit=10 over real
// HTTP on 127.0.0.1 with benchConcurrency clients on keep-alive
// connections, against the embedded vector store, and reports the
// latency percentiles each client saw and the requests per second.
// Bodies are the user embeddings of the 122 classicmodels customers, in
// turn. Catalogues: the classicmodels products (exact search), and 20,000
// clustered 32-dimensional vectors (HNSW). "engine" is the same
// question asked in-process, without HTTP, for comparison.
//
//	go test ./api -run '^$' -bench ItemsFromUser -benchtime 20000x
func BenchmarkItemsFromUser(b *testing.B) {
	f := getFixture(b)
	big := b.TempDir()
	items := vectortest.Clustered(1, 20_000, f.model.Dim(), "S")
	st, err := local.Open(context.Background(), big, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Load(context.Background(), version, vector.FromSlice(items), nil); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		store vector.Reader
	}{
		{fmt.Sprintf("catalog=%d", len(f.products)), f.store},
		{"catalog=20000", st},
	} {
		e := f.engine(b, c.store, recommend.Options{})
		var bodies [][]byte
		var embs [][]float32
		for _, cu := range f.customers {
			emb := e.UserEmbedding(model.UserFeatures{City: cu.City, Country: cu.Country, CreditLimit: cu.CreditLimit})
			data, _ := json.Marshal(map[string]any{"embedding": emb})
			bodies, embs = append(bodies, data), append(embs, emb)
		}
		b.Run(c.name+"/http", func(b *testing.B) { benchHTTP(b, e, bodies) })
		b.Run(c.name+"/engine", func(b *testing.B) {
			runClients(b, func(i int) error {
				a, err := e.ItemsForUser(context.Background(), embs[i%len(embs)], 10)
				if err == nil && (a.Fallback || len(a.Items) != 10) {
					err = fmt.Errorf("answer %+v", a)
				}
				return err
			})
		})
	}
}

func benchHTTP(b *testing.B, e *recommend.Engine, bodies [][]byte) {
	srv, err := api.New(api.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv.SetEngine(e)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency, DisableCompression: true}}
	defer client.CloseIdleConnections()
	url := "http://" + ln.Addr().String() + "/items_from_user?limit=10"
	runClients(b, func(i int) error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || resp.Header.Get(api.HeaderFallback) != "") {
			err = fmt.Errorf("status %d, fallback %q", resp.StatusCode, resp.Header.Get(api.HeaderFallback))
		}
		return err
	})
}

// runClients calls do b.N times from benchConcurrency goroutines (after
// a warm-up of 200 calls) and reports the p50, p99 and p99.9 latency in
// microseconds and the calls per second.
func runClients(b *testing.B, do func(i int) error) {
	for i := range 200 {
		if err := do(i); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([][]time.Duration, benchConcurrency)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range benchConcurrency {
		lat[c] = make([]time.Duration, 0, b.N/benchConcurrency+1)
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N || failed.Load() != nil {
					return
				}
				t0 := time.Now()
				if err := do(i); err != nil {
					failed.Store(&err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	q := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(0.999), "p99.9-µs")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
}
