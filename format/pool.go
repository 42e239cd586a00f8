package format

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"dagrun/lib/artifact"
)

// TypePool is the output of every generator kind: a pool dir holding
// images.npy (uint8 [N,H,W], square for the generators here), labels.npy
// (int64 [N]: the category each item was generated for), meta.json
// ({"task":"pool","classes","source","per_class"}) and preview.png. Items
// are in category-major order.
//
// Readers of pools also take a classification dataset dir: it has the
// same files (its meta.json task is "classification" and its "source",
// when present, tags it like a generator's).
const TypePool = "pool"

// PreviewFile is the picture a pool (and lt-seg, and an annotator) writes
// for people; no kind reads it.
const PreviewFile = "preview.png"

// PoolMeta is a pool dir's meta.json. Read from a classification dataset
// dir it holds that dir's task, classes and source (PerClass 0).
type PoolMeta struct {
	Task    string   `json:"task"`
	Classes []string `json:"classes"`
	// Source tags the generator (e.g. "vae-t1.0", "noise-σ40").
	Source   string `json:"source"`
	PerClass int    `json:"per_class"`
}

// Pool is one pool (or classification dataset) dir held in memory.
type Pool struct {
	N, H, W int
	Images  []uint8 // N·H·W, row-major per image
	// Labels holds each item's category id; nil when the dir has no
	// labels.npy (an unlabelled image set that annotators still take).
	Labels []int64
	Meta   PoolMeta
}

// Image returns item i's pixels (a view).
func (p *Pool) Image(i int) []uint8 { return p.Images[i*p.H*p.W : (i+1)*p.H*p.W] }

// Save writes a generator's pool dir into dir (created if needed): the
// items are Images and Labels (N is set from len(Labels)), H×W each; the
// preview shows up to previewPerClass items of every category, one row
// each.
func (p *Pool) Save(dir string, previewPerClass int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	p.N = len(p.Labels)
	if len(p.Images) != p.N*p.H*p.W {
		return fmt.Errorf("save pool: %d pixels for %d images of %dx%d", len(p.Images), p.N, p.W, p.H)
	}
	p.Meta.Task = TypePool
	if err := artifact.SaveNPY(filepath.Join(dir, ImagesFile), artifact.U8Array(p.Images, p.N, p.H, p.W)); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	if err := artifact.SaveNPY(filepath.Join(dir, LabelsFile), artifact.I64Array(p.Labels, p.N)); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, MetaFile), p.Meta, indent1); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	if err := p.savePreview(filepath.Join(dir, PreviewFile), previewPerClass); err != nil {
		return fmt.Errorf("save pool: %w", err)
	}
	return nil
}

// savePreview draws up to perClass images of each category present, one
// row per category in category order (a blank tile marks a short row).
func (p *Pool) savePreview(path string, perClass int) error {
	perClass = max(1, perClass)
	rows := make([][]int, len(p.Meta.Classes))
	for i, l := range p.Labels {
		if l >= 0 && int(l) < len(rows) && len(rows[l]) < perClass {
			rows[l] = append(rows[l], i)
		}
	}
	var tiles []image.Image
	blank := image.NewGray(image.Rect(0, 0, p.W, p.H))
	for _, r := range rows {
		if len(r) == 0 {
			continue
		}
		for j := range perClass {
			if j >= len(r) {
				tiles = append(tiles, blank)
				continue
			}
			g := image.NewGray(image.Rect(0, 0, p.W, p.H))
			copy(g.Pix, p.Image(r[j]))
			tiles = append(tiles, g)
		}
	}
	if len(tiles) == 0 {
		tiles = append(tiles, blank)
	}
	return artifact.SaveGridPNG(path, tiles, perClass, 1, 2)
}

// LoadPool reads a pool dir or a classification dataset dir. Labels are
// optional (nil without labels.npy); when present each must name one of
// the classes.
func LoadPool(dir string) (*Pool, error) {
	wrap := func(err error) error { return fmt.Errorf("load pool %q: %w", dir, err) }
	img, err := artifact.LoadNPY(filepath.Join(dir, ImagesFile))
	if err != nil {
		return nil, wrap(err)
	}
	if img.DType != "|u1" || len(img.Shape) != 3 {
		return nil, wrap(fmt.Errorf("images.npy is %s %v, want uint8 [N,H,W]", img.DType, img.Shape))
	}
	p := &Pool{N: img.Shape[0], H: img.Shape[1], W: img.Shape[2], Images: img.U8}
	if err := readJSON(filepath.Join(dir, MetaFile), &p.Meta); err != nil {
		return nil, wrap(err)
	}
	lab, err := artifact.LoadNPY(filepath.Join(dir, LabelsFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, wrap(err)
	case lab.DType != "<i8" || len(lab.Shape) != 1 || lab.Shape[0] != p.N:
		return nil, wrap(fmt.Errorf("labels.npy is %s %v, want int64 [%d]", lab.DType, lab.Shape, p.N))
	default:
		for i, l := range lab.I64 {
			if l < 0 || int(l) >= len(p.Meta.Classes) {
				return nil, wrap(fmt.Errorf("label %d of item %d is outside the %d classes", l, i, len(p.Meta.Classes)))
			}
		}
		p.Labels = lab.I64
	}
	return p, nil
}

// Pools is the union, in input order, of the pool dirs bound to one Many
// slot (the pool input of train and score). Item i of the union is item
// i−Start[k] of dir k; these union indices are what scores.npy,
// accepted.npy and gallery.csv's item column refer to.
type Pools struct {
	H, W    int
	Classes []string
	Images  []uint8 // N·H·W
	Labels  []int
	// Sources lists the tag of each dir in input order: its meta.json
	// "source", or "pool<k>" for dir k without one. Source[i] is the
	// position in Sources of item i.
	Sources []string
	Source  []int
	// Start[k] is the index of the first item of dir k; Start has
	// len(Sources)+1 entries, the last being N.
	Start []int
}

// N is the number of items.
func (p *Pools) N() int { return len(p.Labels) }

// LoadPools reads pool dirs (or classification dataset dirs) as one
// union. They must share their image size and class list, every dir must
// have labels, and the union must hold at least one item.
func LoadPools(dirs []string) (*Pools, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("load pool: no pool dirs")
	}
	p := &Pools{Start: []int{0}}
	for k, dir := range dirs {
		d, err := LoadPool(dir)
		if err != nil {
			return nil, err
		}
		if d.Labels == nil {
			return nil, fmt.Errorf("load pool %q: no %s (every item needs its category)", dir, LabelsFile)
		}
		src := d.Meta.Source
		if src == "" {
			src = "pool" + strconv.Itoa(k)
		}
		if k == 0 {
			p.H, p.W, p.Classes = d.H, d.W, d.Meta.Classes
		} else if d.H != p.H || d.W != p.W || !slices.Equal(d.Meta.Classes, p.Classes) {
			return nil, fmt.Errorf("load pool: pool %q (%dx%d, classes %q) does not match the first pool (%dx%d, classes %q)",
				dir, d.H, d.W, d.Meta.Classes, p.H, p.W, p.Classes)
		}
		p.Sources = append(p.Sources, src)
		p.Images = append(p.Images, d.Images...)
		for _, l := range d.Labels {
			p.Labels = append(p.Labels, int(l))
			p.Source = append(p.Source, k)
		}
		p.Start = append(p.Start, len(p.Labels))
	}
	if p.N() == 0 {
		return nil, fmt.Errorf("load pool: the pools hold no items")
	}
	return p, nil
}
