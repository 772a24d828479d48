package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/vector"
	"github.com/spf13/cobra"
)

// defaultVectors is where commands keep the vector store when --vectors is
// not given.
const defaultVectors = "file://recoflow-data/vectors"

func (a *app) vectorsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vectors",
		Short: "Manage the vector store of item and user embeddings",
	}
	cmd.AddCommand(a.vectorsLoadCommand())
	return cmd
}

// loadGCPercent is the garbage collector's GOGC while `vectors load`
// runs, unless GOGC is set.
const loadGCPercent = 25

// vectorFlags are the flags that open a vector store.
type vectorFlags struct {
	url        string
	opts       connect.VectorOptions
	loadMethod string
}

func (v *vectorFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&v.url, "vectors", defaultVectors, "vector store URL: file:///path/dir (embedded) or postgres://user:pass@host:5432/db (pgvector)")
	f.IntVar(&v.opts.Dim, "dim", 0, "embedding dimension (default: the store's, 32 for a new store)")
	f.IntVar(&v.opts.HNSWM, "hnsw-m", 0, "HNSW links per node (default 16)")
	f.IntVar(&v.opts.HNSWEfConstruction, "hnsw-ef-construction", 0, "HNSW build candidate list size (default: 100 embedded, 64 pgvector)")
	f.IntVar(&v.opts.ExactThreshold, "exact-threshold", 0, "embedded store: search exactly below this many items (default 10000)")
	f.IntVar(&v.opts.MaxConns, "pg-max-conns", 0, "pgvector: connection pool size (default 4; at most PGlite's --max-connections)")
	f.StringVar(&v.opts.Schema, "pg-schema", "", "pgvector: schema of the tables (default public)")
	f.StringVar(&v.loadMethod, "load-method", "auto", "pgvector: auto, copy (COPY FROM STDIN) or insert (batched INSERT … unnest)")
	f.StringVar(&v.opts.MaintenanceWorkMem, "pg-maintenance-work-mem", "", "pgvector: maintenance_work_mem while the HNSW index builds, e.g. 1GB")
}

func (v *vectorFlags) open(ctx context.Context, a *app) (vector.Store, error) {
	switch strings.ToLower(v.loadMethod) {
	case "auto", "copy", "insert":
	default:
		return nil, usageError("--load-method %q: want auto, copy or insert", v.loadMethod)
	}
	v.opts.LoadMethod = v.loadMethod
	v.opts.Logger = a.log
	return connect.Vectors(ctx, v.url, v.opts)
}

