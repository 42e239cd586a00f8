// Package file provides the `file` kind: a source node whose output is a
// file or folder from outside the cache, identified by content. (The
// package was called source; it is named after its one kind.)
//
// Invariants: the key holds the content digest of every file (and, for a
// single file, its base name, since the output keeps it), never the
// folder it lives in; digests are memoized by the engine, so a no-op rerun
// hashes nothing. Run hashes what it copies and refuses bytes (or a file
// list) other than those the key was computed from (nodes.Env.Fingerprint):
// a file edited between the lookup and the copy is never stored under the
// old key.
package file
