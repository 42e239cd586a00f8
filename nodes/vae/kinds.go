package vae

import "dagrun/nodes"

// Kinds lists the kinds of this package.
func Kinds() []*nodes.Kind {
	return []*nodes.Kind{TrainKind(), SampleKind()}
}
