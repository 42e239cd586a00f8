// Package dag joins a spec, the node kinds and the cache: it binds every spec
// node to its kind, validates the graph, computes cache keys, explains plans
// and runs nodes in parallel.
//
// Invariants:
//   - A node's identity (its name) is not its cache key. The key is the
//     SHA-256 of a format tag, the kind name and version, the canonical JSON
//     of the decoded params, the content digests of the external files the
//     node reads, and per input slot (in order) the slot name and the content
//     digest of the upstream output. Names, paths, descriptions, -j, times and
//     map order never enter it.
//   - Keys of downstream nodes are known only once their inputs' digests are:
//     an upstream rerun that yields identical bytes lets descendants hit the
//     cache (early cutoff).
//   - Only this package's Runner writes to the cache, and only after a node
//     has finished: no transaction spans a node's run, and a cancelled or
//     failed node registers nothing.
//   - Every goroutine the Runner starts is joined before Run returns.
package dag
