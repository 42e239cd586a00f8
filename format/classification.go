package format

import (
	"fmt"
	"os"
	"path/filepath"

	"dagrun/lib/artifact"
)

// TypeClassification is one classification dataset dir: images.npy
// (uint8 [N,H,W]), labels.npy (int64 [N], 0 ≤ label < len(classes)) and
// meta.json ({"task":"classification","classes":[…]}, optionally
// "groups", "counts", "source_indices"; a pool made from real images, such
// as noise's output, also "source").
const TypeClassification = "classification"

// File names of a classification dataset dir (a pool has the same).
const (
	ImagesFile = "images.npy"
	LabelsFile = "labels.npy"
)

// ClassMeta is a classification dataset dir's meta.json.
type ClassMeta struct {
	Task    string   `json:"task"`
	Classes []string `json:"classes"`
	// Groups maps a class name to rare, common or frequent (long-tailed sets).
	Groups map[string]string `json:"groups,omitempty"`
	// Counts maps a class name to its number of images (long-tailed sets).
	Counts map[string]int `json:"counts,omitempty"`
	// SourceIndices are the positions of the images in the dataset they were
	// drawn from (splits and subsamples).
	SourceIndices []int `json:"source_indices,omitempty"`
	// MirrorSafe says per class whether its mirror image keeps its meaning
	// (see MirrorSafe); absent: no class is.
	MirrorSafe []bool `json:"mirror_safe,omitempty"`
}

// Classification is a classification dataset held in memory.
type Classification struct {
	N, H, W int
	Images  []uint8 // N·H·W, row-major per image
	Labels  []int64
	Meta    ClassMeta
}

// Image returns image i's pixels (a view, not a copy).
func (c *Classification) Image(i int) []uint8 {
	s := c.H * c.W
	return c.Images[i*s : (i+1)*s]
}

// LoadClassification reads a classification dataset dir.
func LoadClassification(dir string) (*Classification, error) {
	img, err := artifact.LoadNPY(filepath.Join(dir, ImagesFile))
	if err != nil {
		return nil, fmt.Errorf("load classification dataset %q: %w", dir, err)
	}
	lab, err := artifact.LoadNPY(filepath.Join(dir, LabelsFile))
	if err != nil {
		return nil, fmt.Errorf("load classification dataset %q: %w", dir, err)
	}
	if img.DType != "|u1" || len(img.Shape) != 3 {
		return nil, fmt.Errorf("load classification dataset %q: images.npy is %s %v, want uint8 [N,H,W]", dir, img.DType, img.Shape)
	}
	if lab.DType != "<i8" || len(lab.Shape) != 1 || lab.Shape[0] != img.Shape[0] {
		return nil, fmt.Errorf("load classification dataset %q: labels.npy is %s %v, want int64 [%d]", dir, lab.DType, lab.Shape, img.Shape[0])
	}
	c := &Classification{N: img.Shape[0], H: img.Shape[1], W: img.Shape[2], Images: img.U8, Labels: lab.I64}
	if err := readJSON(filepath.Join(dir, MetaFile), &c.Meta); err != nil {
		return nil, fmt.Errorf("load classification dataset %q: %w", dir, err)
	}
	for i, l := range c.Labels {
		if l < 0 || int(l) >= len(c.Meta.Classes) {
			return nil, fmt.Errorf("load classification dataset %q: label %d of image %d is outside the %d classes", dir, l, i, len(c.Meta.Classes))
		}
	}
	if err := checkMirrorSafe(c.Meta.MirrorSafe, len(c.Meta.Classes)); err != nil {
		return nil, fmt.Errorf("load classification dataset %q: %w", dir, err)
	}
	return c, nil
}

// Save writes c as a classification dataset dir (created if needed).
func (c *Classification) Save(dir string) error {
	if err := c.saveArrays(dir); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, MetaFile), c.Meta, indent1)
}

// SaveWithSource writes c as a classification dataset dir whose meta.json
// also names the source tag that pool readers keep for every item: a pool
// made from real images (noise's output). Its meta.json is indented by two
// spaces where Save's has one — the bytes noise has always written.
func (c *Classification) SaveWithSource(dir, source string) error {
	if err := c.saveArrays(dir); err != nil {
		return err
	}
	meta := struct {
		ClassMeta
		Source string `json:"source,omitempty"`
	}{c.Meta, source}
	return writeJSON(filepath.Join(dir, MetaFile), meta, indent2)
}

// saveArrays creates dir, sets the task and writes the two arrays.
func (c *Classification) saveArrays(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.Meta.Task = TypeClassification
	if err := artifact.SaveNPY(filepath.Join(dir, ImagesFile), artifact.U8Array(c.Images, c.N, c.H, c.W)); err != nil {
		return err
	}
	return artifact.SaveNPY(filepath.Join(dir, LabelsFile), artifact.I64Array(c.Labels, c.N))
}
