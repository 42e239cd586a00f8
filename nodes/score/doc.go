// Package score holds the score kind, BSGAL's offline setting
// (docs/architecture.md, The offline setting): given a model trained on
// real data, the real data and a pool of generated items, it computes the
// real-data gradient ∇L_R of that fixed model once (over every real
// image), scores every generated item — or every run of batch consecutive
// items of one pool dir — by the cosine (or dot product) of its loss
// gradient with ∇L_R, and keeps those at or above a threshold or the top
// fraction. The train kind's offline mode then trains on real data plus
// the kept items; offline and online read the same pool. Against a
// segmentation real set and an fcn, the pool is instances dirs and each
// item is scored alone in a scene of its own (instances.go: its category's
// mean real size, centred on the real scenes' mean ground, the loss on its
// pixels only); an item with an empty mask scores NaN.
//
// Invariants:
//   - The real gradient is the gradient of the mean loss over all real
//     images, formed from chunk gradients weighted by chunk size (the mean
//     loss of a union is the size-weighted mean of its parts'), summed in
//     float64 in a fixed order: the output is a pure function of the inputs
//     and params.
//   - Scored units never span two pool dirs; each item of a unit gets the
//     unit's score in scores.npy (one float64 per pool item, pool order).
//   - accepted.npy lists kept item indices in ascending order; selection
//     ties break by the lower index (bsgal.TopFraction, bsgal.AboveThreshold).
package score
