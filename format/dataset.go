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
