// Package metrics is the evaluation math of dagrun: classification accuracy
// (overall and per long-tail group), connected components that turn a
// per-pixel class map into instances, and COCO-style instance-mask AP averaged
// into AP, AP50, AP75 and the LVIS groups APr, APc, APf.
//
// Invariants:
//   - A mask is a sorted, duplicate-free list of row-major pixel indices
//     (y·width + x) within its image; IoU is computed only between instances
//     of the same image and category.
//   - MaskAP follows pycocotools' COCOeval for segm with one area range and
//     at most MaxDetsPerImage detections per image and category: IoU
//     thresholds 0.50:0.05:0.95, greedy matching in descending score order,
//     101-point interpolated precision, categories without ground truth left
//     out of every average. Score ties are broken by image, then input order,
//     as COCO's stable sorts do.
//   - Everything is deterministic: no randomness, no map-order dependence in
//     results.
package metrics
