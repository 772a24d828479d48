package etl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// stagedFile is one finished Parquet file waiting for upload.
type stagedFile struct {
	key  string
	data io.Reader
	size int64
}

// partitionWriter turns a stream of records ordered by customerNumber into
// one or more Parquet files per partition.
type partitionWriter struct {
	staging  string
	runID    string
	maxBytes int64

	w    *parquet.GenericWriter[training.Row]
	buf  *bytes.Buffer
	cur  int32 // current partition
	open bool  // a partition is in progress
	seq  int   // file number within the partition
	n    int64 // rows in the current file
	// lastSize is the size of the last finished file.
	lastSize int64
	part     training.Partition

	partitions []training.Partition
	files      int
	bytes      int64
	rows       int64
}

func newPartitionWriter(staging, runID string, maxBytes int64) *partitionWriter {
	return &partitionWriter{staging: staging, runID: runID, maxBytes: maxBytes}
}

// PartitionDir returns the Hive partition directory of a customer.
func PartitionDir(customer int32) string {
	return training.PartitionColumn + "=" + strconv.FormatInt(int64(customer), 10)
}

// FileName returns the name of file seq of a run in a partition.
func FileName(runID string, seq int) string {
	return fmt.Sprintf("part-%05d-%s.snappy.parquet", seq, runID)
}

func (pw *partitionWriter) run(ctx context.Context, in <-chan []training.Record, out chan<- stagedFile) error {
	rows := make([]training.Row, 0, 1024)
	flushRows := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := pw.w.Write(rows); err != nil {
			return fmt.Errorf("encode partition %s: %w", PartitionDir(pw.cur), err)
		}
		pw.n += int64(len(rows))
		rows = rows[:0]
		return nil
	}
	for batch := range in {
		for i := range batch {
			rec := &batch[i]
			if !pw.open || rec.CustomerNumber != pw.cur {
				if pw.open && rec.CustomerNumber < pw.cur {
					return fmt.Errorf("source returned customerNumber %d after %d: rows are not ordered by customerNumber", rec.CustomerNumber, pw.cur)
				}
				if err := flushRows(); err != nil {
					return err
				}
				if err := pw.finishPartition(ctx, out); err != nil {
					return err
				}
				pw.startPartition(rec.CustomerNumber)
			}
			rows = append(rows, rec.Row)
			if len(rows) == cap(rows) {
				if err := flushRows(); err != nil {
					return err
				}
				if int64(pw.buf.Len()) >= pw.maxBytes {
					if err := pw.finishFile(ctx, out); err != nil {
						return err
					}
					pw.startFile()
				}
			}
		}
	}
	if err := flushRows(); err != nil {
		return err
	}
	return pw.finishPartition(ctx, out)
}

func (pw *partitionWriter) startPartition(customer int32) {
	pw.cur = customer
	pw.open = true
	pw.seq = 0
	pw.part = training.Partition{CustomerNumber: customer}
	pw.startFile()
}

// startFile begins a new Parquet file with a writer of its own. A writer
// is never reused through Reset: parquet-go v0.32.0's Reset clears the
// column paths the writer keeps (its row-group metadata aliases them), so
// every file after the first would have empty path_in_schema entries in
// its footer, which readers that find column chunks by path reject.
func (pw *partitionWriter) startFile() {
	// Files of one run are much alike in size: start at the last one's
	// (capped), so the buffer rarely grows by copying.
	pw.buf = bytes.NewBuffer(make([]byte, 0, min(pw.lastSize+pw.lastSize/8+512, 1<<20)))
	pw.w = parquet.NewGenericWriter[training.Row](pw.buf,
		parquet.Compression(&snappy.Codec{}),
		parquet.CreatedBy("recoflow", "", ""),
		// The output is a memory buffer already: no second buffer
		// (which would cost 32 KiB per file).
		parquet.WriteBufferSize(-1),
	)
	pw.n = 0
}

func (pw *partitionWriter) finishPartition(ctx context.Context, out chan<- stagedFile) error {
	if !pw.open {
		return nil
	}
	if err := pw.finishFile(ctx, out); err != nil {
		return err
	}
	pw.partitions = append(pw.partitions, pw.part)
	pw.open = false
	return nil
}

// finishFile closes the current file (writing its footer) and hands it to
// the uploaders.
func (pw *partitionWriter) finishFile(ctx context.Context, out chan<- stagedFile) error {
	if pw.n == 0 {
		return nil
	}
	if err := pw.w.Close(); err != nil {
		return fmt.Errorf("finish parquet file in %s: %w", PartitionDir(pw.cur), err)
	}
	rel := path.Join(PartitionDir(pw.cur), FileName(pw.runID, pw.seq))
	size := int64(pw.buf.Len())
	pw.lastSize = size
	f := stagedFile{key: path.Join(pw.staging, rel), data: bytes.NewReader(pw.buf.Bytes()), size: size}
	select {
	case out <- f:
	case <-ctx.Done():
		return ctx.Err()
	}
	pw.part.Files = append(pw.part.Files, training.File{Path: rel, Rows: pw.n, Bytes: size})
	pw.part.Rows += pw.n
	pw.files++
	pw.bytes += size
	pw.rows += pw.n
	pw.seq++
	pw.n = 0
	return nil
}

// rejectsWriter streams rejected rows as NDJSON into one lake object,
// created on the first reject.
type rejectsWriter struct {
	ctx    context.Context
	bucket lake.Bucket
	key    string

	pw   *io.PipeWriter
	bw   *bufio.Writer
	enc  *json.Encoder
	done chan error
}

func newRejectsWriter(ctx context.Context, b lake.Bucket, key string) *rejectsWriter {
	return &rejectsWriter{ctx: ctx, bucket: b, key: key}
}

func (r *rejectsWriter) write(rej any) error {
	if r.pw == nil {
		pr, pw := io.Pipe()
		r.pw = pw
		r.bw = bufio.NewWriterSize(pw, 64<<10)
		r.enc = json.NewEncoder(r.bw)
		r.done = make(chan error, 1)
		go func() {
			err := r.bucket.Put(r.ctx, r.key, pr)
			pr.CloseWithError(err) // unblock the writer if Put gave up early
			r.done <- err
		}()
	}
	return r.enc.Encode(rej)
}

// close finishes the rejects object. With ok false the upload is aborted so
// that nothing is stored. It returns the key when an object was written.
func (r *rejectsWriter) close(ok bool) (string, error) {
	if r.pw == nil {
		return "", nil
	}
	if !ok {
		r.pw.CloseWithError(errStop)
		<-r.done
		return "", nil
	}
	if err := r.bw.Flush(); err != nil {
		r.pw.CloseWithError(err)
		<-r.done
		return "", err
	}
	r.pw.Close()
	if err := <-r.done; err != nil {
		return "", err
	}
	return r.key, nil
}

func putJSON(ctx context.Context, b lake.Bucket, key string, v any) error {
	// Encode straight into the upload: a manifest lists every file, and
	// holding its text in memory would grow with the number of partitions.
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		enc := json.NewEncoder(bw)
		enc.SetIndent("", "  ")
		err := enc.Encode(v)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	err := b.Put(ctx, key, pr)
	pr.CloseWithError(errStop) // unblock the encoder if Put stopped early
	return err
}
