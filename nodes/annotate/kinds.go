package annotate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"dagrun/format"
	"dagrun/nodes"
)

// Kinds returns the annotator kinds: threshold, otsu, kmeans and
// onnx-saliency.
func Kinds() []*nodes.Kind {
	return []*nodes.Kind{ThresholdKind(), OtsuKind(), KMeansKind(), SaliencyKind()}
}

// poolSlot is every annotator's one input.
var poolSlot = []nodes.Slot{{Name: "pool", Doc: "the images to annotate: a pool (or a classification dataset dir)", Accepts: []string{format.TypePool, format.TypeClassification}}}

var outputs = []string{format.MasksFile, format.MetaFile, "metrics.json", format.PreviewFile}

// ThresholdParams configure the threshold annotator.
type ThresholdParams struct {
	Level int `yaml:"level" json:"level" doc:"foreground is every pixel brighter than level (0..255)"`
}

// ThresholdKind returns the threshold kind.
func ThresholdKind() *nodes.Kind {
	return &nodes.Kind{
		Name:     "threshold",
		Doc:      "annotator: mask = pixels brighter than a fixed level (embedded, no weights)",
		Version:  1,
		Inputs:   poolSlot,
		Produces: format.TypeMasks,
		Outputs:  outputs,
		Params:   func() any { return &ThresholdParams{Level: 127} },
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*ThresholdParams)
			if p.Level < 0 || p.Level > 255 {
				return nil, fmt.Errorf("level %d is outside [0, 255]", p.Level)
			}
			return &perImage{name: "threshold", params: p, mask: func(img []uint8, _, _, _ int) []uint8 {
				return ThresholdMask(img, p.Level)
			}}, nil
		},
	}
}

// OtsuKind returns the otsu kind.
func OtsuKind() *nodes.Kind {
	return &nodes.Kind{
		Name:     "otsu",
		Doc:      "annotator: Otsu's threshold per image (embedded, no weights; a one-intensity image gets an empty mask)",
		Version:  1,
		Inputs:   poolSlot,
		Produces: format.TypeMasks,
		Outputs:  outputs,
		New: func(nodes.Build, any) (nodes.Node, error) {
			return &perImage{name: "otsu", mask: func(img []uint8, _, _, _ int) []uint8 { return OtsuMask(img) }}, nil
		},
	}
}

// KMeansParams configure the kmeans annotator.
type KMeansParams struct {
	Foreground string `yaml:"foreground" json:"foreground" doc:"which cluster is the object: brighter (default) or interior (the one touching less of the border)"`
	Seed       uint64 `yaml:"seed" json:"seed" doc:"seeds the k-means++ start (one stream per image)"`
}

// KMeansKind returns the kmeans kind.
func KMeansKind() *nodes.Kind {
	return &nodes.Kind{
		Name:     "kmeans",
		Doc:      "annotator: 2-means on intensity per image, seeded k-means++ start (embedded, no weights)",
		Version:  1,
		Inputs:   poolSlot,
		Produces: format.TypeMasks,
		Outputs:  outputs,
		Params:   func() any { return &KMeansParams{Foreground: Brighter} },
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*KMeansParams)
			if p.Foreground != Brighter && p.Foreground != Interior {
				return nil, fmt.Errorf("foreground %q: want %q or %q", p.Foreground, Brighter, Interior)
			}
			return &perImage{name: "kmeans", params: p, mask: func(img []uint8, h, w, i int) []uint8 {
				return KMeansMask(img, h, w, p.Foreground, rand.New(rand.NewPCG(p.Seed, uint64(i))))
			}}, nil
		},
	}
}

// perImage runs a mask function over every pool image.
type perImage struct {
	name   string
	params any
	// mask returns image i's mask; it must depend only on its arguments.
	mask func(img []uint8, h, w, i int) []uint8
}

// Run implements nodes.Node.
func (n *perImage) Run(ctx context.Context, env *nodes.Env) error {
	pool, err := loadInput(env)
	if err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	m := &format.Masks{N: pool.N, H: pool.H, W: pool.W, Masks: make([]uint8, len(pool.Images)),
		Meta: format.MasksMeta{Annotator: n.name, Params: n.params}}
	for i := 0; i < pool.N; i++ {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			env.Report(i, pool.N)
		}
		copy(m.Mask(i), n.mask(pool.Image(i), pool.H, pool.W, i))
	}
	env.Report(pool.N, pool.N)
	if err := m.Save(env.OutDir, pool); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return nil
}

func loadInput(env *nodes.Env) (*format.Pool, error) {
	dir := env.Input("pool")
	if dir == "" {
		return nil, errors.New("no pool input")
	}
	return format.LoadPool(dir)
}
