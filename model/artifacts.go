package model

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/lake"
)

// Artifact layout in the lake (DESIGN.md §5). Keys of one version are
// Prefix/<version>/<file>.
const (
	// Prefix is the lake prefix of all model versions.
	Prefix = "ml-artifacts"
	// LatestKey holds the name of the latest committed version. It is
	// written after the version's manifest.
	LatestKey = Prefix + "/LATEST"
	// ManifestName commits a version: it is written last, and a version
	// without it is ignored.
	ManifestName = "manifest.json"

	// ItemEmbeddingsFile holds every product's embedding (id = productCode)
	// as id,embedding CSV, the vector in pgvector text form.
	ItemEmbeddingsFile = "embeddings/item_embeddings.csv"
	// UserEmbeddingsFile holds every customer's embedding (id =
	// customerNumber), in the same form.
	UserEmbeddingsFile = "embeddings/user_embeddings.csv"
	// UserTowerFile and ItemTowerFile hold the towers' weights as JSON.
	UserTowerFile = "model/user_tower.json"
	ItemTowerFile = "model/item_tower.json"
	// IDEmbeddingsFile holds the learned id vector of every user and item
	// the model was trained on, and the rating head, as JSON. A version
	// without it (older ones) is a content-only model.
	IDEmbeddingsFile = "model/id_embeddings.json"
	// UserEncoderFile and ItemEncoderFile hold the one-hot encoders and
	// standard scalers as JSON.
	UserEncoderFile = "scalers/user_encoder.json"
	ItemEncoderFile = "scalers/item_encoder.json"
	// MetricsFile holds the Metrics as JSON.
	MetricsFile = "metrics.json"
	// LossCurveFile is a PNG picture of the loss per epoch.
	LossCurveFile = "loss.png"
	// DatasetSpecFile holds the dataset spec the model was trained on, as
	// YAML (dataset.Marshal), for a dataset other than the built-in one;
	// the manifest records its name and hash.
	DatasetSpecFile = "dataset/spec.yaml"
)

// ErrNoModel means the lake holds no committed model version (or not the
// one asked for).
var ErrNoModel = errors.New("no committed model")

// ErrVersionExists means Save was asked to write a version that is already
// committed. Versions are immutable.
var ErrVersionExists = errors.New("model version already exists")

