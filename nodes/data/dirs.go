package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"dagrun/lib/artifact"
)

// Group names of the LVIS frequency groups.
const (
	Rare     = "rare"
	Common   = "common"
	Frequent = "frequent"
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
	img, err := artifact.LoadNPY(filepath.Join(dir, "images.npy"))
	if err != nil {
		return nil, fmt.Errorf("load classification dataset %q: %w", dir, err)
	}
	lab, err := artifact.LoadNPY(filepath.Join(dir, "labels.npy"))
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
	if err := readJSON(filepath.Join(dir, "meta.json"), &c.Meta); err != nil {
		return nil, fmt.Errorf("load classification dataset %q: %w", dir, err)
	}
	for i, l := range c.Labels {
		if l < 0 || int(l) >= len(c.Meta.Classes) {
			return nil, fmt.Errorf("load classification dataset %q: label %d of image %d is outside the %d classes", dir, l, i, len(c.Meta.Classes))
		}
	}
	return c, nil
}

// Save writes c as a classification dataset dir (created if needed).
func (c *Classification) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.Meta.Task = "classification"
	if err := artifact.SaveNPY(filepath.Join(dir, "images.npy"), artifact.U8Array(c.Images, c.N, c.H, c.W)); err != nil {
		return err
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "labels.npy"), artifact.I64Array(c.Labels, c.N)); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "meta.json"), c.Meta)
}

// subset returns the images at idx (in that order), with the same classes
// and the indices recorded as source indices.
func (c *Classification) subset(idx []int) *Classification {
	s := c.H * c.W
	out := &Classification{N: len(idx), H: c.H, W: c.W, Images: make([]uint8, len(idx)*s), Labels: make([]int64, len(idx))}
	for j, i := range idx {
		copy(out.Images[j*s:], c.Image(i))
		out.Labels[j] = c.Labels[i]
	}
	out.Meta = ClassMeta{Classes: c.Meta.Classes, SourceIndices: append([]int(nil), idx...)}
	return out
}

// byClass lists image indices per label, ascending.
func (c *Classification) byClass() [][]int {
	out := make([][]int, len(c.Meta.Classes))
	for i, l := range c.Labels {
		out[l] = append(out[l], i)
	}
	return out
}

// SizeStat summarizes the instances of one category: Area is the mask's
// pixel count, Side the longer side of its bounding box (what a paster
// resizes to); Std are population standard deviations.
type SizeStat struct {
	Count    int     `json:"count"`
	AreaMean float64 `json:"area_mean"`
	AreaStd  float64 `json:"area_std"`
	SideMean float64 `json:"side_mean"`
	SideStd  float64 `json:"side_std"`
}

// SegMeta is a segmentation dataset dir's meta.json.
type SegMeta struct {
	Task    string   `json:"task"`
	Classes []string `json:"classes"`
	// Groups maps a class name to rare, common or frequent.
	Groups map[string]string `json:"groups"`
	// Thresholds are the largest image counts of the rare and common
	// groups: {"rare_max":10,"common_max":100} for LVIS.
	Thresholds map[string]int `json:"thresholds,omitempty"`
	// SizeStats maps a class name to its instance sizes in this set.
	SizeStats map[string]SizeStat `json:"size_stats"`
	// InstanceSources names the source image of each annotation, in
	// annotation id order, as "dataset:index" (lt-seg only).
	InstanceSources []string `json:"instance_sources,omitempty"`
}

// Segmentation is a segmentation dataset held in memory.
type Segmentation struct {
	N, H, W   int
	Images    []uint8
	Semantic  []uint8
	Instances []int32
	Meta      SegMeta
	COCO      *artifact.COCO
}

// LoadSegmentation reads a segmentation dataset dir, annotations included.
func LoadSegmentation(dir string) (*Segmentation, error) {
	wrap := func(err error) error { return fmt.Errorf("load segmentation dataset %q: %w", dir, err) }
	img, err := artifact.LoadNPY(filepath.Join(dir, "images.npy"))
	if err != nil {
		return nil, wrap(err)
	}
	sem, err := artifact.LoadNPY(filepath.Join(dir, "semantic.npy"))
	if err != nil {
		return nil, wrap(err)
	}
	ins, err := artifact.LoadNPY(filepath.Join(dir, "instances.npy"))
	if err != nil {
		return nil, wrap(err)
	}
	if img.DType != "|u1" || len(img.Shape) != 3 {
		return nil, wrap(fmt.Errorf("images.npy is %s %v, want uint8 [N,H,W]", img.DType, img.Shape))
	}
	if sem.DType != "|u1" || fmt.Sprint(sem.Shape) != fmt.Sprint(img.Shape) {
		return nil, wrap(fmt.Errorf("semantic.npy is %s %v, want uint8 %v", sem.DType, sem.Shape, img.Shape))
	}
	if ins.DType != "<i4" || fmt.Sprint(ins.Shape) != fmt.Sprint(img.Shape) {
		return nil, wrap(fmt.Errorf("instances.npy is %s %v, want int32 %v", ins.DType, ins.Shape, img.Shape))
	}
	s := &Segmentation{N: img.Shape[0], H: img.Shape[1], W: img.Shape[2], Images: img.U8, Semantic: sem.U8, Instances: ins.I32}
	if err := readJSON(filepath.Join(dir, "meta.json"), &s.Meta); err != nil {
		return nil, wrap(err)
	}
	if s.COCO, err = artifact.LoadCOCO(filepath.Join(dir, "annotations.json")); err != nil {
		return nil, wrap(err)
	}
	return s, nil
}

// Save writes s as a segmentation dataset dir (created if needed).
func (s *Segmentation) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Meta.Task = "segmentation"
	if err := artifact.SaveNPY(filepath.Join(dir, "images.npy"), artifact.U8Array(s.Images, s.N, s.H, s.W)); err != nil {
		return err
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "semantic.npy"), artifact.U8Array(s.Semantic, s.N, s.H, s.W)); err != nil {
		return err
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "instances.npy"), artifact.I32Array(s.Instances, s.N, s.H, s.W)); err != nil {
		return err
	}
	if err := artifact.SaveCOCO(filepath.Join(dir, "annotations.json"), s.COCO); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "meta.json"), s.Meta)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %q: %w", path, err)
	}
	return nil
}

// groupOf classifies an image count with the rare and common maxima.
func groupOf(n, rareMax, commonMax int) string {
	switch {
	case n <= rareMax:
		return Rare
	case n <= commonMax:
		return Common
	}
	return Frequent
}

// freqLetter is LVIS's letter for a group.
func freqLetter(g string) string { return g[:1] }
