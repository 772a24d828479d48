// Package vector is recoflow's vector store: the item and user embeddings of
// one model version, and nearest-neighbour search over the items by cosine
// distance.
//
// # Model
//
// A store holds at most one live model version, made of two tables as in the
// lab — item_emb (id = productCode, a string) and user_emb (id =
// customerNumber, an integer) — of vectors of one dimension, Dim (32 by
// default). Ids are strings in the API; each version records its id types
// (IDTypes), the lab's unless Load is given a dataset spec's with
// WithIDTypes: integer ids are checked and kept in canonical decimal form,
// string ids exactly. A version may have other id types than the one it
// replaces (see each backend for how it stores them). Load replaces the live version with a new one atomically: a
// reader sees the old version or the new one, whole, never a mix, and a load
// that fails or is cancelled leaves the old version live.
//
// Distances are cosine distances, 1 − cos(a, b), in [0, 2]; a Hit also gives
// the similarity, 1 − distance. A zero vector has no direction, so stores
// refuse to load one and refuse it as a query (ErrInvalid).
//
// # Backends
//
// Backends live in subpackages and are picked from a URL by
// internal/connect:
//
//   - vector/local (file:///path/dir): an in-process index persisted under a
//     directory: exact search below a size threshold, HNSW above it.
//   - vector/pgvector (postgres://…): PostgreSQL with the pgvector extension,
//     in the lab's tables, with an HNSW index for cosine distance.
//
// Both pass the acceptance suite in vector/vectortest.
//
// # Errors
//
// Backends translate their failures into the sentinel errors below, wrapped
// with what was being attempted, so that callers test them with errors.Is and
// never see a client library's types. A service maps them as:
//
//	ErrNotFound    404  the id is not in the live version
//	ErrDimension   400  a vector's length differs from the store's dimension
//	ErrInvalid     400  a zero or non-finite vector, a bad id
//	ErrEmpty       503  nothing is loaded yet: fall back (popular products)
//	ErrUnavailable 503  the store cannot be reached or is closed: fall back
//
// # Use
//
//	st, err := connect.Vectors(ctx, "file:///var/lib/recoflow/vectors", connect.VectorOptions{})
//	…
//	info, err := st.Load(ctx, "v7", vector.FromSlice(items), vector.FromSlice(users))
//	q, err := st.UserVector(ctx, "103")
//	…
//	// a dataset spec with string user ids and integer item ids
//	info, err = st.Load(ctx, "v8", items, users,
//		vector.WithIDTypes(vector.IDTypes{User: vector.IDString, Item: vector.IDInteger}))
//	q, err = st.UserVector(ctx, "00000000-a762")
//	hits, err := st.SearchItems(ctx, q, 10)
//	similar, err := st.SearchItems(ctx, itemVec, 5, "S10_1678") // the item itself excluded
package vector
