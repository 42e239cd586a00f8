// Package learn holds what the kinds that fit or score networks on
// labelled images share (train, score): a dataset in the one in-memory
// form both tasks take (labels per image, or per pixel), the batches cut
// from it, the batch samplers, and batches of any labelled images (a
// generated pool's).
//
// It knows no files: kinds read dataset and pool dirs with the package
// format and hand the arrays to Classification, Segmentation or Gather.
//
// Invariants:
//   - Pixels are scaled to [0, 1] by x/255 in float32; segmentation labels
//     are 0 for background and c+1 for category c, as in semantic.npy.
//   - Samplers draw from PCG streams seeded by the caller's seed: the same
//     dataset and seed give the same batches.
package learn
