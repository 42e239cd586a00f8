package format

import (
	"fmt"
	"os"
	"path/filepath"

	"dagrun/lib/artifact"
)

// TypeSegmentation is one segmentation dataset dir: images.npy (uint8
// [N,H,W]), semantic.npy (uint8 [N,H,W], 0 background, c+1 for category
// c), instances.npy (int32 [N,H,W], instance ids 1..k per image, 0 none),
// annotations.json (COCO: image i has id i+1, its annotations are its
// instances in instance id order, category c has id c+1; LVIS "frequency"
// letters) and meta.json
// ({"task":"segmentation","classes","groups","size_stats"}, optionally
// "thresholds", "instance_sources", "mirror_safe").
const TypeSegmentation = "segmentation"

// File names of a segmentation dataset dir beside ImagesFile and MetaFile.
const (
	SemanticFile    = "semantic.npy"
	InstancesFile   = "instances.npy"
	AnnotationsFile = "annotations.json"
)

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
	// MirrorSafe says per class whether its mirror image keeps its meaning
	// (see MirrorSafe); absent: no class is.
	MirrorSafe []bool `json:"mirror_safe,omitempty"`
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
	img, err := artifact.LoadNPY(filepath.Join(dir, ImagesFile))
	if err != nil {
		return nil, wrap(err)
	}
	sem, err := artifact.LoadNPY(filepath.Join(dir, SemanticFile))
	if err != nil {
		return nil, wrap(err)
	}
	ins, err := artifact.LoadNPY(filepath.Join(dir, InstancesFile))
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
	if err := readJSON(filepath.Join(dir, MetaFile), &s.Meta); err != nil {
		return nil, wrap(err)
	}
	if err := checkMirrorSafe(s.Meta.MirrorSafe, len(s.Meta.Classes)); err != nil {
		return nil, wrap(err)
	}
	if s.COCO, err = artifact.LoadCOCO(filepath.Join(dir, AnnotationsFile)); err != nil {
		return nil, wrap(err)
	}
	return s, nil
}

// Save writes s as a segmentation dataset dir (created if needed).
func (s *Segmentation) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Meta.Task = TypeSegmentation
	if err := artifact.SaveNPY(filepath.Join(dir, ImagesFile), artifact.U8Array(s.Images, s.N, s.H, s.W)); err != nil {
		return err
	}
	if err := artifact.SaveNPY(filepath.Join(dir, SemanticFile), artifact.U8Array(s.Semantic, s.N, s.H, s.W)); err != nil {
		return err
	}
	if err := artifact.SaveNPY(filepath.Join(dir, InstancesFile), artifact.I32Array(s.Instances, s.N, s.H, s.W)); err != nil {
		return err
	}
	if err := artifact.SaveCOCO(filepath.Join(dir, AnnotationsFile), s.COCO); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, MetaFile), s.Meta, indent1)
}
