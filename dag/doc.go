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
//   - env.go: a node's scratch folder, its inputs materialized and checked.
//   - result.go: states, events, results and root-cause errors.
//   - plan.go, audit.go, executor.go: plans and explanations, audits,
//     executors.
//
// Invariants:
//   - A node's identity (its name) is not its cache key. The key is the
//     SHA-256 of a format tag, the kind name and version, the canonical JSON
//     of the decoded params, the named values the node fingerprints (the
//     content digests of the external files it reads; for command, also its
//     pass_env values), and per input (in slot order) the slot name, index
//     and content digest of the upstream output; each field is
//     length-prefixed and each list preceded by its length (key.go). Names,
//     paths, descriptions, -j, times and map order never enter it.
//   - A node is bound to its kind only by Bind: the driver (Build) and a
//     cluster job (executor/slurm) decode and encode params the same way,
//     so they cannot disagree on the params that enter the key.
//   - Keys of downstream nodes are known only once their inputs' digests are:
//     an upstream rerun that yields identical bytes lets descendants hit the
//     cache (early cutoff).
//   - Only this package's Runner commits entries and records runs, and it
//     commits only after a node has finished: no transaction spans a node's
//     run, and a cancelled or failed node registers nothing. The cache's
//     other writes are upkeep by the cache itself, wherever it is used: a
//     lookup (here, in plans, in `dagrun log`) refreshes the stat of a blob
//     it re-hashed and evicts the entries of a bad blob, materializing an
//     input evicts likewise, digests of external files are memoized, leases
//     come and go, and `cache verify` and `cache gc` (cmd/dagrun) evict and
//     delete.
//   - A node computes only from the bytes its key names, and its entry is
//     committed only if what it read is still what was keyed: its inputs
//     are private copies hashed while copied (cache.MaterializeInputs); a
//     node that changed, removed or replaced one of them fails naming the
//     input; its external files are fingerprinted again after it ran (a
//     stat each, through the memo) and a file that changed since the key
//     was computed fails it. Entries are committed with InputsChecked.
//   - A node's console output goes to a file in its scratch folder (never
//     into memory) that becomes the entry's log blob; events carry only its
//     tail (50 lines, 64 KiB), on Done and on a cached replay.
//   - A run holds the cache's run lock (cache.BeginRun) from start to end,
//     so `cache gc` waits for it.
//   - A node failure caused by the cache (a *cache.Error that is not
//     cache.ErrBadOutput) marks the run's FailedError CacheIO; a failed
//     batch lookup is retried key by key, so a damaged entry fails only its
//     own node.
//   - The key parts stored with an entry decode back exactly (PartsOf); a
//     stored row that does not decode is an error, never an explanation
//     with parts left out.
//   - Every goroutine the Runner starts is joined before Run returns.
package dag
