package format

import (
	"fmt"
	"path/filepath"
)

// Frequency groups of long-tailed sets, the values of a dataset dir's
// meta.json "groups" (LVIS's rare, common and frequent categories).
const (
	Rare     = "rare"
	Common   = "common"
	Frequent = "frequent"
)

// MetaFile is the meta.json every dir format here has; its "task" names
// the format.
const MetaFile = "meta.json"

// DatasetTask reads the "task" of a dataset dir's meta.json:
// TypeClassification or TypeSegmentation for the dirs written here (any
// other value is returned as is, for the caller to refuse).
func DatasetTask(dir string) (string, error) {
	var meta struct {
		Task string `json:"task"`
	}
	if err := readJSON(filepath.Join(dir, MetaFile), &meta); err != nil {
		return "", fmt.Errorf("read dataset %q: %w", dir, err)
	}
	return meta.Task, nil
}

// Mirror-safety. A category is mirror-safe when its left-right mirror
// image is still an image of that category as it can appear at test time
// (a shoe, a shirt; not a digit: a mirrored 3 is no digit). The dataset
// metas (ClassMeta, SegMeta) list it per class in "mirror_safe", aligned
// with "classes"; the train kind flips a real image or a pasted instance
// only when the categories it shows are all mirror-safe. A meta without the
// list marks no category mirror-safe, so nothing is flipped.

// MirrorSafe returns, per class of a meta with n classes, whether it is
// mirror-safe: safe itself, or all false when safe is empty.
func MirrorSafe(safe []bool, n int) []bool {
	out := make([]bool, n)
	copy(out, safe)
	return out
}

// checkMirrorSafe refuses a mirror_safe list that does not give one value
// per class.
func checkMirrorSafe(safe []bool, classes int) error {
	if len(safe) != 0 && len(safe) != classes {
		return fmt.Errorf("meta.json mirror_safe has %d entries for %d classes", len(safe), classes)
	}
	return nil
}
