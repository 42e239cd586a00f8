package format

// TypeBenchmark is the ltseg kind's output: train/, val/ and test/
// segmentation dataset dirs (val/ balanced like test/ but cut from the
// source datasets' train splits, from images neither the training scenes
// nor reference/ use), a reference/ classification dataset dir (the corpus a
// generator learns categories from; its sources.npy, int64 [N,2], names
// each image's source dataset, 0 mnist or 1 fashion, and index in that
// dataset's train split) and preview.png.
const TypeBenchmark = "segmentation-benchmark"

// The entries of a benchmark dir.
const (
	BenchmarkTrain     = "train"
	BenchmarkVal       = "val"
	BenchmarkTest      = "test"
	BenchmarkReference = "reference"
	// BenchmarkSources is reference/'s sources.npy.
	BenchmarkSources = "sources.npy"
	BenchmarkPreview = "preview.png"
)
