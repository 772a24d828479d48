package vector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/recoflow/recoflow/embedding"
)

// Sentinel errors. Backends return them wrapped with what was being
// attempted; test them with errors.Is.
var (
	// ErrNotFound: the item or user id is not in the live version.
	ErrNotFound = errors.New("not found in the vector store")
	// ErrDimension: a vector's length differs from the store's dimension
	// (a query, or a model version whose embeddings do not fit the store).
	ErrDimension = errors.New("vector dimension mismatch")
	// ErrInvalid: the input cannot be used — a zero or non-finite vector, a
	// user id that is not an integer, an empty or malformed version name.
	ErrInvalid = errors.New("invalid vector store input")
	// ErrEmpty: no model version is loaded, so there is nothing to search.
	// Callers should fall back (to popular products, say) rather than fail.
	ErrEmpty = errors.New("vector store is empty: no model version loaded")
	// ErrUnavailable: the store cannot be reached (a database that is down,
	// a closed store). Retrying later may succeed; callers should fall back
	// meanwhile.
	ErrUnavailable = errors.New("vector store unavailable")
)

// DuplicateIDError is a Load's error for items or users that hold the
// same id twice (after CanonicalID). It wraps ErrInvalid. The store finds
// the duplicate when it has read everything; a caller that knows where the
// entries came from can look for the id's lines there (recoflow vectors
// load does).
type DuplicateIDError struct {
	Kind string // "item" or "user"
	ID   string // the id as canonical ids are written
}

func (e *DuplicateIDError) Error() string {
	return fmt.Sprintf("%v: %s id %q appears twice", ErrInvalid, e.Kind, e.ID)
}

// Unwrap returns ErrInvalid.
func (e *DuplicateIDError) Unwrap() error { return ErrInvalid }

// DefaultDim is the embedding dimension of the lab's model and tables.
const DefaultDim = 32

// Hit is one search result.
type Hit struct {
	// ID is the item id (productCode).
	ID string
	// Distance is the cosine distance to the query, 1 − cos, in [0, 2].
	Distance float64
}

// Similarity returns the cosine similarity, 1 − Distance, in [−1, 1].
func (h Hit) Similarity() float64 { return 1 - h.Distance }

// Query is one search of a batch.
type Query struct {
	// Vector is the query vector; its length must be the store's Dim.
	Vector []float32
	// K is the number of hits wanted.
	K int
	// Exclude lists item ids that must not appear in the hits (the item
	// itself, items already in the cart). They do not count towards K.
	Exclude []string
}

// Info describes the live model version.
type Info struct {
	// Version is the model version's name, as given to Load.
	Version string
	// Dim is the dimension of every vector.
	Dim int
	// Items and Users count the loaded embeddings.
	Items, Users int
	// IDs are the id types the version was loaded with (see IDTypes).
	IDs IDTypes
	// LoadedAt is when the version went live.
	LoadedAt time.Time
}

// Entries yields the embeddings of one table in order. An iterator stops at
// the first error it yields; a store's Load consumes it exactly once. A nil
// Entries yields nothing.
type Entries = iter.Seq2[embedding.Entry, error]

// Reader searches the live version. All methods are safe for concurrent
// use, block until done or until ctx is done, and are safe to repeat; none
// changes the store. Each call sees one version, whole, even while a Load
// swaps in the next.
type Reader interface {
	// Dim returns the dimension of the store's vectors. It does not block.
	Dim() int
	// Version describes the live version, or returns ErrEmpty when none is
	// loaded.
	Version(ctx context.Context) (Info, error)
	// SearchItems returns up to k items nearest to query by cosine
	// distance, nearest first; ids in exclude are skipped and do not count
	// towards k. k ≤ 0 gives no hits. A query of the wrong length wraps
	// ErrDimension; a zero or non-finite one wraps ErrInvalid; a store with
	// nothing loaded gives ErrEmpty. Approximate backends may miss a true
	// neighbour now and then (see each backend's recall figures).
	SearchItems(ctx context.Context, query []float32, k int, exclude ...string) ([]Hit, error)
	// SearchItemsBatch runs several searches against the same version and
	// returns their hits in order, with one round trip where the backend
	// allows. It fails as a whole with the first query's error.
	SearchItemsBatch(ctx context.Context, queries []Query) ([][]Hit, error)
	// ItemVector returns a copy of the item's embedding, or ErrNotFound.
	ItemVector(ctx context.Context, id string) ([]float32, error)
	// UserVector returns a copy of the user's embedding, or ErrNotFound.
	// The id is matched as the live version's user id type says: an
	// integer id in canonical form (" 0103" finds 103; an id that is not a
	// 32-bit integer finds nothing), a string id exactly.
	UserVector(ctx context.Context, id string) ([]float32, error)
	// String describes the store for logs and errors, without secrets.
	String() string
}

