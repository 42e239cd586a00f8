// Package cache is dagrun's content-addressed store: a SQLite index
// (index.db) beside a folder of immutable blob files (objects/ab/cdef…,
// named by the SHA-256 of their content).
//
// The package knows nothing of specs, node kinds or machine learning: keys
// and digests are opaque lowercase hex strings and a Record is stored as
// given.
//
// It targets Linux: process liveness comes from /proc, file identity from
// inode numbers and ctime, locks from flock.
//
// Invariants:
//
//   - A blob file is placed (linked or copied, fsynced, renamed) and its
//     directory fsynced before any row refers to it (an Importer instead
//     may make all its blobs durable with one syncfs(2) before its one
//     transaction), and an entry, its
//     manifest, its blob rows and its metrics are inserted in one
//     transaction. A crash at any instant therefore leaves a complete entry
//     or none; what it may leave behind (unregistered blob files, scratch
//     folders of dead processes, lease rows of dead processes) is garbage:
//     GC removes all three, Open only the scratch folders.
//   - An output file becomes a blob only if nothing else can write to it:
//     a file with other names (link count above 1) is copied, never
//     adopted; symlinks, FIFOs, devices, sockets and names with control
//     characters, "." or ".." components are refused (ErrBadOutput).
//   - A blob from elsewhere (a remote tier) enters the store only through
//     an Importer, which hashes the bytes as it writes them and keeps the
//     blob only if they are exactly its size and hash to its digest; an
//     imported entry is registered only if every blob of it was kept.
//   - Blob files are read-only (0444) and never rewritten in place; a blob
//     that must be replaced is replaced by rename. Nothing the package
//     hands to a node is a blob: MaterializeInputs gives private copies,
//     hashed while copied, so a node cannot change the store whatever it
//     does to its inputs, and never computes from bytes that do not hash to
//     their digest. Inputs.Check tells afterwards whether it changed them.
//     (Materialize, for exports such as the report's artifacts, still
//     hard-links.)
//   - A lookup trusts a blob without hashing while its (size, mtime_ns,
//     inode) equal what was recorded when it was placed; otherwise Get
//     re-hashes it. Bit rot that keeps the stat is found where bytes are
//     read: by MaterializeInputs and by Verify.
//   - Something found bad is evicted, never served: a missing or corrupt
//     blob, or anything at a blob path that is not a regular file, drops
//     every entry holding it (a warning is logged; a lookup is then a
//     miss, not an error) and, transitively, the entries committed without
//     checked inputs (by a dagrun older than schema 3) whose recorded
//     inputs name the output of a dropped entry, since those may have been
//     computed from the bad bytes. Entries committed with InputsChecked
//     stay: their inputs were hashed as they were copied. A corrupt file is
//     deleted; a non-file (a folder, a FIFO) is moved to <dir>/quarantine/,
//     and so is a shard that is a file (its blobs are missing) when Commit
//     next places a blob in it. Nothing deletes quarantine/.
//   - No file is opened for reading before it is known to be a regular
//     file (O_NONBLOCK, then fstat): a FIFO never blocks a read. Hashing
//     and copying inputs check their context before every read (at most
//     1 MiB), so a cancel stops them.
//   - Leases are rows in the index, so they are shared by every process
//     using the cache. No transaction is held while a lease holder works.
//     A lease whose owner is expired, or whose owner is on this host and
//     dead (or whose pid was reused), is taken over at once; when the dead
//     owner recorded the process group it started (Lease.SetGroup), the
//     group's surviving members are killed first.
//   - GC never deletes what a live run produced or is about to read: every
//     run holds runs.lock shared (BeginRun) and GC takes it exclusively,
//     waiting for the runs to end. flock is dropped by the kernel when a
//     process dies, so a killed run never blocks GC. A process must not call
//     GC while it holds BeginRun.
//   - Every write transaction starts with BEGIN IMMEDIATE, so concurrent
//     writers queue on the busy timeout instead of failing with
//     "database is locked".
//   - Every error a *Cache method returns, except ErrNotFound from Get and
//     Metrics, is a *Error naming the cache folder and the operation, so a
//     caller can map all of them to one exit code; the ones that are a
//     node's fault wrap ErrBadOutput. Inputs.Check's errors are the node's
//     (*InputChangedError).
package cache
