package train

import (
	"fmt"

	"dagrun/format"
	"dagrun/lib/learn"
)

// loadDataset reads a classification or segmentation dataset dir, telling
// them apart by meta.json's "task"; for a segmentation set it also returns
// the instance size statistics (meta.json size_stats) pasted instances
// follow.
func loadDataset(dir string) (*learn.Dataset, map[string]format.SizeStat, error) {
	task, err := format.DatasetTask(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load dataset: %w", err)
	}
	var ds *learn.Dataset
	var sizes map[string]format.SizeStat
	switch task {
	case format.TypeClassification:
		c, err := format.LoadClassification(dir)
		if err != nil {
			return nil, nil, err
		}
		if ds, err = learn.Classification(c.Images, c.Labels, c.N, c.H, c.W, c.Meta.Classes, c.Meta.Groups); err != nil {
			return nil, nil, fmt.Errorf("load dataset %q: %w", dir, err)
		}
		ds.MirrorSafe = format.MirrorSafe(c.Meta.MirrorSafe, len(c.Meta.Classes))
	case format.TypeSegmentation:
		s, err := format.LoadSegmentation(dir)
		if err != nil {
			return nil, nil, err
		}
		if ds, err = learn.Segmentation(s.Images, s.Semantic, s.N, s.H, s.W, s.Meta.Classes, s.Meta.Groups); err != nil {
			return nil, nil, fmt.Errorf("load dataset %q: %w", dir, err)
		}
		ds.MirrorSafe = format.MirrorSafe(s.Meta.MirrorSafe, len(s.Meta.Classes))
		sizes = s.Meta.SizeStats
	default:
		return nil, nil, fmt.Errorf("load dataset %q: meta.json task %q is neither %q nor %q", dir, task, format.TypeClassification, format.TypeSegmentation)
	}
	return ds, sizes, nil
}
