// Package experiments holds end-to-end tests of the specs in experiments/:
// they load a spec, bind it to the node kinds, run it through the dag
// runner into a fresh cache and check what comes out.
//
// Invariants:
//   - The tests read real data from local files only ($DAGRUN_DATA or
//     third_party/data, filled by `make data`); without it they skip.
//   - Every run uses its own temporary cache, so nothing is shared between
//     runs except the input files.
package experiments
