// Package bsgal is the BSGAL selection rule of DESIGN.md section 4 as plain
// float math: gradient scores (dot product or cosine), the real-gradient
// cache (momentum or running average), thresholds (fixed, dynamic quantile,
// linear rate schedule), the per-iteration decision, the look-ahead rule and
// the offline selection helpers. It knows nothing of models or autodiff:
// gradients arrive as flat []float32 vectors.
//
// Invariants:
//   - Every reduction is accumulated in float64 in a fixed order, so the same
//     inputs give bit-identical scores and decisions on every run.
//   - A generated batch is accepted iff score >= tau, with tau read from the
//     threshold BEFORE the score is observed; a NaN score is never accepted
//     and never enters a dynamic window.
//   - Nothing here is random and nothing holds global state; every threshold
//     and cache is a value owned by its caller (not safe for concurrent use).
//   - Offline selections return indices in ascending order and break score
//     ties by the lower index, so they are reproducible.
package bsgal
