package recommend_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"

	"github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/training"
)

func ratingsOf(pairs ...any) func(func(string, int) bool) {
	return func(yield func(string, int) bool) {
		for i := 0; i < len(pairs); i += 2 {
			if !yield(pairs[i].(string), pairs[i+1].(int)) {
				return
			}
		}
	}
}

func TestCountPopular(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     func(func(string, int) bool)
		codes  []string
		scores []float64
	}{
		{
			name: "positive ratings, then count, then mean, then code",
			in: ratingsOf("A", 5, "A", 5, "A", 1, "B", 4, "B", 4, "C", 5, "C", 5, "D", 1,
				"E", 4, "E", 4, "E", 4, "F", 4, "F", 4),
			codes:  []string{"E", "A", "C", "B", "F", "D"},
			scores: []float64{1, 2. / 3, 2. / 3, 2. / 3, 2. / 3, 0},
		},
		{
			name:   "no positive rating: by count",
			in:     ratingsOf("G", 1, "H", 2, "H", 3),
			codes:  []string{"H", "G"},
			scores: []float64{1, 0.5},
		},
		{name: "nothing", in: ratingsOf()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := recommend.CountPopular(tc.in)
			if len(got) != len(tc.codes) {
				t.Fatalf("%d products, want %d: %+v", len(got), len(tc.codes), got)
			}
			for i, p := range got {
				if p.ProductCode != tc.codes[i] || math.Abs(p.Score-tc.scores[i]) > 1e-12 {
					t.Errorf("rank %d: %+v, want %s with score %v", i+1, p, tc.codes[i], tc.scores[i])
				}
			}
		})
	}
	a := recommend.CountPopular(ratingsOf("A", 5, "A", 3, "A", 4))[0]
	if a.Ratings != 3 || a.Positive != 2 || a.MeanRating != 4 {
		t.Errorf("counts of A: %+v", a)
	}
}

func TestLoadPopular(t *testing.T) {
	f := getFixture(t)
	got, err := recommend.LoadPopular(context.Background(), f.bucket)
	if err != nil {
		t.Fatal(err)
	}
	want := recommend.CountPopular(func(yield func(string, int) bool) {
		for _, r := range f.recs {
			if !yield(r.ProductCode, int(r.ProductRating)) {
				return
			}
		}
	})
	if !reflect.DeepEqual(got, want) || len(got) != 24 {
		t.Errorf("LoadPopular: %d products, want the 24 CountPopular finds\n%+v\n%+v", len(got), got, want)
	}

	empty, err := lakefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recommend.LoadPopular(context.Background(), empty); !errors.Is(err, training.ErrNoDataset) {
		t.Errorf("empty lake: %v, want training.ErrNoDataset", err)
	}
}

// TestLoadPopularAllocation: ranking the products reads two columns of a
// small dataset; it must not allocate like a full-row decode of every file
// (the lab's 828 KB dataset once cost 412 MiB).
func TestLoadPopularAllocation(t *testing.T) {
	ctx := context.Background()
	b, err := lakefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	recs := shopRecords(120, 24) // 120 partitions, one file each, like the lab's shop
	if err := writeDataset(ctx, b, recs); err != nil {
		t.Fatal(err)
	}
	size := int64(0)
	for _, p := range mustManifest(t, b).Partitions {
		for _, f := range p.Files {
			size += f.Bytes
		}
	}
	var got []recommend.Popular
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err = recommend.LoadPopular(ctx, b)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 24 {
		t.Fatalf("%d products, want 24", len(got))
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("LoadPopular of %d rows in %d files (%d kB): %.1f MiB allocated", len(recs), 120, size/1000, float64(alloc)/(1<<20))
	if limit := uint64(20*size) + 4<<20; alloc > limit {
		t.Errorf("LoadPopular allocated %.1f MiB for a %d kB dataset, want at most %.1f MiB", float64(alloc)/(1<<20), size/1000, float64(limit)/(1<<20))
	}
}

func mustManifest(t *testing.T, b lake.BucketReader) *training.Manifest {
	t.Helper()
	m, err := training.ReadManifest(context.Background(), b, training.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
