package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"dagrun/nodes/data"
)

// Dataset is a training or validation set held in memory, in the one form
// the loop needs for both tasks.
type Dataset struct {
	Segmentation bool
	N, H, W      int
	Classes      []string
	Groups       map[string]string
	// SizeStats are a segmentation set's instance sizes per class name
	// (meta.json size_stats), which pasted instances follow.
	SizeStats map[string]data.SizeStat
	Images    []uint8 // N·H·W
	// Labels holds N image labels (classification) or N·H·W pixel labels,
	// 0 background and c+1 for category c (segmentation).
	Labels []int
	// byClass lists, per category, the images that show it (for balanced
	// sampling), ascending.
	byClass [][]int
}

// LoadDataset reads a classification or segmentation dataset dir, telling
// them apart by meta.json's "task".
func LoadDataset(dir string) (*Dataset, error) {
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("load dataset: %w", err)
	}
	var meta struct{ Task string }
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("load dataset: decode %q: %w", filepath.Join(dir, "meta.json"), err)
	}
	d := &Dataset{}
	switch meta.Task {
	case "classification":
		c, err := data.LoadClassification(dir)
		if err != nil {
			return nil, err
		}
		d.N, d.H, d.W, d.Images, d.Classes, d.Groups = c.N, c.H, c.W, c.Images, c.Meta.Classes, c.Meta.Groups
		d.Labels = make([]int, len(c.Labels))
		d.byClass = make([][]int, len(d.Classes))
		for i, l := range c.Labels {
			if l < 0 || int(l) >= len(d.Classes) {
				return nil, fmt.Errorf("load dataset %q: label %d of image %d is outside [0, %d)", dir, l, i, len(d.Classes))
			}
			d.Labels[i] = int(l)
			d.byClass[l] = append(d.byClass[l], i)
		}
	case "segmentation":
		s, err := data.LoadSegmentation(dir)
		if err != nil {
			return nil, err
		}
		d.Segmentation = true
		d.N, d.H, d.W, d.Images, d.Classes, d.Groups = s.N, s.H, s.W, s.Images, s.Meta.Classes, s.Meta.Groups
		d.SizeStats = s.Meta.SizeStats
		d.Labels = make([]int, len(s.Semantic))
		d.byClass = make([][]int, len(d.Classes))
		hw := d.H * d.W
		for i := 0; i < d.N; i++ {
			seen := make([]bool, len(d.Classes)+1)
			for j, v := range s.Semantic[i*hw : (i+1)*hw] {
				if int(v) > len(d.Classes) {
					return nil, fmt.Errorf("load dataset %q: semantic label %d in image %d is outside [0, %d]", dir, v, i, len(d.Classes))
				}
				d.Labels[i*hw+j] = int(v)
				seen[v] = true
			}
			for c := 1; c < len(seen); c++ {
				if seen[c] {
					d.byClass[c-1] = append(d.byClass[c-1], i)
				}
			}
		}
	default:
		return nil, fmt.Errorf("load dataset %q: meta.json task %q is neither %q nor %q", dir, meta.Task, "classification", "segmentation")
	}
	if d.N == 0 {
		return nil, fmt.Errorf("load dataset %q: no images", dir)
	}
	if len(d.Classes) == 0 {
		return nil, fmt.Errorf("load dataset %q: meta.json lists no classes", dir)
	}
	return d, nil
}

// labelsPer is the number of labels per image.
func (d *Dataset) labelsPer() int {
	if d.Segmentation {
		return d.H * d.W
	}
	return 1
}

// Batch gathers the images idx with pixels scaled to [0, 1].
func (d *Dataset) Batch(idx []int) Batch {
	hw, lp := d.H*d.W, d.labelsPer()
	b := Batch{X: make([]float32, len(idx)*hw), Y: make([]int, len(idx)*lp), Index: append([]int(nil), idx...)}
	for k, i := range idx {
		for j, v := range d.Images[i*hw : (i+1)*hw] {
			b.X[k*hw+j] = float32(v) / 255
		}
		copy(b.Y[k*lp:], d.Labels[i*lp:(i+1)*lp])
	}
	return b
}

// Sampler draws the image indices of each training batch.
type Sampler interface {
	Next(n int) []int
}

// uniformSampler walks seeded permutations of the dataset, epoch after
// epoch, so every image is seen once per epoch.
type uniformSampler struct {
	rng  *rand.Rand
	n    int
	perm []int
}

func (s *uniformSampler) Next(k int) []int {
	out := make([]int, 0, k)
	for len(out) < k {
		if len(s.perm) == 0 {
			s.perm = s.rng.Perm(s.n)
		}
		take := min(k-len(out), len(s.perm))
		out = append(out, s.perm[:take]...)
		s.perm = s.perm[take:]
	}
	return out
}

// balancedSampler draws a category uniformly among those with images, then
// one of its images uniformly: class-balanced sampling for long tails.
type balancedSampler struct {
	rng     *rand.Rand
	classes [][]int // non-empty lists only
}

func (s *balancedSampler) Next(k int) []int {
	out := make([]int, k)
	for i := range out {
		imgs := s.classes[s.rng.IntN(len(s.classes))]
		out[i] = imgs[s.rng.IntN(len(imgs))]
	}
	return out
}

// NewSampler returns the "uniform" or "balanced" sampler over d, seeded.
func NewSampler(d *Dataset, mode string, seed uint64) (Sampler, error) {
	rng := rand.New(rand.NewPCG(seed, 0x73616d706c65)) // "sample"
	switch mode {
	case "uniform":
		return &uniformSampler{rng: rng, n: d.N}, nil
	case "balanced":
		var cl [][]int
		for _, imgs := range d.byClass {
			if len(imgs) > 0 {
				cl = append(cl, imgs)
			}
		}
		if len(cl) == 0 {
			return nil, fmt.Errorf("balanced sampling: no category has an image")
		}
		return &balancedSampler{rng: rng, classes: cl}, nil
	}
	return nil, fmt.Errorf("unknown sampling %q (want %q or %q)", mode, "uniform", "balanced")
}
