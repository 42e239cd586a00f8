// Package cache is dagrun's content-addressed store: a SQLite index
// (index.db) beside a folder of immutable blob files (objects/ab/cdef…,
// named by the SHA-256 of their content).
//
// The package knows nothing of specs, node kinds or machine learning: keys
// and digests are opaque lowercase hex strings and a Record is stored as
// given.
//
// It targets Linux: process liveness comes from /proc, file identity from
// inode numbers and ctime.
//
// Invariants:
//
//   - A blob file is placed (linked or copied, fsynced, renamed) and its
//     directory fsynced before any row refers to it, and an entry, its
//     manifest, its blob rows and its metrics are inserted in one
//     transaction. A crash at any instant therefore leaves a complete entry
//     or none; what it may leave behind (unregistered blob files, scratch
//     folders of dead processes) is garbage that GC and Open remove.
//   - A blob is trusted without hashing while its (size, mtime_ns, inode)
//     equal what was recorded when it was placed; otherwise Get re-hashes
//     it. A missing or corrupt blob is a cache miss (the entry is dropped
//     and a warning logged), never an error. Verify re-hashes everything.
//   - Blob files are read-only (0444) and never rewritten in place; a blob
//     that must be replaced is replaced by rename.
//   - Leases are rows in the index, so they are shared by every process
//     using the cache. No transaction is held while a lease holder works.
//     A lease whose owner is expired, or whose owner is on this host and
//     dead (or whose pid was reused), is taken over at once.
//   - Every write transaction starts with BEGIN IMMEDIATE, so concurrent
//     writers queue on the busy timeout instead of failing with
//     "database is locked".
//   - Every error returned, except ErrNotFound from Get and Metrics, is a
//     *Error naming the cache folder and the operation, so a caller can map
//     all of them to one exit code.
package cache
