package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/recoflow/recoflow/lake"
)

// ErrNoDataset means the lake holds no committed training dataset.
var ErrNoDataset = errors.New("no committed training dataset")

// Location returns the prefix that currently holds the committed dataset:
// on backends that publish through a link, the run directory the link points
// to (so that a reader keeps reading one run even while a new one is
// published); elsewhere Dataset itself.
func Location(ctx context.Context, b lake.BucketReader) (string, error) {
	return LocationOf(ctx, b, Dataset)
}

// LocationOf is Location for the lake dataset named dataset (a spec's
// lake.dataset).
func LocationOf(ctx context.Context, b lake.BucketReader, dataset string) (string, error) {
	if l, ok := b.(lake.Linker); ok {
		p, err := l.Resolve(ctx, dataset)
		if errors.Is(err, lake.ErrNotFound) {
			if dataset != Dataset {
				return "", fmt.Errorf("%w %s in %s: run `recoflow etl` first", ErrNoDataset, dataset, b)
			}
			return "", fmt.Errorf("%w in %s: run `recoflow etl` first", ErrNoDataset, b)
		}
		if err != nil {
			return "", fmt.Errorf("resolve %s in %s: %w", dataset, b, err)
		}
		return p, nil
	}
	return dataset, nil
}

// ReadManifest returns the manifest of the committed dataset found at prefix
// loc (see Location), or an error wrapping ErrNoDataset.
func ReadManifest(ctx context.Context, b lake.BucketReader, loc string) (*Manifest, error) {
	rc, err := b.Get(ctx, path.Join(loc, ManifestName))
	if errors.Is(err, lake.ErrNotFound) {
		return nil, fmt.Errorf("%w in %s (no %s/%s): run `recoflow etl` first", ErrNoDataset, b, Dataset, ManifestName)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer rc.Close()
	var m Manifest
	dec := json.NewDecoder(rc)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest %s/%s in %s: %w", Dataset, ManifestName, b, err)
	}
	return &m, nil
}

// Read calls fn for every record of the committed dataset, partition by
// partition in manifest order, and returns the manifest it read. It reads
// only files the manifest lists, so it never sees an uncommitted run. The
// Record passed to fn is reused: copy it to keep it.
func Read(ctx context.Context, b lake.BucketReader, fn func(*Record) error) (*Manifest, error) {
	loc, err := Location(ctx, b)
	if err != nil {
		return nil, err
	}
	m, err := ReadManifest(ctx, b, loc)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 1024)
	var rec Record
	err = eachFile(ctx, b, loc, m, func(p Partition) (string, error) {
		rec.CustomerNumber = p.CustomerNumber
		return PartitionColumn + "=" + strconv.Itoa(int(p.CustomerNumber)), nil
	}, func(key string, pf *parquet.File) (int64, error) {
		if err := CheckSchema(pf.Schema()); err != nil {
			return 0, fmt.Errorf("parquet file %s: %w", key, err)
		}
		r := parquet.NewGenericReader[Row](pf)
		defer r.Close()
		var n int64
		for {
			k, err := r.Read(rows)
			for i := 0; i < k; i++ {
				rec.Row = rows[i]
				if err := fn(&rec); err != nil {
					return n, err
				}
			}
			n += int64(k)
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			if err != nil {
				return n, fmt.Errorf("parquet file %s: %w", key, err)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// eachFile opens, in manifest order, every Parquet file m lists under
// prefix loc and hands it to read, which returns the number of rows it
// read (or an error, returned as it is). dir is called once per partition,
// before its files, and returns the partition's directory (or an error,
// returned as it is): a file listed elsewhere is refused, as is a file
// holding another number of rows than the manifest says.
func eachFile(ctx context.Context, b lake.BucketReader, loc string, m *Manifest, dir func(Partition) (string, error), read func(key string, pf *parquet.File) (int64, error)) error {
	for _, p := range m.Partitions {
		want, err := dir(p)
		if err != nil {
			return err
		}
		for _, f := range p.Files {
			key := path.Join(loc, f.Path)
			if d, _, _ := strings.Cut(f.Path, "/"); d != want {
				return fmt.Errorf("manifest lists %s under partition %s", f.Path, want)
			}
			data, err := readAll(ctx, b, key)
			if err != nil {
				return err
			}
			pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return fmt.Errorf("parquet file %s: %w", key, err)
			}
			n, err := read(key, pf)
			if err != nil {
				return err
			}
			if n != f.Rows {
				return fmt.Errorf("parquet file %s holds %d rows, manifest says %d", key, n, f.Rows)
			}
		}
	}
	return nil
}

func readAll(ctx context.Context, b lake.BucketReader, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}

// CheckSchema reports whether a Parquet file schema has exactly the stored
// columns of Row, in order, with the contract's types. The error names the
// first column that differs.
func CheckSchema(s *parquet.Schema) error {
	return checkFields(s, parquet.SchemaOf(Row{}))
}

// checkFields reports whether s has exactly want's columns, in order, with
// want's types.
func checkFields(s, want *parquet.Schema) error {
	got := s.Fields()
	exp := want.Fields()
	for i, f := range exp {
		if i >= len(got) {
			return fmt.Errorf("schema: missing column %q (have %d columns, want %d)", f.Name(), len(got), len(exp))
		}
		g := got[i]
		if g.Name() != f.Name() {
			return fmt.Errorf("schema: column %d is %q, want %q", i+1, g.Name(), f.Name())
		}
		if g.Type().String() != f.Type().String() || g.Optional() != f.Optional() {
			return fmt.Errorf("schema: column %q has type %s (optional=%v), want %s (optional=%v)", g.Name(), g.Type(), g.Optional(), f.Type(), f.Optional())
		}
	}
	if len(got) > len(exp) {
		return fmt.Errorf("schema: unexpected column %q", got[len(exp)].Name())
	}
	return nil
}
