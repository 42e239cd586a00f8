package data

import "dagrun/nodes"

// Output type tags of this package's kinds, matched against slot Accepts.
const (
	// TypeSplits is a directory with train/ and test/ classification
	// dataset dirs.
	TypeSplits = "splits"
	// TypeClassification is one classification dataset dir.
	TypeClassification = "classification"
	// TypeSegmentation is one segmentation dataset dir.
	TypeSegmentation = "segmentation"
	// TypeBenchmark is lt-seg's output: train/ and test/ segmentation dirs,
	// a reference/ classification dir and preview.png.
	TypeBenchmark = "segmentation-benchmark"
)

// Kinds lists the kinds of this package.
func Kinds() []*nodes.Kind {
	return []*nodes.Kind{DatasetKind(), SplitKind(), LongtailKind(), LTSegKind(), COCOKind()}
}
