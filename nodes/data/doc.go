// Package data holds the family of kinds that make real datasets: dataset
// (MNIST, Fashion-MNIST and other idx files), coco (COCO/LVIS files), split
// (seeded disjoint parts), longtail (long-tail subsamples) and ltseg (the
// long-tailed mini segmentation benchmark that stands in for LVIS). They
// share one package because they share the real-data plumbing (idx
// reading, subsets, frequency groups, rasterizing instances); every one of
// them turns data from outside the cache, or a dataset dir, into dataset
// dirs.
//
// The dirs they write are format.Classification and format.Segmentation
// dirs (and format.TypeSplits, format.TypeBenchmark folders of them); the
// package format documents their files.
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
//     every category appears in the same number of test images, and of
//     val images; the training scenes, the val scenes and the reference
//     corpus share no source image.
//   - Mirror-safety (meta.json mirror_safe, format.MirrorSafe) is a fact
//     of the data: mnist's digits are not mirror-safe, fashion-mnist's
//     categories are; idx and coco sets take it as a param; split,
//     longtail and ltseg carry their inputs' through.
package data
