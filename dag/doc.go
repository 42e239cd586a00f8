// Package dag joins a spec, the node kinds and the cache: it binds every spec
// node to its kind, validates the graph, computes cache keys, explains plans
// and runs nodes in parallel.
//
// One concept a file:
//   - bind.go: Bind, a spec node bound to its kind (lookup, params, node).
//   - graph.go: Build, the validated graph and its topological order.
//   - key.go: everything that enters a key, and the parts stored with an
//     entry and decoded back.
//   - run.go: the scheduler (Runner.Run, batched lookups, single flight).
//   - compute.go: running one node that missed the cache and committing it.
//   - env.go: a node's scratch folder, its inputs materialized.
//   - result.go: states, events, results and root-cause errors.
//   - plan.go, audit.go, executor.go: plans and explanations, audits,
//     executors.
//
// Invariants:
//   - A node's identity (its name) is not its cache key. The key is the
//     SHA-256 of a format tag, the kind name and version, the canonical JSON
//     of the decoded params, the content digests of the external files the
//     node reads, and per input slot (in order) the slot name and the content
//     digest of the upstream output. Names, paths, descriptions, -j, times and
//     map order never enter it.
//   - A node is bound to its kind only by Bind: the driver (Build) and a
//     cluster job (executor/slurm) decode and encode params the same way,
//     so they cannot disagree on the params that enter the key.
//   - Keys of downstream nodes are known only once their inputs' digests are:
//     an upstream rerun that yields identical bytes lets descendants hit the
//     cache (early cutoff).
//   - Only this package's Runner writes to the cache, and only after a node
//     has finished: no transaction spans a node's run, and a cancelled or
//     failed node registers nothing.
//   - The key parts stored with an entry decode back exactly (PartsOf); a
//     stored row that does not decode is an error, never an explanation
//     with parts left out.
//   - Every goroutine the Runner starts is joined before Run returns.
package dag
