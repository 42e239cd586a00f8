// Package evaluate holds the evaluate kind: it scores a model written by the
// train kind on a test dataset dir (format.TypeClassification or
// format.TypeSegmentation) and writes metrics.json (and, for segmentation,
// per_category.json).
//
// Classification reports accuracy overall and per long-tail group of the
// test set's meta (acc_rare, acc_common, acc_frequent). Segmentation turns
// the fcn's per-pixel probabilities into instances — the argmax class map
// split into 8-connected components, either per class (param instances:
// class, the default; each scored by the mean probability of its class over
// its pixels) or of all foreground pixels (instances: foreground; each
// labelled with and scored by the category of highest mean probability) —
// and reports COCO-style mask AP
// (metrics.MaskAP) against the ground-truth instances of instances.npy and
// semantic.npy: AP, AP50, AP75 and the LVIS groups APr, APc, APf.
//
// Invariants:
//   - No randomness: equal model and test bytes give byte-identical
//     outputs; JSON keys come in a fixed order.
//   - Category ids are the semantic labels: c+1 for category c, the ids of
//     the dataset's COCO annotations; 0 is background and never an instance.
//   - Averages over nothing are −1 (MaskAP's convention, kept for
//     accuracies of groups without test images), never NaN, and a group
//     metric is absent when the test set's meta names no groups.
//   - The model must fit the test set: same task, input size and number of
//     categories; a mismatch is an error, never a silent score.
package evaluate
