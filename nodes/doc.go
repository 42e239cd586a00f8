// Package nodes defines what a node kind is: a declarative value with a name,
// a one-line doc, a version, typed input slots, a params type, resource
// weights and a constructor.
//
// Invariants:
//   - nodes knows nothing of scheduling, caching or SQLite; a node sees only
//     directories (its inputs and its output folder). Its inputs are private
//     read-only copies: it must not change, remove or replace them (the
//     engine fails a node that does, and stores nothing of it).
//   - A node's output is exactly the files it writes under Env.OutDir. Given the
//     same params, the same input bytes and the same external file contents,
//     a node must write bit-identical files; anything random is seeded from
//     params.
//   - Bump Kind.Version whenever a change to the code changes a node's output;
//     the version enters every cache key of that kind.
//   - Kinds are listed in one registry built by the caller (cmd/dagrun); there
//     is no init() registration.
package nodes
