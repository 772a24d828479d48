package recommend

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/training"
)

// Popular is one product's standing among the shop's ratings.
type Popular struct {
	// ProductCode identifies the product.
	ProductCode string `json:"product_code"`
	// Ratings is its number of ratings; Positive, how many of them are 4
	// or 5.
	Ratings  int `json:"ratings"`
	Positive int `json:"positive"`
	// MeanRating is the mean of its ratings, 1 to 5.
	MeanRating float64 `json:"mean_rating"`
	// Score is its popularity relative to the most popular product, in
	// [0, 1]: Positive divided by the largest Positive (or, when no product
	// has a positive rating, Ratings by the largest Ratings). It is the
	// Score of fallback answers.
	Score float64 `json:"score"`
}

// PositiveRating is the lowest rating that counts as liking a product
// (the threshold of the model's ranking metrics too).
const PositiveRating = 4

// CountPopular ranks products by their ratings, yielded as (productCode,
// rating) pairs: by number of positive ratings (PositiveRating or more),
// then number of ratings, then mean rating, all descending, then by product
// code, so the order is total and repeatable. Ratings outside 1..5 count
// like any other.
func CountPopular(ratings iter.Seq2[string, int]) []Popular {
	return countPopular(func(yield func(string, float64) bool) {
		for code, r := range ratings {
			if !yield(code, float64(r)) {
				return
			}
		}
	})
}

// countPopular is CountPopular of ratings that need not be whole.
func countPopular(ratings iter.Seq2[string, float64]) []Popular {
	type acc struct {
		n, pos int
		sum    float64
	}
	byCode := map[string]*acc{}
	for code, r := range ratings {
		a := byCode[code]
		if a == nil {
			a = &acc{}
			byCode[code] = a
		}
		a.n++
		a.sum += r
		if r >= PositiveRating {
			a.pos++
		}
	}
	out := make([]Popular, 0, len(byCode))
	maxPos, maxN := 0, 0
	for code, a := range byCode {
		out = append(out, Popular{ProductCode: code, Ratings: a.n, Positive: a.pos, MeanRating: a.sum / float64(a.n)})
		maxPos, maxN = max(maxPos, a.pos), max(maxN, a.n)
	}
	slices.SortFunc(out, func(a, b Popular) int {
		return cmp.Or(
			cmp.Compare(b.Positive, a.Positive),
			cmp.Compare(b.Ratings, a.Ratings),
			cmp.Compare(b.MeanRating, a.MeanRating),
			cmp.Compare(a.ProductCode, b.ProductCode),
		)
	})
	for i := range out {
		if maxPos > 0 {
			out[i].Score = float64(out[i].Positive) / float64(maxPos)
		} else if maxN > 0 {
			out[i].Score = float64(out[i].Ratings) / float64(maxN)
		}
	}
	return out
}

// LoadPopular reads the lake's committed training dataset (the files its
// manifest lists, like training.Read) and ranks its products with
// CountPopular. It reads only the productCode and productRating columns,
// page by page, and holds one counter per product. It blocks until the
// dataset is read or ctx is done. A lake without a committed dataset gives
// an error wrapping training.ErrNoDataset. Repeating it is safe.
func LoadPopular(ctx context.Context, b lake.BucketReader) ([]Popular, error) {
	var readErr error
	pop := CountPopular(func(yield func(string, int) bool) {
		readErr = readRatings(ctx, b, yield)
	})
	if readErr != nil {
		return nil, fmt.Errorf("popular products from %s: %w", b, readErr)
	}
	return pop, nil
}

// LoadPopularSpec is LoadPopular for the committed dataset of a dataset
// spec (its lake.dataset, read with training.ReadTable): the items ranked
// by their interactions, each item's key being the spec's item id as text.
// For the built-in spec it is LoadPopular. Explicit feedback is mapped
// linearly from the spec's scale onto 1–5, as the model maps it, and
// counts as positive from PositiveRating; implicit feedback (count,
// quantity, event weight) makes every interaction of positive strength a
// positive rating of 5 (one of zero or less is left out), so items rank by
// their number of interactions. It holds one counter per item.
func LoadPopularSpec(ctx context.Context, b lake.BucketReader, s *dataset.Spec) ([]Popular, error) {
	if model.IsBuiltIn(s) {
		return LoadPopular(ctx, b)
	}
	full := s.WithDefaults()
	fb := full.Interactions.Feedback
	implicit := fb.Kind != dataset.FeedbackExplicit
	lo, hi := 1.0, 5.0
	if fb.Scale != nil {
		lo, hi = fb.Scale.Min, fb.Scale.Max
	}
	var readErr error
	n := 0
	ids := map[string]string{}
	pop := countPopular(func(yield func(string, float64) bool) {
		_, readErr = training.ReadTable(ctx, b, s, func(row *training.GenericRow) error {
			n++
			if n%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			v := row.Feedback
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d (item %q): feedback %v is not a number", n, row.ItemID, v)
			}
			if implicit {
				if v <= 0 {
					return nil
				}
				v = 5
			} else if hi > lo {
				v = 1 + 4*(v-lo)/(hi-lo)
			} else {
				v = 5
			}
			id, ok := ids[row.ItemID]
			if !ok {
				id = strings.Clone(row.ItemID)
				ids[id] = id
			}
			if !yield(id, v) {
				return errStop
			}
			return nil
		})
		if errors.Is(readErr, errStop) {
			readErr = nil
		}
	})
	if readErr != nil {
		return nil, fmt.Errorf("popular items of dataset %s in %s: %w", full.Lake.Dataset, b, readErr)
	}
	return pop, nil
}

