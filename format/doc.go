// Package format holds every directory format that node kinds hand each
// other: one file per format, each with its output type tag (the value of
// nodes.Kind.Produces and nodes.Slot.Accepts), its meta.json struct, its
// file names and CSV headers, and its Load/Save functions.
//
//	classification.go  a classification dataset dir (images, labels, meta)
//	segmentation.go    a segmentation dataset dir (+ semantic, instances, COCO)
//	dataset.go         what both dataset dirs share: the task, the groups,
//	                   mirror-safety
//	splits.go          the dataset kind's train/ and test/ pair
//	benchmark.go       lt-seg's train/, val/, test/, reference/ and preview.png
//	pool.go            a generator's pool (also read from classification dirs)
//	masks.go           an annotator's masks
//	instances.go       the select kind's kept items with their masks
//	scores.go          the score kind's scores.npy and accepted.npy
//	model.go           a train node's model/ (weights written by lib/nn)
//	vae.go             a vae-train node's model/ (weights written by nodes/vae)
//	decisions.go       train's decisions.csv
//	curves.go          train's loss.csv and val.csv
//	gallery.go         train's gallery/
//	evaluation.go      evaluate's output
//
// Model dirs. A model's weights are written and read by the code that
// defines the network (lib/nn for train's networks, nodes/vae for the
// VAE), since only that code knows the parameters; this package cannot
// import lib/nn (libraries and formats do not depend on each other beyond
// lib/artifact) and lib/nn must not import this package. So model.go and
// vae.go hold what a consumer needs to find a model — the type tag, the
// folder name under the producing node's output and the manifest name —
// and a test checks that the manifest names equal the ones the writers use.
//
// Invariants:
//   - Every type tag is declared here, exactly once; kinds refer to these
//     constants instead of spelling tags.
//   - Writers are deterministic: the same values give the same bytes. The
//     bytes of each writer are those its kind has always written (JSON
//     indentation included), since output digests enter downstream keys;
//     a change here is a change of every producing kind's output and needs
//     that kind's version bumped.
//   - Readers reject what they do not understand with an error that names
//     the dir or file and says what was expected; they never skip a
//     malformed file silently.
//   - This package imports only lib/artifact and the standard library.
package format
