// Package nodes defines what a node kind is: a declarative value with a name,
// a one-line doc, a version, typed input slots, a params type, resource
// weights and a constructor.
//
// Layout. Everything under nodes/ is a kind: one package per kind, or per
// tight family of kinds, named after the kind or saying in its doc.go why
// not (nodes/selection holds select, a Go keyword; nodes/data the family of
// real-data sources). What kinds use lives elsewhere: libraries (networks,
// the BSGAL math, ONNX Runtime, image codecs, metrics) under lib/, and the
// directory formats kinds hand each other in the package format. A kind
// package imports only this package, format and lib/*, never another kind
// (go test ./internal/archtest enforces it); logic two kinds need moves to
// lib/, a file layout two kinds share to format.
//
// Adding a kind:
//  1. Put it in a new package nodes/<name> (or beside its family) with a
//     doc.go stating what it computes and its invariants.
//  2. Write func Kind() *nodes.Kind with Typed: a name used nowhere else
//     (lowercase words joined by hyphens), a one-line Doc, Version 1, its
//     Inputs with the type tags each slot Accepts, Produces and Outputs,
//     then the params struct's defaults and a constructor taking the typed
//     params. Give the params struct a Validate method (Validator) for
//     every check that needs no input and no Build; the engine calls it
//     and reports its errors, so the constructor only builds the Node.
//     Every params field has a `yaml:"name"` tag, a `json` tag with the
//     same name (or "-", see below) and a `doc:"…"` tag: one line saying
//     what the param does, its unit or range, what the default means and
//     which modes it applies to. `dagrun kinds` and README print it.
//  3. Output and input types are format constants. If the kind writes a new
//     directory format, add format/<name>.go with its type tag, meta struct,
//     file names and Load/Save, and extend format's tests so that the new
//     writer's output goes through every reader.
//  4. The Node's Run reads its inputs with format's readers, writes only
//     under Env.OutDir and seeds every random draw from params. A node that
//     reads files outside its inputs implements Fingerprinter so their
//     content enters its key.
//  5. List the kind in cmd/dagrun/registry.go and regenerate README's kinds
//     reference (go test ./cmd/dagrun -update). go test ./cmd/dagrun then
//     runs Registry.Check over the registry against the tags format
//     declares (every accepted type has a producer, every param a doc, …)
//     and checks the json:"-" rule below for every param.
//  6. Test it on inputs it builds with format (not with other kinds).
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
//   - The params part of the key is the canonical JSON of the decoded params
//     struct, defaults filled in: every field enters it under its json name,
//     except a field tagged `json:"-"`, which stays out of the key. Tag a
//     field so only when its value cannot change the output: a path whose
//     file's content enters the key through Fingerprint instead (moving
//     the file keeps the key, editing it does not), or a knob such as a
//     thread count that results do not depend on. Adding, renaming or
//     retagging a field changes the key of every node of the kind.
//   - Kinds are listed in one registry built by the caller (cmd/dagrun); there
//     is no init() registration.
package nodes
