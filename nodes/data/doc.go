// Package data holds the node kinds that make datasets: real image sets read
// from idx files (MNIST, Fashion-MNIST) or COCO/LVIS files, seeded splits and
// long-tail subsamples, and the long-tailed mini segmentation benchmark
// ("lt-seg") that stands in for LVIS.
//
// Directory formats (the contract with every downstream kind):
//   - A classification dataset dir holds images.npy (uint8 [N,H,W]),
//     labels.npy (int64 [N], 0 ≤ label < len(classes)) and meta.json
//     ({"task":"classification","classes":[…]}, optionally "groups",
//     "counts", "source_indices").
//   - A segmentation dataset dir holds images.npy (uint8 [N,H,W]),
//     semantic.npy (uint8 [N,H,W], 0 background, c+1 for category c),
//     instances.npy (int32 [N,H,W], instance ids 1..k per image, 0 none),
//     annotations.json (COCO, category ids 1..C, LVIS "frequency" letters)
//     and meta.json ({"task":"segmentation","classes","groups","size_stats"}).
//
// Invariants:
//   - Nothing is downloaded: data comes from local files only, and the files
//     a node reads outside its inputs enter its key by content digest
//     (nodes.Fingerprinter).
//   - Every random choice draws from math/rand/v2 PCG streams seeded from
//     params; the same params and input bytes give bit-identical outputs.
//   - In lt-seg, the group of a category (rare: in 1..rare_max training
//     images, common: up to common_max, frequent: more) holds exactly when
//     counted over the written training images; instances of one scene
//     never overlap or touch (no two pixels of different instances are
//     8-neighbours), and each instance mask is one 8-connected component;
//     every category appears in the same number of test images; the
//     reference corpus shares no source image with the training scenes.
package data