func (a *app) vectorsLoadCommand() *cobra.Command {
	var (
		lf                   lakeFlags
		vf                   vectorFlags
		version              string
		itemsFile, usersFile string
		specFile             string
		progressInterval     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load a model version's item and user embeddings into the vector store",
		Long: `vectors load reads a model version's embeddings and makes them the vector
store's live version, atomically: searches see the previous version until
the new one is complete, and a failed load leaves the previous one live.

By default it loads the latest committed model in the lake: the version
named by <lake>/ml-artifacts/LATEST, from
  ml-artifacts/<version>/embeddings/item_embeddings.csv   (id = productCode)
  ml-artifacts/<version>/embeddings/user_embeddings.csv   (id = customerNumber)
checking both against the version's manifest. --version picks another
committed version. --items and --users load lab-format CSV files instead
(header id,embedding; the embedding in pgvector text form "[0.1,…]"), for
embeddings trained elsewhere; --version then names them.

Ids are typed as the dataset spec says (users.id_type, items.id_type): the
spec the model version was trained on (recorded in its artifacts), or for
--items and --users the one --dataset (or the config file's dataset key)
gives, else the built-in classicmodels spec: integer user ids (32-bit,
pgvector user_emb.id int) and string item ids. String user ids go into
user_emb.id text; integer item ids are kept in item_emb.id varchar.
--dataset with a model version from the lake must be the version's spec.

Stores, chosen by --vectors:
  file:///path/dir     embedded: exact search below --exact-threshold items,
                       an HNSW graph above it, persisted under the directory
  postgres://…         PostgreSQL + pgvector: the lab's tables item_emb and
                       user_emb with an HNSW index (vector_cosine_ops), loaded
                       with COPY (or batched INSERTs on PGlite) and swapped in
                       one transaction`,
		Example: `  # the latest model from the default lake into the embedded store
  recoflow vectors load

  # a given version into pgvector
  recoflow vectors load --lake s3://shop-lake/prod --version 20261125T153000Z \
    --vectors 'postgres://recoflow:secret@db:5432/shop?sslmode=require'

  # embeddings trained elsewhere
  recoflow vectors load --items items.csv --users users.csv --version lab-2024-06 \
    --vectors file:///var/lib/recoflow/vectors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if progressInterval <= 0 {
				return usageError("--progress-interval %s: want a positive duration", progressInterval)
			}
			fromFiles := itemsFile != "" || usersFile != ""
			if fromFiles && itemsFile == "" {
				return usageError("--users needs --items: a version without items has nothing to search")
			}
			if fromFiles && version == "" {
				return usageError("--version is required with --items: it names the embeddings being loaded")
			}
			if version != "" {
				if err := vector.CheckVersion(version); err != nil {
					return usageError("--version: %v", err)
				}
			}
			ctx := cmd.Context()

			var src embeddingSource
			var err error
			if fromFiles {
				for _, f := range []string{itemsFile, usersFile} {
					if _, err := os.Stat(f); f != "" && err != nil {
						return fmt.Errorf("embeddings file: %w", err)
					}
				}
				spec, err := a.datasetSpec(cmd, specFile)
				if err != nil {
					return err
				}
				src = fileSource(itemsFile, usersFile, spec)
				src.version = version
			} else {
				b, err := lf.open(ctx)
				if err != nil {
					return err
				}
				defer b.Close()
				if src, err = lakeSource(ctx, b, version); err != nil {
					return err
				}
				given, from, err := a.resolveDataset(cmd, specFile)
				if err != nil {
					return err
				}
				if !from.builtIn && dataset.Hash(given) != src.specHash {
					return usageError("model version %s was trained on the dataset spec %s (hash %s), but %s is %s (hash %s): load the version of that spec, or drop --dataset",
						src.version, src.spec, src.specHash, from, given.Name, dataset.Hash(given))
				}
			}
			version = src.version

			st, err := vf.open(ctx, a)
			if err != nil {
				return err
			}
			defer st.Close()
			if src.dim != 0 && src.dim != st.Dim() {
				return fmt.Errorf("model version %s has %d-dimensional embeddings, but %s holds %d-dimensional vectors: %w",
					version, src.dim, st, st.Dim(), vector.ErrDimension)
			}

			a.log.Info("loading vectors", "version", version, "from", src.from, "into", st.String(),
				"spec", src.spec, "user_ids", src.ids.User, "item_ids", src.ids.Item)
			start := time.Now()
			prog := newProgressPrinter(a, "vectors", "embeddings")
			interval := progressInterval
			if a.opts.IsTerminal {
				interval = min(interval, 200*time.Millisecond)
			}
			var done int64
			last := start
			count := func(seq vector.Entries) vector.Entries {
				if seq == nil { // items only: no users to count (a nil sequence means none)
					return nil
				}
				return func(yield func(embedding.Entry, error) bool) {
					for e, err := range seq {
						if err == nil {
							done++
							if now := time.Now(); now.Sub(last) >= interval {
								last = now
								prog.update(done, src.total, now.Sub(start))
							}
						}
						if !yield(e, err) {
							return
						}
					}
				}
			}
			if _, set := os.LookupEnv("GOGC"); !set {
				// The load's heap is mostly the new version's pointer-free
				// arrays (vectors, links, ids), cheap to collect: a
				// collection at 25 % growth rather than 100 % keeps the peak
				// near what the version needs for a few % more CPU.
				defer debug.SetGCPercent(debug.SetGCPercent(loadGCPercent))
			}
			if src.items != nil && src.nItems == 0 && strings.HasPrefix(st.String(), "file:") {
				// The embedded store builds the version in memory: with the
				// rows counted it allocates the arrays once, at their size.
				src.nItems, src.nUsers = countRows(itemsFile), countRows(usersFile)
			}
			info, err := st.Load(ctx, version, count(src.items), count(src.users),
				vector.WithIDTypes(src.ids), vector.WithSizeHint(src.nItems, src.nUsers))
			prog.done()
			if err != nil {
				return src.explain(err)
			}
			elapsed := time.Since(start)
			a.log.Info("loaded vectors", "version", info.Version, "items", info.Items, "users", info.Users,
				"store", st.String(), "elapsed", elapsed.Round(time.Millisecond).String())
			var sb strings.Builder
			fmt.Fprintf(&sb, "loaded model version %s into %s in %s\n", info.Version, st, elapsed.Round(time.Millisecond))
			fmt.Fprintf(&sb, "  items         %12s\n", groupDigits(int64(info.Items)))
			fmt.Fprintf(&sb, "  users         %12s\n", groupDigits(int64(info.Users)))
			fmt.Fprintf(&sb, "  dimension     %12d\n", info.Dim)
			if src.ids != vector.LabIDs {
				fmt.Fprintf(&sb, "  ids           users %s, items %s (dataset spec %s)\n", src.ids.User, src.ids.Item, src.spec)
			}
			fmt.Fprintf(&sb, "  from          %s\n", src.from)
			fmt.Fprintf(&sb, "  live since    %s\n", info.LoadedAt.UTC().Format(time.RFC3339))
			_, err = io.WriteString(a.opts.Stdout, sb.String())
			return err
		},
	}
	lf.register(cmd.Flags())
	vf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "model version to load (default: the one ml-artifacts/LATEST names); with --items, the name to give the files' embeddings")
	f.StringVar(&itemsFile, "items", "", "load item embeddings from this lab-format CSV file instead of the lake")
	f.StringVar(&usersFile, "users", "", "load user embeddings from this lab-format CSV file (with --items; without it the version has items only)")
	f.StringVar(&specFile, "dataset", "", "dataset spec file (YAML) whose id types the --items and --users files have (default: the config file's dataset key, else the built-in classicmodels spec); with a model version from the lake, it must be the version's spec")
	f.DurationVar(&progressInterval, "progress-interval", 2*time.Second, "how often to report progress when stderr is not a terminal")
	return cmd
}

// embeddingSource is where one load reads its embeddings.
type embeddingSource struct {
	version      string
	from         string
	dim          int   // 0: unknown until read
	total        int64 // 0: unknown
	items, users vector.Entries
	// itemsCSV and usersCSV are the files items and users read (nil: none).
	itemsCSV, usersCSV *csvFile
	// spec and specHash name the dataset spec whose id types ids are.
	spec, specHash string
	ids            vector.IDTypes
	// nItems and nUsers are the rows expected, when known (0: unknown).
	nItems, nUsers int
}

// countRows returns the number of lines of file after its header, a size
// hint for the load (a quoted id with a line break counts twice), or 0 when
// it cannot be read or file is "".
func countRows(file string) int {
	if file == "" {
		return 0
	}
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			break
		}
	}
	return max(n-1, 0)
}

// idTypes returns the id types spec declares.
func idTypes(spec *dataset.Spec) vector.IDTypes {
	return vector.IDTypes{User: vector.IDType(spec.Users.IDType), Item: vector.IDType(spec.Items.IDType)}
}

func fileSource(itemsFile, usersFile string, spec *dataset.Spec) embeddingSource {
	open := func(path string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			return namedReader{f, path}, nil
		}
	}
	src := embeddingSource{from: itemsFile, spec: spec.Name, specHash: dataset.Hash(spec), ids: idTypes(spec)}
	src.itemsCSV = &csvFile{name: itemsFile, open: open(itemsFile), kind: "item", typ: src.ids.Item, spec: src.spec}
	src.items = src.itemsCSV.entries()
	if usersFile != "" {
		src.from += ", " + usersFile
		src.usersCSV = &csvFile{name: usersFile, open: open(usersFile), kind: "user", typ: src.ids.User, spec: src.spec}
		src.users = src.usersCSV.entries()
	}
	return src
}

// csvFile is an embeddings CSV file a load reads: its name in messages,
// how to open it, the kind of its rows and the type of their ids.
type csvFile struct {
	name string
	open func() (io.ReadCloser, error)
	kind string
	typ  vector.IDType
	spec string // the dataset spec that gives typ, for messages
}

// entries reads the file when iteration starts, like vector.FromCSV, and
// checks each id against its type (the dataset spec's), so that a bad id's
// error names the file, the line and the id. Errors of the file's contents
// name the file. It leaves duplicate ids to the store, which rejects them
// (vector.DuplicateIDError) without the reader holding every id a second
// time; duplicateLines finds where they are.
func (f *csvFile) entries() vector.Entries {
	name, kind, typ, spec := f.name, f.kind, f.typ, f.spec
	return func(yield func(embedding.Entry, error) bool) {
		rc, err := f.open()
		if err != nil {
			yield(embedding.Entry{}, err)
			return
		}
		defer rc.Close()
		r := &errReader{r: rc}
		stopped := false
		err = embedding.ReadLinesWith(r, embedding.ReadOptions{AllowDuplicates: true}, func(e embedding.Entry, line int) error {
			if _, err := vector.CanonicalID(kind, typ, e.ID); err != nil {
				return fmt.Errorf("%s, line %d: %w (dataset spec %s: %ss.id_type is %s)", name, line, err, spec, kind, typ)
			}
			if !yield(e, nil) {
				stopped = true
				return errStopRead
			}
			return nil
		})
		switch {
		case stopped || err == nil:
		case r.err != nil && errors.Is(err, r.err), strings.HasPrefix(err.Error(), name+", line "):
			yield(embedding.Entry{}, err) // the reader's errors name the file already
		default:
			yield(embedding.Entry{}, fmt.Errorf("%s: %w", name, err))
		}
	}
}

var errStopRead = errors.New("stop reading")

// duplicateLines reads the file again and returns the first two lines
// whose id is id once canonical (see vector.CanonicalID), or fewer when it
// cannot tell: it runs only after a load has failed on that id.
func (f *csvFile) duplicateLines(id string) []int {
	rc, err := f.open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	var lines []int
	embedding.ReadLinesWith(rc, embedding.ReadOptions{AllowDuplicates: true}, func(e embedding.Entry, line int) error {
		if c, err := vector.CanonicalID(f.kind, f.typ, e.ID); err == nil && c == id {
			if lines = append(lines, line); len(lines) == 2 {
				return errStopRead
			}
		}
		return nil
	})
	return lines
}

// explain adds to a load's duplicate-id error the file and the lines where
// the id appears: the store finds a duplicate only once it has read
// everything, and the reader does not keep the ids to say where they were.
func (s embeddingSource) explain(err error) error {
	var dup *vector.DuplicateIDError
	if !errors.As(err, &dup) {
		return err
	}
	f := s.itemsCSV
	if dup.Kind == "user" {
		f = s.usersCSV
	}
	if f == nil {
		return err
	}
	if lines := f.duplicateLines(dup.ID); len(lines) == 2 {
		return fmt.Errorf("%s, lines %d and %d: %w", f.name, lines[0], lines[1], err)
	}
	return fmt.Errorf("%s: %w", f.name, err)
}

// errReader remembers its reader's error.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// lakeSource finds a committed model version in the lake (the latest when
// version is "") and reads its embeddings, checked against its manifest.
func lakeSource(ctx context.Context, b lake.Bucket, version string) (embeddingSource, error) {
	if version == "" {
		v, err := model.LatestVersion(ctx, b)
		if err != nil {
			return embeddingSource{}, err
		}
		version = v
	}
	man, err := model.ReadManifest(ctx, b, version)
	if err != nil {
		if errors.Is(err, model.ErrNoModel) {
			return embeddingSource{}, fmt.Errorf("model version %s is not committed in %s (see recoflow train): %w", version, b, err)
		}
		return embeddingSource{}, err
	}
	spec, err := versionSpec(ctx, b, man)
	if err != nil {
		return embeddingSource{}, err
	}
	src := embeddingSource{
		version:  version,
		from:     fmt.Sprintf("%s/%s", b, model.Key(version, "embeddings")),
		dim:      man.Dim,
		total:    int64(man.Items + man.Users),
		nItems:   man.Items,
		nUsers:   man.Users,
		spec:     spec.Name,
		specHash: dataset.Hash(spec),
		ids:      idTypes(spec),
	}
	open := func(file string) func() (io.ReadCloser, error) {
		key := model.Key(version, file)
		return func() (io.ReadCloser, error) {
			rc, err := b.Get(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("read %s from %s: %w", key, b, err)
			}
			for _, f := range man.Files {
				if f.Path == file {
					return &checkedReader{rc: rc, h: sha256.New(), want: f.SHA256, size: f.Bytes, name: key}, nil
				}
			}
			return namedReader{rc, key}, nil
		}
	}
	src.itemsCSV = &csvFile{name: model.Key(version, model.ItemEmbeddingsFile), open: open(model.ItemEmbeddingsFile), kind: "item", typ: src.ids.Item, spec: src.spec}
	src.usersCSV = &csvFile{name: model.Key(version, model.UserEmbeddingsFile), open: open(model.UserEmbeddingsFile), kind: "user", typ: src.ids.User, spec: src.spec}
	src.items, src.users = src.itemsCSV.entries(), src.usersCSV.entries()
	return src, nil
}

// maxSpecBytes bounds the dataset spec file read from a model version.
const maxSpecBytes = 1 << 20

// versionSpec returns the dataset spec the model version man describes was
// trained on: the built-in one for versions of the built-in spec (or saved
// before specs existed), else its artifacts' dataset/spec.yaml, checked
// against the manifest's size, SHA-256 and spec hash.
func versionSpec(ctx context.Context, b lake.Bucket, man *model.Manifest) (*dataset.Spec, error) {
	name, hash := man.SpecOf()
	classic := dataset.Classic()
	if hash == dataset.Hash(&classic) {
		return &classic, nil
	}
	key := model.Key(man.Version, model.DatasetSpecFile)
	var file *model.ManifestFile
	for i := range man.Files {
		if man.Files[i].Path == model.DatasetSpecFile {
			file = &man.Files[i]
		}
	}
	if file == nil {
		return nil, fmt.Errorf("model version %s was trained on the dataset spec %s (hash %s), but its manifest lists no %s to read the id types from",
			man.Version, name, hash, model.DatasetSpecFile)
	}
	if file.Bytes > maxSpecBytes {
		return nil, fmt.Errorf("%s in %s: %d bytes, more than a dataset spec's %d", key, b, file.Bytes, maxSpecBytes)
	}
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", key, b, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, file.Bytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", key, b, err)
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != file.Bytes || !strings.EqualFold(hex.EncodeToString(sum[:]), file.SHA256) {
		return nil, fmt.Errorf("%s in %s: %d bytes with SHA-256 %s, but the manifest lists %d bytes with %s: the file is damaged or was changed",
			key, b, len(data), hex.EncodeToString(sum[:]), file.Bytes, file.SHA256)
	}
	spec, err := dataset.Parse(data, key)
	if err != nil {
		return nil, fmt.Errorf("model version %s: %w", man.Version, err)
	}
	if h := dataset.Hash(spec); h != hash {
		return nil, fmt.Errorf("%s in %s has hash %s, but the manifest records %s", key, b, h, hash)
	}
	return spec, nil
}

// namedReader prefixes read errors with the file's name.
type namedReader struct {
	rc   io.ReadCloser
	name string
}

func (n namedReader) Read(p []byte) (int, error) {
	k, err := n.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", n.name, err)
	}
	return k, err
}

func (n namedReader) Close() error { return n.rc.Close() }

// checkedReader fails at the end of the file when its size or SHA-256
// differs from the manifest's, so that a damaged file is never loaded.
type checkedReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want string
	size int64
	name string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	k, err := c.rc.Read(p)
	c.h.Write(p[:k])
	c.n += int64(k)
	if err == io.EOF {
		if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.size || !strings.EqualFold(got, c.want) {
			return k, fmt.Errorf("%s: %d bytes with SHA-256 %s, but the manifest lists %d bytes with %s: the file is damaged or was changed",
				c.name, c.n, got, c.size, c.want)
		}
	} else if err != nil {
		err = fmt.Errorf("%s: %w", c.name, err)
	}
	return k, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
