// Package evaluate holds the evaluate kind: it scores a model written by the
// train kind on a test dataset dir (format.TypeClassification or
// format.TypeSegmentation) and writes metrics.json (and, for segmentation,
// per_category.json and detections.json).
//
// Classification reports accuracy overall and per long-tail group of the
// test set's meta (acc_rare, acc_common, acc_frequent). Segmentation turns
// the fcn's per-pixel probabilities into instances — the argmax class map
// split into 8-connected components, either per class (param instances:
// class, the default; each scored by the mean probability of its class over
// its pixels) or of all foreground pixels (instances: foreground; each
// labelled with and scored by the category of highest mean probability) —
// and reports COCO-style mask AP
// (metrics.Protocol.MaskAP) against the ground-truth instances of
// instances.npy and semantic.npy: AP, AP50, AP75 and the LVIS groups APr,
// APc, APf. Param protocol picks the detection limit: coco (the default;
// 100 per image and category, pycocotools') or lvis (300 per image over
// all categories, lvis-api's). The detection and scoring are
// metrics.SegmentationEval, which the train kind's validation also uses,
// so a validation AP is computed exactly as evaluate computes AP.
//
// detections.json (format.DetectionsFile) holds the scored instances in
// the COCO results format, so that the official COCO and LVIS tools can
// score them against the test set's annotations.json: image_id is the
// test image's index + 1 (for lt-seg, the scene index + 1; for a coco
// kind's set, its position in image id order + 1) and category_id the
// semantic label, category index + 1 — the ids annotations.json gives
// them, which evaluate checks. Scoring the two files (ScoreResults) gives
// the numbers of metrics.json exactly. For lvis-api, annotations.json would
// also need each image's neg_category_ids and not_exhaustive_category_ids,
// which the dataset kinds do not write.
//
// Invariants:
//   - No randomness: equal model and test bytes give byte-identical
//     outputs; JSON keys come in a fixed order.
//   - Category ids are the semantic labels: c+1 for category c, the ids of
//     the dataset's COCO annotations; 0 is background and never an instance.
//     Image ids in detections.json are image index + 1, also those of the
//     annotations; a test set whose annotations.json numbers otherwise is
//     refused.
//   - Ground truth is matched in annotations.json's order and detections
//     are written in the order they are scored, so equal IoUs and equal
//     scores are resolved as the official tools resolve them on the files.
//   - Averages over nothing are −1 (MaskAP's convention, kept for
//     accuracies of groups without test images), never NaN, and a group
//     metric is absent when the test set's meta names no groups.
//   - The model must fit the test set: same task, input size and number of
//     categories; a mismatch is an error, never a silent score.
package evaluate
