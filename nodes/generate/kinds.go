package generate

import "dagrun/nodes"

// Kinds lists the kinds of this package.
func Kinds() []*nodes.Kind {
	return []*nodes.Kind{ONNXKind(), ImportKind()}
}
