// Package selection holds the select kind: X-Paste's best-mask selection
// and filter (the package cannot be called select, a Go keyword); and the
// rescore kind, the same classifier filter applied to instances dirs as
// they are (each item's own mask), written as per-item scores
// (format.TypeScores) for train's select modes filter and offline. Inputs:
// a pool, one masks dir per annotator (a Many slot) and, for the
// classifier scorer, a train node's classifier. Per item it builds
// each annotator's composite (image·mask on black), scores it against the
// item's category, keeps the best-scoring annotator (the first on ties),
// and drops the item when that score is below the threshold or the chosen
// mask covers less than min_area or more than max_area of the image (the
// score is checked first; each dropped item counts under one reason).
//
// Scorers:
//   - classifier (default): the softmax probability of the intended
//     category under a classifier trained on the reference corpus — the
//     embedded stand-in for CLIP. Default threshold 0.5: the category must
//     have at least even odds, which also makes it the most likely one.
//   - clip-onnx: ONNX image and text encoders; the cosine between the
//     composite's image embedding and the embedding of the prompt ("a photo
//     of a single {category}"), tokenized by this package's CLIP BPE
//     tokenizer. Default threshold 0.21 (X-Paste). Images are resized
//     bilinearly (CLIP uses bicubic) and normalised with CLIP's mean/std.
//
// Output (format.TypeInstances): the kept items only — images.npy, masks.npy,
// labels.npy, scores.npy (the chosen composite's score), meta.json
// {"task":"instances","classes","source","annotators","kept","dropped",
// "chosen_annotator_counts",...}, metrics.json (kept rate, drops by reason,
// chosen annotator counts) and kept_vs_dropped.png.
//
// Invariants: item order is the pool's; decisions depend only on the
// inputs, params and (clip-onnx) the model and vocabulary bytes, which
// enter the key by content; two masks inputs from the same annotator kind
// are told apart as "otsu", "otsu#2".
package selection
