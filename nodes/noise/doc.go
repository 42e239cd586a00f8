// Package noise holds the noise kind, the generator of the toy experiment
// (table 1; docs/architecture.md, The toy): it turns a real classification
// split into a pool of "generated" images by adding Gaussian noise of
// standard deviation σ on the 0–255 pixel scale, so generated quality is a
// knob.
//
// Invariants:
//   - Noise is drawn from a PCG stream seeded by the seed param, one value
//     per pixel in image order: equal params and input bytes give
//     byte-identical outputs.
//   - Each pixel becomes round(x + σ·z) clipped to [0, 255]; labels, classes
//     and groups are kept, so the pool's items keep their categories.
//   - The output is a classification dataset dir whose meta.json also
//     carries "source" (default "noise-σ<σ>"), the tag train and score
//     keep for every item.
package noise
