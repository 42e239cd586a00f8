// Package spoil holds the kinds that make pools of known quality: spoil
// (an instances pool) and spoil-images (a classification pool) replace a
// seeded fraction of the items with defects of named types, the ones that
// generation plus automatic annotation produce, and record each item's
// truth (clean or its defect type) in truth.csv beside the pool.
//
// Invariants:
//   - Each defect type's count is round(rate·N) of the N items; which items
//     get which type is drawn from a PCG stream seeded by the seed param
//     (one permutation, types in the fixed order of the kind's params), so
//     equal params and input bytes give byte-identical outputs.
//   - Every item keeps its position: item i of the output is item i of the
//     input, spoiled or not, so truth.csv row i describes output item i, and
//     the train kind's pool item indices join it directly.
//   - A spoiled item keeps its label (the category it was generated for);
//     what it shows or how it is annotated is what changes.
//   - truth.csv is a sidecar for reports only: no selection mode, scorer,
//     filter or trainer reads it (format's truth access test enforces that
//     only format, this package and report refer to it).
package spoil
