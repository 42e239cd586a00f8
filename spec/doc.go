// Package spec turns a YAML spec file into an expanded, validated Spec.
//
// A spec names nodes (kind, inputs, params), vars, a matrix of axes, profiles and a
// report. Load reads the file and its includes, applies the profile and --set overrides,
// interpolates ${var} and ${axis} references, expands every node over the matrix axes it
// depends on (directly or through its upstream nodes) and resolves each input to one
// expanded node.
//
// Included files contribute nodes, vars, matrix axes and profiles; the including file's
// vars, axes and profiles override theirs, and a file reached twice is merged once. Only
// the root file's name, report and executor count. A profile may only set vars and axes
// that exist; --set values are parsed as YAML and interpolated like any var.
//
// Files: load.go holds Load and Parse; read.go reads files and walks includes;
// raw.go the types of a spec as written; fields.go, sections.go, section_nodes.go and
// report.go parse the sections; profile.go applies --profile and --set; interp.go and
// expand.go interpolate and expand; params.go decodes a node's params.
//
// Invariants:
//   - Every error is an *Error in an ErrorList, positioned "file:line:col" at the YAML
//     that causes it (only whole-file problems such as an unreadable or oversized root
//     file, an unknown profile or a bad --set carry a file alone), sorted and deduplicated.
//   - Load and Parse never panic, whatever the input: files over MaxFileSize are refused
//     before parsing, aliases are expanded under a node budget, interpolation and matrix
//     expansion are bounded.
//   - Expanded names are unambiguous: an axis value holding ",", "=", "[", "]", a
//     double quote, a backslash or a character that is not printable is Go-quoted in
//     the name (`train[gen="a,b"]`), others are written as they are. Uniqueness is
//     checked after expansion, not assumed (inputs are wired by name), and a clash is a
//     positioned error.
//   - On success, expanded node names are unique, every Input.Node names a node of the
//     Spec, every instance of Report.Node maps, in each ReportSource.Instances, to a node
//     of the Spec in the same cell, the dependency graph is acyclic, and Nodes lists
//     included files' nodes first, then the file's own, each in file order, cells in
//     matrix order.
//   - The package reads files only through Options.ReadFile (by default: a read that
//     refuses anything but a regular file before opening it blocking, so a FIFO spec or
//     include is an error, never a hang) and keeps no state between calls.
package spec
