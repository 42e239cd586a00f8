// Package train holds the train kind: it fits an nn network (mlp or cnn
// for classification, fcn for segmentation) to a dataset dir written by
// nodes/data, and writes model/ (nn.Model.Save), loss.csv, metrics.json and,
// with a val input, val.csv.
//
// The loop draws a real batch, hands it to the optional Selector (the seam
// where BSGAL pastes generated instances and accepts or rejects them), takes
// the flat gradient of the returned batch and applies one optimizer step
// with a cosine learning rate after a linear warm-up.
//
// Invariants:
//   - Every random choice (weights, batch order) comes from PCG streams
//     seeded by the seed param: equal params and input bytes give
//     byte-identical outputs.
//   - Pixels are scaled to [0, 1]; segmentation labels are 0 for background
//     and c+1 for category c, as in semantic.npy.
//   - Cancellation is checked between iterations; a cancelled run writes no
//     metrics.json.
package train