// readRatings yields the (productCode, productRating) of every record of
// the committed dataset. Each distinct product code is allocated once.
func readRatings(ctx context.Context, b lake.BucketReader, yield func(string, int) bool) error {
	loc, err := training.Location(ctx, b)
	if err != nil {
		return err
	}
	m, err := training.ReadManifest(ctx, b, loc)
	if err != nil {
		return err
	}
	codes := map[string]string{}
	r := &ratingsReader{codes: codes, yield: yield}
	for _, p := range m.Partitions {
		for _, f := range p.Files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if dir, _, _ := strings.Cut(f.Path, "/"); dir != training.PartitionColumn+"="+strconv.Itoa(int(p.CustomerNumber)) {
				return fmt.Errorf("manifest lists %s under partition %s=%d", f.Path, training.PartitionColumn, p.CustomerNumber)
			}
			key := path.Join(loc, f.Path)
			n, err := r.readFile(ctx, b, key)
			if errors.Is(err, errStop) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parquet file %s: %w", key, err)
			}
			if n != f.Rows {
				return fmt.Errorf("parquet file %s holds %d rows, manifest says %d", key, n, f.Rows)
			}
		}
	}
	return nil
}

// ratingsReader reads the two columns of one file after another, reusing
// its buffers.
type ratingsReader struct {
	codes   map[string]string
	yield   func(string, int) bool
	data    []byte
	ratings []int32
	vals    []parquet.Value
}

// readFile yields the file's pairs and returns its number of rows.
func (r *ratingsReader) readFile(ctx context.Context, b lake.BucketReader, key string) (int64, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	buf := bytes.NewBuffer(r.data[:0])
	_, err = buf.ReadFrom(rc)
	rc.Close()
	if err != nil {
		return 0, err
	}
	r.data = buf.Bytes()
	pf, err := parquet.OpenFile(bytes.NewReader(r.data), int64(len(r.data)),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, err
	}
	if err := training.CheckSchema(pf.Schema()); err != nil {
		return 0, err
	}
	codeCol, ok1 := pf.Schema().Lookup("productCode")
	ratedCol, ok2 := pf.Schema().Lookup("productRating")
	if !ok1 || !ok2 {
		return 0, errors.New("no productCode or productRating column")
	}
	var n int64
	for _, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		// The ratings first (plain numbers), then the codes page by page,
		// each looked up while its page is held.
		r.ratings = r.ratings[:0]
		err := eachPage(chunks[ratedCol.ColumnIndex], &r.vals, func(vs []parquet.Value) bool {
			for _, v := range vs {
				r.ratings = append(r.ratings, v.Int32())
			}
			return true
		})
		if err != nil {
			return 0, fmt.Errorf("column productRating: %w", err)
		}
		if int64(len(r.ratings)) != rg.NumRows() {
			return 0, fmt.Errorf("row group of %d rows holds %d ratings", rg.NumRows(), len(r.ratings))
		}
		i, stopped := 0, false
		err = eachPage(chunks[codeCol.ColumnIndex], &r.vals, func(vs []parquet.Value) bool {
			for _, v := range vs {
				if i >= len(r.ratings) {
					return true // counted below
				}
				raw := v.ByteArray()
				code, ok := r.codes[string(raw)]
				if !ok {
					code = string(raw)
					r.codes[code] = code
				}
				if !r.yield(code, int(r.ratings[i])) {
					stopped = true
					return false
				}
				i++
			}
			return true
		})
		if stopped {
			return n, errStop
		}
		if err != nil {
			return 0, fmt.Errorf("column productCode: %w", err)
		}
		if i != len(r.ratings) {
			return 0, fmt.Errorf("row group of %d rows holds %d product codes", rg.NumRows(), i)
		}
		n += rg.NumRows()
	}
	return n, nil
}

// eachPage calls fn with the values of each page of one column chunk, in
// order, until fn returns false. The values are valid during the call only.
func eachPage(c parquet.ColumnChunk, buf *[]parquet.Value, fn func([]parquet.Value) bool) error {
	pages := c.Pages()
	defer pages.Close()
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		vs := slices.Grow((*buf)[:0], int(p.NumValues()))[:p.NumValues()]
		k, err := p.Values().ReadValues(vs)
		*buf = vs
		if err != nil && !errors.Is(err, io.EOF) {
			parquet.Release(p)
			return err
		}
		more := fn(vs[:k])
		clear(vs[:k]) // drop references into the page
		parquet.Release(p)
		if !more {
			return nil
		}
	}
}

var errStop = errors.New("stop")
