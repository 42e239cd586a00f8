// Package report turns what a spec's cached nodes produced into what
// people read: the report table (mean ± std over the `over` axes and the
// paired difference against a baseline row with a 95% Student-t interval)
// as aligned text tables for a terminal (one per source node, split to the
// width, columns empty in every row left out), Markdown, CSV and JSON; PNG
// plots (gonum/plot) of the report metrics, of the acceptance decisions
// (decisions.csv; joined with a spoiled pool's truth.csv where a node read
// one, truth.go) and of the learning curves (loss.csv, val.csv); and a
// static HTML page bringing them together with the spec, every node's key, status and
// timing, and every artifact.
//
// It is the only package that knows the report layout. It reads the cache
// and never runs a node.
//
// Invariants:
//   - Everything comes from the cache alone (dag.MakePlan, cache entries
//     and blobs): a node that is not cached is shown as such, and an output
//     file that is absent or unreadable is skipped. A malformed
//     decisions.csv, gallery, loss.csv or val.csv (the package format
//     reads them) is an error naming the node and the file, never a plot
//     that silently vanishes.
//   - Each observation is one instance of the report node; its metrics
//     are read from the instances spec resolved for it
//     (spec.ReportSource.Instances, the same cell of every node named in
//     `metrics:`). A metric whose node is not cached is not observed.
//   - Paired differences pair instances by the values of every non-row
//     axis (the same seeds); unpaired values are left out of the
//     difference, not of the row's mean.
//   - Text, Markdown and HTML print every number of one metric with the
//     same decimals (format.go states the rule); CSV and JSON print full
//     precision and every column.
//   - Output is deterministic for a given cache: spec order for rows and
//     nodes, sorted keys for series, no times in tables or plot names.
//   - The HTML page links only relative paths inside its folder: plots/,
//     artifacts/<node>/ (hard links to the blobs, copies across file
//     systems), table.{md,csv,json} and spec.yaml.
//   - WriteHTML writes only into a new or empty folder, or one an earlier
//     WriteHTML wrote (marked by .dagrun-report), whose plots/ and
//     artifacts/ it replaces.
package report
