// Package remote is dagrun's optional second cache tier: a shared store of
// entries (key → manifest, record, metrics, signatures) and blobs (by
// digest) behind the local cache, which stays the source of truth for a run.
//
// One concept a file:
//   - store.go: Store, objects by name (three methods), and ErrNotExist.
//   - file.go: a Store in a plain folder (file:///path).
//   - entry.go: the remote entry and its canonical signed payload.
//   - sign.go: ed25519 key pairs, signing and trust.
//   - tier.go: Tier, lazy read-through (Fetch, FetchMany; Lookup, then an
//     ImportRun: StartImport, Add, Finish) and write-back (Push,
//     PushMany), by at most Jobs requests in flight.
//
// Invariants:
//   - Lookups are by name (entries/KEY, blobs/ab/cdef…); nothing lists the
//     remote.
//   - A push uploads every blob the remote lacks before the entry (a batch:
//     every blob of every entry before any entry), and every
//     object is written whole or not at all (a file store writes a temporary
//     file and renames it), so no reader ever sees an entry whose blobs are
//     missing, whenever a pusher is killed; pushes are idempotent.
//   - Nothing fetched is trusted: an entry's manifest and record are
//     validated before any of its blobs is fetched (Lookup), and every blob
//     goes through a cache.Importer, which hashes its bytes as it writes
//     them, keeps it only if it has the manifest's size and digest, and
//     registers an entry only if all its blobs were kept, and only once
//     they are durable (one syncfs for a pull, an fsync each for a run's
//     read-through). A key computed from a Found entry's manifest (the
//     output digest a downstream key needs) is only a name to look up:
//     nothing is registered from it.
//     A bad entry or blob is a miss with a warning naming the key and
//     digest, never an error of the run and never a wrong output.
//   - With trust keys, an entry without a valid signature of one of them is
//     a miss with a warning.
//   - A remote that fails (unreachable, errors, timeouts) is given up for
//     the rest of the process after one warning, unless Required, in which
//     case the failure is returned.
//   - Every request has its own deadline (Timeout); lookups, downloads and
//     uploads together hold at most Jobs slots (a freed slot goes to an
//     entry lookup before a blob download); every goroutine a fetch,
//     push or ImportRun starts is joined before it (or Finish) returns.
package remote
