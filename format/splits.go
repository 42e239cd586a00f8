package format

// TypeSplits is the dataset kind's output: a directory holding a train/
// and a test/ classification dataset dir.
const TypeSplits = "splits"

// The two classification dataset dirs of a splits dir.
const (
	SplitsTrain = "train"
	SplitsTest  = "test"
)
