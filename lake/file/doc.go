// Package file is the lake backend on a local directory: each object is a
// regular file whose path below the root is its key.
//
// Open a lake and use it through the lake interfaces:
//
//	b, err := file.Open("/var/lib/recoflow/lake")
//	if err != nil { … }
//	err = b.Put(ctx, "ratings_ml_training/run-1/part-0.parquet", r)
//
// # Atomicity
//
// Put streams into a temporary file next to its destination (a name that
// starts with ".tmp-", never listed), syncs it and renames it over the key,
// so a reader sees the previous object or the new one, never a partial file.
// Copy hard-links when it can, so a copy costs no bytes; Put never writes
// into an existing file, so a hard-linked copy stays independent of later
// writes to its source.
//
// Whole prefixes are published with Link: a relative symbolic link renamed
// over the previous one. List walks through such links, reporting keys under
// the link's name, and resolves each link once per walk, so one List sees one
// published target even while Link swaps it. A reader that must also read
// the objects it listed from one target resolves the name first (Resolve)
// and reads below the prefix it gets.
//
// # Leases
//
// Lease (lake.Leaser) takes an exclusive flock(2) on
// .recoflow/leases/<name>.lock, which the operating system frees when the
// holding process ends, however it ends.
//
// # Keys
//
// Keys are relative, slash-separated paths without empty, "." or ".."
// segments, and no segment may start with ".tmp-". A directory on disk is a
// key prefix, not an object, so one key cannot also be a prefix of another
// ("a" and "a/b" cannot both exist), unlike in S3.
package file
