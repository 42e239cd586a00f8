package format

import (
	"fmt"
	"image"
	"path/filepath"
	"slices"

	"dagrun/lib/artifact"
)

// TypeMasks is an annotator's output: masks.npy (uint8 [N,H,W] of 0/1,
// aligned with the annotated pool's items), meta.json
// ({"task":"masks","annotator":…,"params":…,"foreground":…}),
// metrics.json (MasksMetrics) and preview.png.
const TypeMasks = "masks"

// MasksFile is a masks dir's array (also the gallery's, see gallery.go).
const MasksFile = "masks.npy"

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
	a, err := artifact.LoadNPY(filepath.Join(dir, MasksFile))
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
	if err := readJSON(filepath.Join(dir, MetaFile), &m.Meta); err != nil {
		return nil, fmt.Errorf("load masks %q: %w", dir, err)
	}
	return m, nil
}

// Save writes m as a masks dir: masks.npy, meta.json (with the task and
// the foreground fraction set here), metrics.json and preview.png (the
// first items of pool with their masks drawn over them).
func (m *Masks) Save(dir string, pool *Pool) error {
	m.Meta.Task = TypeMasks
	var area float64
	for _, v := range m.Masks {
		area += float64(v)
	}
	if len(m.Masks) > 0 {
		m.Meta.Foreground = area / float64(len(m.Masks))
	}
	if err := artifact.SaveNPY(filepath.Join(dir, MasksFile), artifact.U8Array(m.Masks, m.N, m.H, m.W)); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, MetaFile), m.Meta, indent2); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	met := MasksMetrics{Items: m.N, Foreground: m.Meta.Foreground}
	for i := 0; i < m.N; i++ {
		if !slices.Contains(m.Mask(i), 1) {
			met.Empty++
		}
	}
	if err := writeJSON(filepath.Join(dir, "metrics.json"), met, indent2); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	if m.N == 0 {
		return nil
	}
	tiles := make([]image.Image, 0, 32)
	for i := 0; i < min(m.N, 32); i++ {
		tiles = append(tiles, artifact.MaskOverlay(pool.Image(i), m.Mask(i), m.H, m.W, 2))
	}
	if err := artifact.SaveGridPNG(filepath.Join(dir, PreviewFile), tiles, 8, 2, 2); err != nil {
		return fmt.Errorf("save masks: %w", err)
	}
	return nil
}