// Manifest lists the files of one committed version.
type Manifest struct {
	Format       string    `json:"format"`
	Version      string    `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	Dim          int       `json:"dim"`
	Users        int       `json:"users"`
	Items        int       `json:"items"`
	DatasetRunID string    `json:"dataset_run_id,omitempty"`
	// Spec and SpecHash name the dataset spec the model was trained on
	// and its hash (dataset.Hash): the built-in classicmodels spec, or
	// the one in DatasetSpecFile. Empty in versions saved before specs
	// existed, which are of the built-in dataset.
	Spec     string         `json:"spec,omitempty"`
	SpecHash string         `json:"spec_hash,omitempty"`
	Files    []ManifestFile `json:"files"`
}

// SpecOf returns the name and hash of the dataset spec of the version
// man describes: the manifest's, or the built-in spec's for a version saved
// before specs existed. serve and stream compare them with the spec they
// run with.
func (man *Manifest) SpecOf() (name, hash string) {
	if man.SpecHash == "" {
		c := dataset.Classic()
		return c.Name, dataset.Hash(&c)
	}
	return man.Spec, man.SpecHash
}

// ManifestFile is one file of a version, its path relative to the version.
type ManifestFile struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

const manifestFormat = "recoflow.ml-artifacts/v1"

// Key returns the lake key of file (such as UserEmbeddingsFile) in version.
func Key(version, file string) string { return path.Join(Prefix, version, file) }

// NewVersion returns the default version name for a model trained at t:
// its UTC time as 20261125T153000Z, so that names sort by time.
func NewVersion(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// CheckVersion reports whether v can name a version: 1 to 128 letters,
// digits, '.', '_' or '-', not starting with '.' or '_'.
func CheckVersion(v string) error {
	if v == "" || len(v) > 128 {
		return fmt.Errorf("model version %q: want 1 to 128 characters", v)
	}
	if v[0] == '.' || v[0] == '_' {
		return fmt.Errorf("model version %q: must not start with %q", v, v[0])
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("model version %q: %q is not allowed (use letters, digits, '.', '_' and '-')", v, c)
		}
	}
	return nil
}

// Save writes the model, its embeddings of every user and item of the
// training data, its encoders, metrics and loss curve under
// Prefix/<version>/, then the version's manifest, then LatestKey. A version
// is committed by its manifest alone: if Save fails before it, readers
// never see the version (and Save removes what it wrote, as far as it can).
// Saving a committed version again fails with ErrVersionExists; repeating
// a Save that failed is safe. Save blocks until every object is written or
// ctx is done.
func (r *Result) Save(ctx context.Context, b lake.Bucket, version string) error {
	if err := CheckVersion(version); err != nil {
		return err
	}
	_, err := b.Attributes(ctx, Key(version, ManifestName))
	if err == nil {
		return fmt.Errorf("save model %s in %s: %w", version, b, ErrVersionExists)
	}
	if !errors.Is(err, lake.ErrNotFound) {
		return fmt.Errorf("save model %s: %w", version, err)
	}
	m := r.Model
	met := *r.Metrics
	met.Version = version

	type file struct {
		name string
		data []byte
	}
	var files []file
	add := func(name string, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("save model %s: %s: %w", version, name, err)
		}
		files = append(files, file{name, data})
		return nil
	}
	d := r.data
	userEmb, err := embeddingsCSV(d.userIDs, func(k int) []float32 { return m.EmbedKnownUserFeatures(d.userIDs[k], d.users[k]) })
	if err := add(UserEmbeddingsFile, userEmb, err); err != nil {
		return err
	}
	itemEmb, err := embeddingsCSV(d.itemIDs, func(k int) []float32 { return m.EmbedKnownItemFeatures(d.itemIDs[k], d.items[k]) })
	if err := add(ItemEmbeddingsFile, itemEmb, err); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    any
	}{
		{UserTowerFile, m.user.file("user")},
		{ItemTowerFile, m.item.file("item")},
		{IDEmbeddingsFile, m.idFile()},
	} {
		data, err := json.Marshal(f.v)
		if err := add(f.name, append(data, '\n'), err); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    any
	}{
		{UserEncoderFile, m.userEnc},
		{ItemEncoderFile, m.itemEnc},
		{MetricsFile, &met},
	} {
		data, err := json.MarshalIndent(f.v, "", "  ")
		if err := add(f.name, append(data, '\n'), err); err != nil {
			return err
		}
	}
	png, err := lossCurvePNG(met.Epochs, met.BestEpoch)
	if err := add(LossCurveFile, png, err); err != nil {
		return err
	}
	spec := d.spec
	if spec == nil {
		c := dataset.Classic()
		spec = &c
	} else {
		data, err := dataset.Marshal(spec)
		if err := add(DatasetSpecFile, data, err); err != nil {
			return err
		}
	}

	man := Manifest{
		Format:       manifestFormat,
		Version:      version,
		CreatedAt:    time.Now().UTC(),
		Dim:          m.dim,
		Users:        len(d.users),
		Items:        len(d.items),
		DatasetRunID: met.DatasetRunID,
		Spec:         spec.Name,
		SpecHash:     dataset.Hash(spec),
	}
	var written []string
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		man.Files = append(man.Files, ManifestFile{Path: f.name, Bytes: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
		key := Key(version, f.name)
		if err := b.Put(ctx, key, bytes.NewReader(f.data)); err != nil {
			cleanup(ctx, b, written)
			return fmt.Errorf("save model %s: write %s: %w", version, key, err)
		}
		written = append(written, key)
	}
	data, err := json.MarshalIndent(&man, "", "  ")
	if err != nil {
		cleanup(ctx, b, written)
		return fmt.Errorf("save model %s: manifest: %w", version, err)
	}
	if err := b.Put(ctx, Key(version, ManifestName), bytes.NewReader(append(data, '\n'))); err != nil {
		cleanup(ctx, b, written)
		return fmt.Errorf("save model %s: write manifest: %w", version, err)
	}
	if err := b.Put(ctx, LatestKey, strings.NewReader(version+"\n")); err != nil {
		return fmt.Errorf("save model %s: committed, but %s was not updated: %w", version, LatestKey, err)
	}
	m.version = version
	r.Metrics.Version = version
	return nil
}

// cleanup removes the files of a failed Save, even when ctx is done. Errors
// are ignored: without a manifest the files are invisible anyway.
func cleanup(ctx context.Context, b lake.Bucket, keys []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, k := range keys {
		_ = b.Delete(ctx, k)
	}
}

func embeddingsCSV(ids []string, embed func(k int) []float32) ([]byte, error) {
	var buf bytes.Buffer
	w, err := embedding.NewWriter(&buf)
	if err != nil {
		return nil, err
	}
	for k, id := range ids {
		if err := w.Write(embedding.Entry{ID: id, Vector: embed(k)}); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LatestVersion returns the version LatestKey names, after checking that it
// is committed. A lake without LatestKey, or whose LatestKey names a
// version without a manifest, gives an error wrapping ErrNoModel. It blocks
// on two small reads.
func LatestVersion(ctx context.Context, b lake.BucketReader) (string, error) {
	data, err := readObject(ctx, b, LatestKey, 1024)
	if errors.Is(err, lake.ErrNotFound) {
		return "", fmt.Errorf("%w in %s (no %s): run `recoflow train` first", ErrNoModel, b, LatestKey)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", LatestKey, err)
	}
	v := strings.TrimSpace(string(data))
	if err := CheckVersion(v); err != nil {
		return "", fmt.Errorf("%s in %s: %w", LatestKey, b, err)
	}
	if _, err := ReadManifest(ctx, b, v); err != nil {
		return "", fmt.Errorf("%s names %s: %w", LatestKey, v, err)
	}
	return v, nil
}

// ReadManifest returns the manifest of a committed version, or an error
// wrapping ErrNoModel when the version has none.
func ReadManifest(ctx context.Context, b lake.BucketReader, version string) (*Manifest, error) {
	if err := CheckVersion(version); err != nil {
		return nil, err
	}
	key := Key(version, ManifestName)
	data, err := readObject(ctx, b, key, 1<<20)
	if errors.Is(err, lake.ErrNotFound) {
		return nil, fmt.Errorf("%w: version %s in %s has no %s (absent or incomplete)", ErrNoModel, version, b, ManifestName)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var man Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("%s in %s: %w", key, b, err)
	}
	if man.Format != manifestFormat {
		return nil, fmt.Errorf("%s in %s: format %q, want %q", key, b, man.Format, manifestFormat)
	}
	if man.Version != version {
		return nil, fmt.Errorf("%s in %s: names version %q", key, b, man.Version)
	}
	return &man, nil
}

// Load reads a committed model version from the lake (the latest when
// version is ""), checking every file it reads against the manifest's
// checksums. The loaded model embeds exactly as the one that was saved: the
// same features give the same bits. A missing or uncommitted version gives
// an error wrapping ErrNoModel; a file that does not match the manifest, or
// does not fit its encoder, an error naming it. Load blocks until the files
// are read or ctx is done; repeating it is safe.
func Load(ctx context.Context, b lake.BucketReader, version string) (*Model, error) {
	if version == "" {
		v, err := LatestVersion(ctx, b)
		if err != nil {
			return nil, err
		}
		version = v
	}
	man, err := ReadManifest(ctx, b, version)
	if err != nil {
		return nil, err
	}
	sums := make(map[string]ManifestFile, len(man.Files))
	for _, f := range man.Files {
		sums[f.Path] = f
	}
	read := func(name string, v any) error {
		f, ok := sums[name]
		if !ok {
			return fmt.Errorf("load model %s: the manifest does not list %s", version, name)
		}
		key := Key(version, name)
		data, err := readObject(ctx, b, key, f.Bytes+1)
		if err != nil {
			return fmt.Errorf("load model %s: %w", version, err)
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			return fmt.Errorf("load model %s: %s does not match its manifest (size or checksum)", version, key)
		}
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("load model %s: %s: %w", version, key, err)
		}
		return nil
	}
	var ue, ie encoder
	var ut, it towerFile
	for _, f := range []struct {
		name string
		v    any
	}{{UserEncoderFile, &ue}, {ItemEncoderFile, &ie}, {UserTowerFile, &ut}, {ItemTowerFile, &it}} {
		if err := read(f.name, f.v); err != nil {
			return nil, err
		}
	}
	idf := idFile{Format: idFormat, RatingHead: ratingHead{Intercept: 3, Slope: 2}}
	if _, ok := sums[IDEmbeddingsFile]; ok {
		if err := read(IDEmbeddingsFile, &idf); err != nil {
			return nil, err
		}
	}
	us, is := labUsers, labItems
	var spec *dataset.Spec
	if f, ok := sums[DatasetSpecFile]; ok {
		key := Key(version, DatasetSpecFile)
		data, err := readObject(ctx, b, key, f.Bytes+1)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", version, err)
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			return nil, fmt.Errorf("load model %s: %s does not match its manifest (size or checksum)", version, key)
		}
		spec, err = dataset.Parse(data, key)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", version, err)
		}
		if h := dataset.Hash(spec); h != man.SpecHash {
			return nil, fmt.Errorf("load model %s: %s has hash %s, the manifest records %s", version, key, h, man.SpecHash)
		}
		full := spec.WithDefaults()
		us, is = schemaOf(&full.Users), schemaOf(&full.Items)
	}
	if err := ue.init(us); err != nil {
		return nil, fmt.Errorf("load model %s: %w", version, err)
	}
	if err := ie.init(is); err != nil {
		return nil, fmt.Errorf("load model %s: %w", version, err)
	}
	user, err := ut.tower("user", ue.width)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", version, err)
	}
	item, err := it.tower("item", ie.width)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", version, err)
	}
	if user.out != item.out {
		return nil, fmt.Errorf("load model %s: user embeddings have %d dimensions, item embeddings %d", version, user.out, item.out)
	}
	m := &Model{version: version, dim: user.out, userEnc: &ue, itemEnc: &ie, user: user, item: item, spec: spec}
	if err := idf.apply(m); err != nil {
		return nil, fmt.Errorf("load model %s: %s: %w", version, IDEmbeddingsFile, err)
	}
	return m, nil
}

// idFile is the id vectors and rating head as stored in model/.
type idFile struct {
	Format     string     `json:"format"`
	Dim        int        `json:"dim"`
	RatingHead ratingHead `json:"rating_head"`
	Users      []idVector `json:"users"`
	Items      []idVector `json:"items"`
}

// ratingHead maps a cosine to a rating: Intercept + Slope·cos, clamped to
// 1–5.
type ratingHead struct {
	Intercept float64 `json:"intercept"`
	Slope     float64 `json:"slope"`
}

type idVector struct {
	ID     string    `json:"id"`
	Vector []float64 `json:"vector"`
}

const idFormat = "recoflow.id-embeddings/v1"

func (m *Model) idFile() *idFile {
	f := &idFile{Format: idFormat, Dim: m.dim, RatingHead: ratingHead{Intercept: m.ratingA, Slope: m.ratingB}}
	rows := func(index map[string]int32, vec []float64) []idVector {
		out := make([]idVector, len(index))
		for id, k := range index {
			out[k] = idVector{ID: id, Vector: vec[int(k)*m.dim:][:m.dim]}
		}
		return out
	}
	f.Users = rows(m.userIDs, m.userVec)
	f.Items = rows(m.itemIDs, m.itemVec)
	return f
}

// apply checks the stored id vectors against m's dimension and gives them
// to m.
func (f *idFile) apply(m *Model) error {
	if f.Format != idFormat {
		return fmt.Errorf("format %q, want %q", f.Format, idFormat)
	}
	if !isFinite(f.RatingHead.Intercept) || !isFinite(f.RatingHead.Slope) {
		return fmt.Errorf("rating head %+v: want finite numbers", f.RatingHead)
	}
	m.ratingA, m.ratingB = f.RatingHead.Intercept, f.RatingHead.Slope
	table := func(side string, rows []idVector) (map[string]int32, []float64, error) {
		if len(rows) == 0 {
			return nil, nil, nil
		}
		index := make(map[string]int32, len(rows))
		vec := make([]float64, 0, len(rows)*m.dim)
		for n, r := range rows {
			if len(r.Vector) != m.dim {
				return nil, nil, fmt.Errorf("%s %d (id %q): %d values, want %d", side, n+1, r.ID, len(r.Vector), m.dim)
			}
			if _, dup := index[r.ID]; dup || r.ID == "" {
				return nil, nil, fmt.Errorf("%s %d: id %q is empty or repeated", side, n+1, r.ID)
			}
			for _, x := range r.Vector {
				if !isFinite(x) {
					return nil, nil, fmt.Errorf("%s %d (id %q): value %v is not finite", side, n+1, r.ID, x)
				}
			}
			index[r.ID] = int32(n)
			vec = append(vec, r.Vector...)
		}
		return index, vec, nil
	}
	var err error
	if m.userIDs, m.userVec, err = table("user", f.Users); err != nil {
		return err
	}
	m.itemIDs, m.itemVec, err = table("item", f.Items)
	return err
}

func readObject(ctx context.Context, b lake.BucketReader, key string, limit int64) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) >= limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", key, limit-1)
	}
	return data, nil
}

// towerFile is a tower as stored in model/: its layers in order, each
// output = activation(weight · input + bias), weight[o][i] the weight from
// input i to output o (the usual "out × in" layout of Dense/Linear layers).
type towerFile struct {
	Format string      `json:"format"`
	Side   string      `json:"side"`
	Layers []layerFile `json:"layers"`
}

type layerFile struct {
	Activation string      `json:"activation"`
	In         int         `json:"in"`
	Out        int         `json:"out"`
	Weight     [][]float64 `json:"weight"`
	Bias       []float64   `json:"bias"`
}

const towerFormat = "recoflow.tower/v1"

func (t *tower) file(side string) towerFile {
	H := t.hidden
	l1 := layerFile{Activation: "relu", In: t.in, Out: H, Weight: make([][]float64, H), Bias: append([]float64(nil), t.b1...)}
	for k := range H {
		row := make([]float64, t.in)
		for i := range t.in {
			row[i] = t.w1[i*H+k]
		}
		l1.Weight[k] = row
	}
	l2 := layerFile{Activation: "linear", In: H, Out: t.out, Weight: make([][]float64, t.out), Bias: append([]float64(nil), t.b2...)}
	for o := range t.out {
		row := make([]float64, H)
		for k := range H {
			row[k] = t.w2[k*t.out+o]
		}
		l2.Weight[o] = row
	}
	return towerFile{Format: towerFormat, Side: side, Layers: []layerFile{l1, l2}}
}

// tower checks a stored tower against the encoder width of its side and
// returns it.
func (f *towerFile) tower(side string, width int) (*tower, error) {
	if f.Format != towerFormat {
		return nil, fmt.Errorf("%s tower: format %q, want %q", side, f.Format, towerFormat)
	}
	if len(f.Layers) != 2 || f.Layers[0].Activation != "relu" || f.Layers[1].Activation != "linear" {
		return nil, fmt.Errorf("%s tower: want two layers, relu then linear", side)
	}
	l1, l2 := f.Layers[0], f.Layers[1]
	if l1.In != width {
		return nil, fmt.Errorf("%s tower: takes %d inputs, its encoder gives %d", side, l1.In, width)
	}
	if l2.In != l1.Out || l1.Out < 1 || l2.Out < 1 {
		return nil, fmt.Errorf("%s tower: layer sizes %d→%d→%d do not chain", side, l1.In, l1.Out, l2.Out)
	}
	check := func(l layerFile, n int) error {
		if len(l.Weight) != l.Out || len(l.Bias) != l.Out {
			return fmt.Errorf("%s tower, layer %d: %d weight rows and %d biases, want %d", side, n, len(l.Weight), len(l.Bias), l.Out)
		}
		for o, row := range l.Weight {
			if len(row) != l.In {
				return fmt.Errorf("%s tower, layer %d: weight row %d has %d values, want %d", side, n, o, len(row), l.In)
			}
		}
		return nil
	}
	if err := check(l1, 1); err != nil {
		return nil, err
	}
	if err := check(l2, 2); err != nil {
		return nil, err
	}
	H := l1.Out
	t := newTower(l1.In, H, l2.Out, make([]float64, towerSize(l1.In, H, l2.Out)))
	for k, row := range l1.Weight {
		for i, w := range row {
			t.w1[i*H+k] = w
		}
	}
	copy(t.b1, l1.Bias)
	for o, row := range l2.Weight {
		for k, w := range row {
			t.w2[k*t.out+o] = w
		}
	}
	copy(t.b2, l2.Bias)
	return t, nil
}

// CheckWritable reports whether the model's artifacts can be written to b:
// it writes a small object under Prefix and removes it. Call it before a
// long training run so that a read-only lake fails at once, not after it.
func CheckWritable(ctx context.Context, b lake.Bucket) error {
	key := fmt.Sprintf("%s/_write-check-%d", Prefix, time.Now().UnixNano())
	if err := b.Put(ctx, key, strings.NewReader("recoflow train checks that it can write here\n")); err != nil {
		return fmt.Errorf("the lake %s is not writable (a test write of %s failed): %w", b, key, err)
	}
	if err := b.Delete(ctx, key); err != nil {
		return fmt.Errorf("the lake %s: remove the test write %s: %w", b, key, err)
	}
	return nil
}
