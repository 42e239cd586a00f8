package format

// TypeEvaluation is the evaluate kind's output: metrics.json (accuracy,
// or AP and its groups for segmentation) and, for segmentation,
// per_category.json. Reports read them by metric name; no kind reads
// them.
const TypeEvaluation = "evaluation"
