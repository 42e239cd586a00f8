package format

// TypeEvaluation is the evaluate kind's output: metrics.json (accuracy,
// or AP and its groups for segmentation) and, for segmentation,
// per_category.json and DetectionsFile. Reports read metrics.json by
// metric name; no kind reads them.
const TypeEvaluation = "evaluation"

// DetectionsFile is a segmentation evaluation's detections in the COCO
// results format (artifact.COCOResult, written by artifact.SaveCOCOResults):
// a JSON list of {image_id, category_id, segmentation: {size: [h, w],
// counts: compressed RLE}, score}, one per line, ordered by image_id, then
// descending score, ties in the order they were found. The ids are those of
// the test set's AnnotationsFile: image_id is the image's index + 1 and
// category_id its semantic label (category index + 1), so the official COCO
// and LVIS tools can score the file against AnnotationsFile.
const DetectionsFile = "detections.json"