// SimilarSearcher is implemented by readers that find an item's
// neighbours in one step, without handing its vector back and forth (one
// round trip for a database). SimilarItems(ctx, id, k, exclude...) is
// SearchItems(ctx, ItemVector(id), k, id and exclude...): the k items
// nearest to item id, nearest first, never id itself; an unknown id wraps
// ErrNotFound.
type SimilarSearcher interface {
	SimilarItems(ctx context.Context, id string, k int, exclude ...string) ([]Hit, error)
}

// Store is a Reader that can load new versions.
type Store interface {
	Reader
	// Load reads items and users once, builds the new version beside the
	// live one and swaps it in atomically, then returns its description.
	// It blocks until the new version is live (or durable and live, for
	// persistent stores). On any error — bad input, a cancelled ctx, a
	// failing store — the previous version stays live and whole. Vectors of
	// the wrong length wrap ErrDimension; zero or non-finite vectors, ids
	// that do not fit their id type (see CanonicalID) and duplicate ids wrap
	// ErrInvalid; no items at all wraps ErrEmpty. Loading the same version
	// again replaces it. Concurrent loads are serialised; the last to finish
	// wins. The id types are the lab's (LabIDs) unless WithIDTypes says
	// otherwise; a version may have other id types than the one it replaces.
	Load(ctx context.Context, version string, items, users Entries, opts ...LoadOption) (Info, error)
	// Close releases the store. Calls after Close wrap ErrUnavailable.
	Close() error
}

