package generate

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"dagrun/lib/artifact"
)

// TypePool is the output type of every generator kind: a POOL dir holding
// images.npy (uint8 [N,S,S]), labels.npy (int64 [N]), meta.json and
// preview.png.
const TypePool = "pool"

// PoolMeta is a pool dir's meta.json.
type PoolMeta struct {
	Task     string   `json:"task"`
	Classes  []string `json:"classes"`
	Source   string   `json:"source"`
	PerClass int      `json:"per_class"`
}

// Pool is a generated pool held in memory: items in category-major order.
type Pool struct {
	Size   int
	Images []uint8 // N·Size·Size
	Labels []int64
	Meta   PoolMeta
}

// Len is the number of items.
func (p *Pool) Len() int { return len(p.Labels) }

// Save writes the pool dir files into dir (created if needed), the preview
// showing up to previewPerClass items of every category, one row each.
func (p *Pool) Save(dir string, previewPerClass int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	n, s := p.Len(), p.Size
	if len(p.Images) != n*s*s {
		return fmt.Errorf("save pool: %d pixels for %d images of %dx%d", len(p.Images), n, s, s)
	}
	p.Meta.Task = "pool"
	if err := artifact.SaveNPY(filepath.Join(dir, "images.npy"), artifact.U8Array(p.Images, n, s, s)); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "labels.npy"), artifact.I64Array(p.Labels, n)); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	b, err := json.MarshalIndent(p.Meta, "", " ")
	if err != nil {
		return fmt.Errorf("save pool: encode meta: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	if err := savePreview(filepath.Join(dir, "preview.png"), p.Images, p.Labels, s, len(p.Meta.Classes), previewPerClass); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	return nil
}

// savePreview draws up to perClass images of each category present, one
// row per category in category order (a blank tile marks a short row).
func savePreview(path string, images []uint8, labels []int64, s, classes, perClass int) error {
	perClass = max(1, perClass)
	rows := make([][]int, classes)
	for i, l := range labels {
		if l >= 0 && int(l) < classes && len(rows[l]) < perClass {
			rows[l] = append(rows[l], i)
		}
	}
	var tiles []image.Image
	blank := image.NewGray(image.Rect(0, 0, s, s))
	for _, r := range rows {
		if len(r) == 0 {
			continue
		}
		for j := range perClass {
			if j >= len(r) {
				tiles = append(tiles, blank)
				continue
			}
			g := image.NewGray(image.Rect(0, 0, s, s))
			copy(g.Pix, images[r[j]*s*s:(r[j]+1)*s*s])
			tiles = append(tiles, g)
		}
	}
	if len(tiles) == 0 {
		tiles = append(tiles, blank)
	}
	return artifact.SaveGridPNG(path, tiles, perClass, 1, 2)
}

// LoadPool reads a pool dir.
func LoadPool(dir string) (*Pool, error) {
	wrap := func(err error) error { return fmt.Errorf("load pool %q: %w", dir, err) }
	img, err := artifact.LoadNPY(filepath.Join(dir, "images.npy"))
	if err != nil {
		return nil, wrap(err)
	}
	lab, err := artifact.LoadNPY(filepath.Join(dir, "labels.npy"))
	if err != nil {
		return nil, wrap(err)
	}
	if img.DType != "|u1" || len(img.Shape) != 3 || img.Shape[1] != img.Shape[2] {
		return nil, wrap(fmt.Errorf("images.npy is %s %v, want uint8 [N,S,S]", img.DType, img.Shape))
	}
	if lab.DType != "<i8" || len(lab.Shape) != 1 || lab.Shape[0] != img.Shape[0] {
		return nil, wrap(fmt.Errorf("labels.npy is %s %v, want int64 [%d]", lab.DType, lab.Shape, img.Shape[0]))
	}
	p := &Pool{Size: img.Shape[1], Images: img.U8, Labels: lab.I64}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, wrap(err)
	}
	if err := json.Unmarshal(b, &p.Meta); err != nil {
		return nil, wrap(fmt.Errorf("decode meta.json: %w", err))
	}
	for i, l := range p.Labels {
		if l < 0 || int(l) >= len(p.Meta.Classes) {
			return nil, wrap(fmt.Errorf("label %d of item %d is outside the %d classes", l, i, len(p.Meta.Classes)))
		}
	}
	return p, nil
}
