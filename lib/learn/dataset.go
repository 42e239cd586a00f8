package learn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Batch is one batch of images with their labels. Pixels are scaled to
// [0, 1].
type Batch struct {
	X []float32 // N·H·W pixels
	// Y holds N labels (classification) or N·H·W pixel labels (segmentation).
	Y []int
	// W, if not nil, weights each label (see nn.Model.Forward).
	W []float32
	// Index lists the positions of the images in what they were gathered
	// from (for logs and galleries).
	Index []int
}

// Gather returns the batch of images idx of pixels (images of hw pixels
// back to back) with lp labels each from labels, pixels scaled to [0, 1].
func Gather(pixels []uint8, hw int, labels []int, lp int, idx []int) Batch {
	b := Batch{X: make([]float32, len(idx)*hw), Y: make([]int, len(idx)*lp), Index: slices.Clone(idx)}
	for k, i := range idx {
		for j, v := range pixels[i*hw : (i+1)*hw] {
			b.X[k*hw+j] = float32(v) / 255
		}
		copy(b.Y[k*lp:], labels[i*lp:(i+1)*lp])
	}
	return b
}

// Dataset is a training, validation or real set held in memory, in the one
// form the training loop needs for both tasks.
type Dataset struct {
	Segmentation bool
	N, H, W      int
	Classes      []string
	Groups       map[string]string
	Images       []uint8 // N·H·W
	// Labels holds N image labels (classification) or N·H·W pixel labels,
	// 0 background and c+1 for category c (segmentation).
	Labels []int
	// ByClass lists, per category, the images that show it (for balanced
	// sampling), ascending; the constructors fill it.
	ByClass [][]int
	// MirrorSafe says, per category, whether its left-right mirror image
	// keeps its meaning (the dataset meta's mirror_safe); nil: none does.
	// Augmentation and paste flip only mirror-safe categories.
	MirrorSafe []bool
}

// Safe reports whether category c is mirror-safe.
func (d *Dataset) Safe(c int) bool { return c >= 0 && c < len(d.MirrorSafe) && d.MirrorSafe[c] }

// Classification returns the dataset of the n h×w images with one label
// each (0 ≤ label < len(classes)).
func Classification(images []uint8, labels []int64, n, h, w int, classes []string, groups map[string]string) (*Dataset, error) {
	d := &Dataset{N: n, H: h, W: w, Images: images, Classes: classes, Groups: groups}
	if err := d.check(); err != nil {
		return nil, err
	}
	d.Labels = make([]int, len(labels))
	d.ByClass = make([][]int, len(classes))
	for i, l := range labels {
		if l < 0 || int(l) >= len(classes) {
			return nil, fmt.Errorf("label %d of image %d is outside [0, %d)", l, i, len(classes))
		}
		d.Labels[i] = int(l)
		d.ByClass[l] = append(d.ByClass[l], i)
	}
	return d, nil
}

// Segmentation returns the dataset of the n h×w scenes whose semantic map
// labels every pixel (0 background, c+1 for category c of classes).
func Segmentation(images, semantic []uint8, n, h, w int, classes []string, groups map[string]string) (*Dataset, error) {
	d := &Dataset{Segmentation: true, N: n, H: h, W: w, Images: images, Classes: classes, Groups: groups}
	if err := d.check(); err != nil {
		return nil, err
	}
	d.Labels = make([]int, len(semantic))
	d.ByClass = make([][]int, len(classes))
	hw := h * w
	for i := 0; i < n; i++ {
		seen := make([]bool, len(classes)+1)
		for j, v := range semantic[i*hw : (i+1)*hw] {
			if int(v) > len(classes) {
				return nil, fmt.Errorf("semantic label %d in image %d is outside [0, %d]", v, i, len(classes))
			}
			d.Labels[i*hw+j] = int(v)
			seen[v] = true
		}
		for c := 1; c < len(seen); c++ {
			if seen[c] {
				d.ByClass[c-1] = append(d.ByClass[c-1], i)
			}
		}
	}
	return d, nil
}

// check refuses an empty dataset or one without classes.
func (d *Dataset) check() error {
	if d.N == 0 {
		return errors.New("no images")
	}
	if len(d.Classes) == 0 {
		return errors.New("meta.json lists no classes")
	}
	return nil
}

// LabelsPer is the number of labels per image.
func (d *Dataset) LabelsPer() int {
	if d.Segmentation {
		return d.H * d.W
	}
	return 1
}

// Batch gathers the images idx with pixels scaled to [0, 1].
func (d *Dataset) Batch(idx []int) Batch {
	return Gather(d.Images, d.H*d.W, d.Labels, d.LabelsPer(), idx)
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

// UniformSampler returns the sampler that walks permutations of n images
// drawn from rng, epoch after epoch (NewSampler's "uniform" with a stream
// of the caller's choosing).
func UniformSampler(n int, rng *rand.Rand) Sampler {
	return &uniformSampler{rng: rng, n: n}
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
		for _, imgs := range d.ByClass {
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
