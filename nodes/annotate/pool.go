package annotate

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"dagrun/lib/artifact"
)

// Output type tags (see the shared pool formats).
const (
	// TypePool is a generator's output: images.npy, labels.npy, meta.json.
	TypePool = "pool"
	// TypeMasks is an annotator's output: masks.npy (0/1) aligned with the
	// pool's items, and meta.json.
	TypeMasks = "masks"
	// typeClassification is nodes/data's classification dataset dir, which
	// has the pool's layout and may be annotated too.
	typeClassification = "classification"
)

// Pool is a pool (or classification dataset) dir held in memory.
type Pool struct {
	N, H, W int
	Images  []uint8 // N·H·W, row-major per image
	// Labels holds each item's category id (nil when the dir has none).
	Labels  []int64
	Classes []string
	// Source is the generator's tag (meta.json "source"; "" for datasets).
	Source string
}

// Image returns image i's pixels (a view).
func (p *Pool) Image(i int) []uint8 { return p.Images[i*p.H*p.W : (i+1)*p.H*p.W] }

// poolMeta is the part of a pool's meta.json read here.
type poolMeta struct {
	Task    string   `json:"task"`
	Classes []string `json:"classes"`
	Source  string   `json:"source"`
}

// LoadPool reads a pool dir (or a classification dataset dir: same files).
func LoadPool(dir string) (*Pool, error) {
	img, err := artifact.LoadNPY(filepath.Join(dir, "images.npy"))
	if err != nil {
		return nil, fmt.Errorf("load pool %q: %w", dir, err)
	}
	if img.DType != "|u1" || len(img.Shape) != 3 {
		return nil, fmt.Errorf("load pool %q: images.npy is %s %v, want uint8 [N,H,W]", dir, img.DType, img.Shape)
	}
	p := &Pool{N: img.Shape[0], H: img.Shape[1], W: img.Shape[2], Images: img.U8}
	var meta poolMeta
	if err := readJSON(filepath.Join(dir, "meta.json"), &meta); err != nil {
		return nil, fmt.Errorf("load pool %q: %w", dir, err)
	}
	p.Classes, p.Source = meta.Classes, meta.Source
	lab, err := artifact.LoadNPY(filepath.Join(dir, "labels.npy"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("load pool %q: %w", dir, err)
	case lab.DType != "<i8" || len(lab.Shape) != 1 || lab.Shape[0] != p.N:
		return nil, fmt.Errorf("load pool %q: labels.npy is %s %v, want int64 [%d]", dir, lab.DType, lab.Shape, p.N)
	default:
		for i, l := range lab.I64 {
			if l < 0 || int(l) >= len(p.Classes) {
				return nil, fmt.Errorf("load pool %q: label %d of item %d is outside the %d classes", dir, l, i, len(p.Classes))
			}
		}
		p.Labels = lab.I64
	}
	return p, nil
}

// Masks is an annotator's output held in memory.
type Masks struct {
	N, H, W int
	Masks   []uint8 // N·H·W values 0 or 1
	Meta    MasksMeta
}

// Mask returns mask i (a view).
func (m *Masks) Mask(i int) []uint8 { return m.Masks[i*m.H*m.W : (i+1)*m.H*m.W] }

// MasksMeta is a masks dir's meta.json.
type MasksMeta struct {
	Task      string `json:"task"`
	Annotator string `json:"annotator"`
	// Params are the annotator's params as the key saw them.
	Params any `json:"params,omitempty"`
	// Foreground is the mean mask area fraction over all items.
	Foreground float64 `json:"foreground"`
}

// MasksMetrics is a masks dir's metrics.json (for reports).
type MasksMetrics struct {
	Items int `json:"items"`
	// Foreground is the mean mask area fraction.
	Foreground float64 `json:"foreground"`
	// Empty counts the items whose mask is empty.
	Empty int `json:"empty"`
}

// LoadMasks reads a masks dir.
func LoadMasks(dir string) (*Masks, error) {
	a, err := artifact.LoadNPY(filepath.Join(dir, "masks.npy"))
	if err != nil {
		return nil, fmt.Errorf("load masks %q: %w", dir, err)
	}
	if a.DType != "|u1" || len(a.Shape) != 3 {
		return nil, fmt.Errorf("load masks %q: masks.npy is %s %v, want uint8 [N,H,W]", dir, a.DType, a.Shape)
	}
	for i, v := range a.U8 {
		if v > 1 {
			return nil, fmt.Errorf("load masks %q: value %d at element %d, want 0 or 1", dir, v, i)
		}
	}
	m := &Masks{N: a.Shape[0], H: a.Shape[1], W: a.Shape[2], Masks: a.U8}
	if err := readJSON(filepath.Join(dir, "meta.json"), &m.Meta); err != nil {
		return nil, fmt.Errorf("load masks %q: %w", dir, err)
	}
	return m, nil
}

// Save writes m as a masks dir: masks.npy, meta.json, metrics.json and
// preview.png (the first items of pool with their masks drawn over them).
func (m *Masks) Save(dir string, pool *Pool) error {
	m.Meta.Task = TypeMasks
	var area float64
	for _, v := range m.Masks {
		area += float64(v)
	}
	if len(m.Masks) > 0 {
		m.Meta.Foreground = area / float64(len(m.Masks))
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "masks.npy"), artifact.U8Array(m.Masks, m.N, m.H, m.W)); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	b, err := json.MarshalIndent(m.Meta, "", "  ")
	if err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	met := MasksMetrics{Items: m.N, Foreground: m.Meta.Foreground}
	for i := 0; i < m.N; i++ {
		if !slices.Contains(m.Mask(i), 1) {
			met.Empty++
		}
	}
	if b, err = json.MarshalIndent(met, "", "  "); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	if m.N == 0 {
		return nil
	}
	tiles := make([]image.Image, 0, 32)
	for i := 0; i < min(m.N, 32); i++ {
		tiles = append(tiles, MaskOverlay(pool.Image(i), m.Mask(i), m.H, m.W, 2))
	}
	if err := artifact.SaveGridPNG(filepath.Join(dir, "preview.png"), tiles, 8, 2, 2); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	return nil
}

// MaskOverlay draws mask over a grey image in artifact.LabelColor(label).
func MaskOverlay(img, mask []uint8, h, w, label int) image.Image {
	cls := make([]int32, h*w)
	for i, v := range mask {
		if v != 0 {
			cls[i] = int32(label)
		}
	}
	return artifact.Overlay(img, h, w, cls, nil)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %q: %w", path, err)
	}
	return nil
}
