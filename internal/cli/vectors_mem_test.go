package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector/vectortest"
)

// BenchmarkVectorsLoadMemory reports the memory `recoflow vectors load`
// needs for an embeddings file of each size (into the embedded store, with
// the HNSW build): the peak of live heap objects, sampled every
// millisecond, per row and against the store file it writes, and the
// process's peak RSS above what it held before (Linux), in MiB and against
// the store file. The version's large arrays are outside the Go heap (the
// embedded store's arena), so the heap figures count only the rest; RSS
// counts both. Memory flat in the file size means RSS above the store
// file that does not grow with the rows: the CSV is streamed, only the
// store's arrays grow. Not timed:
//
//	go test ./internal/cli -run '^$' -bench VectorsLoadMemory -benchtime 1x
//	RECOFLOW_BENCH_LOAD_ROWS=100000,1000000 go test ./internal/cli -run '^$' -bench VectorsLoadMemory -benchtime 1x -timeout 1h
func BenchmarkVectorsLoadMemory(b *testing.B) {
	sizes := []int{20_000, 100_000}
	if env := os.Getenv("RECOFLOW_BENCH_LOAD_ROWS"); env != "" {
		sizes = nil
		for f := range strings.SplitSeq(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("RECOFLOW_BENCH_LOAD_ROWS=%q: want row counts", env)
			}
			sizes = append(sizes, n)
		}
	}
	for _, rows := range sizes {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			dir := b.TempDir()
			csvFile := filepath.Join(dir, "items.csv")
			writeGaussianCSV(b, csvFile, rows)
			fi, err := os.Stat(csvFile)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				vecDir := filepath.Join(dir, "vectors"+strconv.Itoa(i))
				runtime.GC()
				base := heapObjects()
				resetPeakRSS()
				rss0 := procKB("VmRSS")
				peak := sampleHeapPeak(func() {
					if _, stderr, err := vectorsCLI(b, "vectors", "load", "--items", csvFile, "--version", "mem",
						"--vectors", "file://"+vecDir, "--log-level", "warn"); err != nil {
						b.Fatalf("%v\n%s", err, stderr)
					}
				})
				store := dirSize(b, filepath.Join(vecDir, "versions"))
				b.ReportMetric(float64(peak-base)/float64(rows), "peak-heap-B/row")
				b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(peak-base)/float64(store), "peak-heap/store-file")
				b.ReportMetric(float64(store)/float64(rows), "store-B/row")
				b.ReportMetric(float64(fi.Size())/float64(rows), "csv-B/row")
				if hwm := procKB("VmHWM"); hwm > 0 {
					b.ReportMetric(float64(hwm-rss0)/1024, "peak-RSS-above-start-MiB")
					b.ReportMetric(float64(hwm-rss0)*1024/float64(store), "peak-RSS/store-file")
				}
			}
		})
	}
}

func writeGaussianCSV(b *testing.B, file string, rows int) {
	b.Helper()
	items, _ := vectortest.Gaussian(1, rows, 0, 32, 1000, 0.5, "item-")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	w, err := embedding.NewWriter(f)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range items {
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// heapObjects returns the bytes of heap objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeapPeak runs fn and returns the largest heapObjects seen while
// it ran, sampled every millisecond.
func sampleHeapPeak(fn func()) uint64 {
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heapObjects())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return max(peak, heapObjects())
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux).
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procKB returns a field of /proc/self/status in kB (0 when unknown).
func procKB(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func dirSize(b *testing.B, dir string) int64 {
	b.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && !fi.IsDir() {
			total += fi.Size()
		}
	}
	return total
}