// FromSlice returns an iterator over entries.
func FromSlice(entries []embedding.Entry) Entries {
	return func(yield func(embedding.Entry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// FromCSV returns an iterator over an embeddings CSV file (header
// id,embedding, see package embedding) that open opens when iteration
// starts and that is closed when it ends. Decoding errors carry the line.
func FromCSV(open func() (io.ReadCloser, error)) Entries {
	return func(yield func(embedding.Entry, error) bool) {
		rc, err := open()
		if err != nil {
			yield(embedding.Entry{}, err)
			return
		}
		defer rc.Close()
		stopped := false
		err = embedding.Read(rc, func(e embedding.Entry) error {
			if !yield(e, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err != nil && !stopped {
			yield(embedding.Entry{}, err)
		}
	}
}

var errStop = errors.New("stop")

// CheckVector reports whether v can be stored or used as a query in a store
// of dimension dim: the length must be dim (else ErrDimension) and the
// vector must be finite and non-zero (else ErrInvalid).
func CheckVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("%w: %d components, the store holds %d", ErrDimension, len(v), dim)
	}
	var sum float64
	for i, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%w: component %d is %v", ErrInvalid, i+1, f)
		}
		sum += f * f
	}
	if sum == 0 {
		return fmt.Errorf("%w: a zero vector has no cosine distance", ErrInvalid)
	}
	return nil
}

// IDType is how one table's ids are typed, as a dataset spec's id_type
// declares them (dataset.IDInteger, dataset.IDString).
type IDType string

// ID types.
const (
	// IDInteger ids are 32-bit decimal integers for users (pgvector
	// user_emb.id int, as in the lab) and 64-bit ones for items, checked
	// and stored in canonical decimal form (" 0103" is stored as "103").
	// UserVector matches a user id in that form too; item ids given to
	// readers (ItemVector, exclusions) are matched exactly, as stored.
	IDInteger IDType = "integer"
	// IDString ids are any non-empty UTF-8 text up to MaxIDLen bytes
	// without NUL, stored and matched exactly.
	IDString IDType = "string"
)

// MaxIDLen bounds the length of a string id, in bytes (PostgreSQL's B-tree
// keys must fit in a third of a page).
const MaxIDLen = 1000

// IDTypes are the id types of a version's two tables.
type IDTypes struct {
	User, Item IDType
}

// LabIDs are the lab's id types, the built-in spec's: integer users
// (customerNumber), string items (productCode). A zero IDTypes field
// means the lab's type.
var LabIDs = IDTypes{User: IDInteger, Item: IDString}

// Resolve fills the zero fields of t with the lab's types and checks the
// rest; an unknown type wraps ErrInvalid.
func (t IDTypes) Resolve() (IDTypes, error) {
	if t.User == "" {
		t.User = LabIDs.User
	}
	if t.Item == "" {
		t.Item = LabIDs.Item
	}
	for _, x := range []struct {
		kind string
		typ  IDType
	}{{"user", t.User}, {"item", t.Item}} {
		if x.typ != IDInteger && x.typ != IDString {
			return t, fmt.Errorf("%w: %s id type %q: want %q or %q", ErrInvalid, x.kind, x.typ, IDInteger, IDString)
		}
	}
	return t, nil
}

// LoadOption adjusts one Store.Load.
type LoadOption func(*LoadOptions)

// LoadOptions are what LoadOptions set; backends read them with
// LoadOptionsOf.
type LoadOptions struct {
	// IDs are the version's id types (default LabIDs).
	IDs IDTypes
	// Items and Users, when positive, are the numbers of rows expected
	// (WithSizeHint).
	Items, Users int
}

// WithSizeHint tells the store how many items and users the load will
// bring (a model manifest's counts, a file's lines), so that a backend
// building the version in memory allocates it once, at its size, instead
// of growing it. It is a hint, not a limit: more or fewer rows load too.
func WithSizeHint(items, users int) LoadOption {
	return func(o *LoadOptions) { o.Items, o.Users = items, users }
}

// WithIDTypes loads a version whose ids are typed as ids says (a dataset
// spec's users.id_type and items.id_type); zero fields keep the lab's.
func WithIDTypes(ids IDTypes) LoadOption {
	return func(o *LoadOptions) { o.IDs = ids }
}

// LoadOptionsOf applies opts to the defaults and checks the result.
func LoadOptionsOf(opts ...LoadOption) (LoadOptions, error) {
	var o LoadOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var err error
	o.IDs, err = o.IDs.Resolve()
	return o, err
}

// CanonicalID checks a kind ("user", "item") id of type typ as a load
// reads it and returns the form stores keep: for IDInteger the canonical
// decimal (32-bit for users, as the lab's user_emb.id int; 64-bit for
// items), for IDString the id itself. A bad id wraps ErrInvalid and names
// it.
func CanonicalID(kind string, typ IDType, id string) (string, error) {
	if typ == IDInteger {
		bits, col := 64, ""
		if kind == "user" {
			bits, col = 32, " (user_emb.id is int)"
		}
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, bits)
		if err != nil {
			return "", fmt.Errorf("%w: %s id %q is not a %d-bit integer%s", ErrInvalid, kind, id, bits, col)
		}
		return strconv.FormatInt(n, 10), nil
	}
	switch {
	case id == "":
		return "", fmt.Errorf("%w: %s with an empty id", ErrInvalid, kind)
	case len(id) > MaxIDLen:
		return "", fmt.Errorf("%w: %s id %.40q… is longer than %d bytes", ErrInvalid, kind, id, MaxIDLen)
	case !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0:
		return "", fmt.Errorf("%w: %s id %q is not UTF-8 text without NUL", ErrInvalid, kind, id)
	}
	return id, nil
}

// LookupID returns the form in which a version with id type typ keeps the
// kind id a reader was given, and false when no id of that type can be
// that id (a user id that is not a 32-bit integer, for integer users).
func LookupID(kind string, typ IDType, id string) (string, bool) {
	c, err := CanonicalID(kind, typ, id)
	return c, err == nil
}

// ParseUserID parses a user id as the lab's user_emb table stores it: a
// decimal 32-bit integer (PostgreSQL int). Anything else wraps ErrInvalid.
func ParseUserID(id string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: user id %q is not a 32-bit integer (user_emb.id is int)", ErrInvalid, id)
	}
	return n, nil
}

// MaxVersionLen bounds the length of a version name.
const MaxVersionLen = 200

// CheckVersion reports whether name can name a model version: 1 to
// MaxVersionLen printable characters, no surrounding spaces.
func CheckVersion(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty model version name", ErrInvalid)
	}
	if len(name) > MaxVersionLen {
		return fmt.Errorf("%w: model version name longer than %d bytes", ErrInvalid, MaxVersionLen)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%w: model version name %q has surrounding spaces", ErrInvalid, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: model version name %q has a non-printable character", ErrInvalid, name)
		}
	}
	return nil
}
