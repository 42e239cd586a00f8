package format

import (
	"fmt"
	"path/filepath"
	"slices"

	"dagrun/lib/artifact"
)

// TypeInstances is the select kind's output, which a segmentation train
// node pastes into its real scenes: the kept items only, in pool order —
// images.npy (uint8 [K,H,W]), masks.npy (uint8 [K,H,W] of 0/1, the chosen
// annotator's mask), labels.npy (int64 [K]), scores.npy (float32 [K], the
// chosen composite's score), meta.json (InstancesMeta), and the select
// kind's own metrics.json and kept_vs_dropped.png.
const TypeInstances = "instances"

// InstancesScoresFile is an instances dir's per-item scores (float32; not
// the score kind's scores.npy, see scores.go).
const InstancesScoresFile = "scores.npy"

// InstancesMeta is an instances dir's meta.json.
type InstancesMeta struct {
	Task    string   `json:"task"`
	Classes []string `json:"classes"`
	// Source is the pool's source tag, kept for every pasted item.
	Source     string         `json:"source"`
	Annotators []string       `json:"annotators"`
	Scorer     string         `json:"scorer"`
	Threshold  float64        `json:"threshold"`
	Kept       int            `json:"kept"`
	Dropped    map[string]int `json:"dropped"`
	Chosen     map[string]int `json:"chosen_annotator_counts"`
}

// Instances is one instances dir held in memory.
type Instances struct {
	N, H, W int
	Images  []uint8 // N·H·W
	Masks   []uint8 // N·H·W, 0 or 1
	Labels  []int64
	Scores  []float32
	Meta    InstancesMeta
}

// Save writes the arrays and meta.json (task set here) into dir, which
// must exist.
func (in *Instances) Save(dir string) error {
	in.Meta.Task = TypeInstances
	files := []struct {
		name string
		a    *artifact.Array
	}{
		{ImagesFile, artifact.U8Array(in.Images, in.N, in.H, in.W)},
		{MasksFile, artifact.U8Array(in.Masks, in.N, in.H, in.W)},
		{LabelsFile, artifact.I64Array(in.Labels, in.N)},
		{InstancesScoresFile, artifact.F32Array(in.Scores, in.N)},
	}
	for _, f := range files {
		if err := artifact.SaveNPY(filepath.Join(dir, f.name), f.a); err != nil {
			return fmt.Errorf("write %q: %w", f.name, err)
		}
	}
	if err := writeJSON(filepath.Join(dir, MetaFile), in.Meta, indent2); err != nil {
		return fmt.Errorf("write %q: %w", MetaFile, err)
	}
	return nil
}

// LoadInstances reads an instances dir: its meta.json task must be
// "instances", every label one of its classes.
func LoadInstances(dir string) (*Instances, error) {
	wrap := func(err error) error { return fmt.Errorf("load instances %q: %w", dir, err) }
	in := &Instances{}
	if err := readJSON(filepath.Join(dir, MetaFile), &in.Meta); err != nil {
		return nil, wrap(err)
	}
	if in.Meta.Task != TypeInstances {
		return nil, wrap(fmt.Errorf("meta.json task %q, want %q", in.Meta.Task, TypeInstances))
	}
	arrays := map[string]*artifact.Array{}
	for _, name := range []string{ImagesFile, MasksFile, LabelsFile, InstancesScoresFile} {
		a, err := artifact.LoadNPY(filepath.Join(dir, name))
		if err != nil {
			return nil, wrap(err)
		}
		arrays[name] = a
	}
	img, msk, lab, sc := arrays[ImagesFile], arrays[MasksFile], arrays[LabelsFile], arrays[InstancesScoresFile]
	if img.DType != "|u1" || len(img.Shape) != 3 {
		return nil, wrap(fmt.Errorf("images.npy is %s %v, want uint8 [K,S,S]", img.DType, img.Shape))
	}
	if msk.DType != "|u1" || !slices.Equal(msk.Shape, img.Shape) {
		return nil, wrap(fmt.Errorf("masks.npy is %s %v, want uint8 %v", msk.DType, msk.Shape, img.Shape))
	}
	in.N, in.H, in.W = img.Shape[0], img.Shape[1], img.Shape[2]
	if lab.DType != "<i8" || len(lab.Shape) != 1 || lab.Shape[0] != in.N {
		return nil, wrap(fmt.Errorf("labels.npy is %s %v, want int64 [%d]", lab.DType, lab.Shape, in.N))
	}
	if sc.DType != "<f4" || len(sc.Shape) != 1 || sc.Shape[0] != in.N {
		return nil, wrap(fmt.Errorf("scores.npy is %s %v, want float32 [%d]", sc.DType, sc.Shape, in.N))
	}
	for _, l := range lab.I64 {
		if l < 0 || int(l) >= len(in.Meta.Classes) {
			return nil, wrap(fmt.Errorf("label %d is outside [0, %d)", l, len(in.Meta.Classes)))
		}
	}
	for i, v := range msk.U8 {
		if v > 1 {
			return nil, wrap(fmt.Errorf("masks.npy: value %d at element %d, want 0 or 1", v, i))
		}
	}
	in.Images, in.Masks, in.Labels, in.Scores = img.U8, msk.U8, lab.I64, sc.F32
	return in, nil
}
