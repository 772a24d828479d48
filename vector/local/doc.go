// Package local is the embedded vector store: an in-process index of one
// model version's embeddings, persisted under a directory, opened from a
// file:// URL by internal/connect.
//
// Small versions (fewer items than Options.ExactThreshold, 10 000 by
// default) are searched exactly by scanning every vector, which takes
// about a millisecond per 100 k 32-dimensional vectors and so is the right
// answer for shop-sized catalogues. Larger versions get an HNSW graph built
// at load time (Malkov & Yashunin), searched with a candidate list of
// max(EfSearch, k + excluded) nodes; BENCHMARKS.md gives its recall and
// speed on 100 k and 1 M clustered vectors.
//
// A version is one file of flat little-endian arrays — ids, vectors, graph
// — with checksums, written once and published by atomic renames (see
// Store). Opening reads it whole with one read and uses the arrays in place,
// so start-up takes milliseconds for 100 k vectors and the graph is never
// rebuilt. Ids are kept as strings, in the canonical form of the version's
// id types (vector.IDTypes), which the file records: a lab version is
// written in format 1, as before id types existed, and one of other id types
// in format 2, which names them; both are read.
//
// Load builds a version in memory, its large arrays (vectors, graph links,
// id offsets) outside the Go heap (anonymous mappings freed when the version
// is dropped), sized once when the load has a size hint
// (vector.WithSizeHint): the load's peak memory is then about the version's
// size plus a constant, not the version plus the collector's headroom over
// it.
//
// Several processes may open the same directory: loads are serialised by a
// lock file, and readers pick up a version another process loaded with
// Refresh, or by themselves with Options.RefreshInterval.
package local
