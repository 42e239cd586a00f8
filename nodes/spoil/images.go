package spoil

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"dagrun/format"
	"dagrun/nodes"
)

// ImageTypes are the defect types of the spoil-images kind, in the order
// their items are drawn.
var ImageTypes = []string{"wrong_label", "noise", "blank"}

// ImagesParams are the params of the spoil-images kind.
type ImagesParams struct {
	WrongLabel float64 `yaml:"wrong_label" json:"wrong_label" doc:"fraction of items whose label becomes a seeded other class"`
	Noise      float64 `yaml:"noise" json:"noise" doc:"fraction of items whose pixels get heavy Gaussian noise of std noise_sigma"`
	Blank      float64 `yaml:"blank" json:"blank" doc:"fraction of items that become one flat grey (their own mean pixel): the generator drew nothing"`
	NoiseSigma float64 `yaml:"noise_sigma" json:"noise_sigma" doc:"std of the noise defect on the 0-255 scale"`
	Seed       uint64  `yaml:"seed" json:"seed" doc:"seeds which items get which defect and every defect's own draws"`
	Source     string  `yaml:"source" json:"source" doc:"source tag of the output (empty: the input's, or spoiled)"`
	CleanOnly  bool    `yaml:"clean_only" json:"clean_only" doc:"write only the items these rates and seed leave clean (the oracle's pool: exactly the defective items dropped, decided without reading any truth.csv)"`
}

func (p ImagesParams) rates() []float64 { return []float64{p.WrongLabel, p.Noise, p.Blank} }

// Validate implements nodes.Validator.
func (p ImagesParams) Validate() error { return checkRates(ImageTypes, p.rates(), p.NoiseSigma) }

// ImagesKind returns the spoil-images kind.
func ImagesKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "spoil-images",
		Doc:     "a classification pool with a seeded fraction of items replaced by defects (wrong_label, noise, blank), and truth.csv saying which",
		Version: 1,
		Inputs: []nodes.Slot{{Name: "pool", Doc: "the pool or classification dataset dir to spoil",
			Accepts: []string{format.TypePool, format.TypeClassification}}},
		Produces: format.TypeClassification,
		Outputs:  []string{format.ImagesFile, format.LabelsFile, format.MetaFile, format.TruthFile},
	}, func() ImagesParams { return ImagesParams{NoiseSigma: 80} }, func(_ nodes.Build, p ImagesParams) (nodes.Node, error) {
		return &ImagesNode{Params: p}, nil
	})
}

// ImagesNode is a configured spoil-images node.
type ImagesNode struct{ Params ImagesParams }

// SpoilImages applies the defects to c in place and returns each item's
// truth.
func SpoilImages(c *format.Classification, p ImagesParams) ([]string, error) {
	rng := rand.New(rand.NewPCG(p.Seed, 0x696d61676573)) // "images"
	k := len(c.Meta.Classes)
	if p.WrongLabel > 0 && k < 2 {
		return nil, fmt.Errorf("wrong_label needs two classes or more, the pool has %d", k)
	}
	truth, err := assign(c.N, ImageTypes, p.rates(), nil, rng)
	if err != nil {
		return nil, err
	}
	for i, t := range truth {
		px := c.Image(i)
		switch t {
		case "":
			truth[i] = format.TruthClean
		case "wrong_label":
			// One of the k-1 other classes, uniformly.
			l := int64(rng.IntN(k - 1))
			if l >= c.Labels[i] {
				l++
			}
			c.Labels[i] = l
		case "noise":
			addNoise(px, p.NoiseSigma, rng)
		case "blank":
			sum := 0
			for _, v := range px {
				sum += int(v)
			}
			mean := uint8((sum + len(px)/2) / len(px))
			for j := range px {
				px[j] = mean
			}
		}
	}
	return truth, nil
}

// Run writes the spoiled pool and its truth.csv.
func (n *ImagesNode) Run(ctx context.Context, env *nodes.Env) error {
	dir := env.Input("pool")
	if dir == "" {
		return errors.New("spoil-images: no pool input")
	}
	p, err := format.LoadPool(dir)
	if err != nil {
		return fmt.Errorf("spoil-images: %w", err)
	}
	if p.Labels == nil {
		return fmt.Errorf("spoil-images: pool %q has no labels.npy", dir)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &format.Classification{N: p.N, H: p.H, W: p.W, Images: p.Images, Labels: p.Labels,
		Meta: format.ClassMeta{Classes: p.Meta.Classes}}
	truth, err := SpoilImages(c, n.Params)
	if err != nil {
		return fmt.Errorf("spoil-images: %w", err)
	}
	if n.Params.CleanOnly {
		c, truth = cleanImages(c, truth)
	}
	src := n.Params.Source
	if src == "" {
		src = p.Meta.Source
	}
	if src == "" {
		src = "spoiled"
	}
	if err := c.SaveWithSource(env.OutDir, src); err != nil {
		return fmt.Errorf("spoil-images: write pool: %w", err)
	}
	if err := writeTruth(env.OutDir, truth); err != nil {
		return fmt.Errorf("spoil-images: %w", err)
	}
	env.Report(1, 1)
	return nil
}

// Kinds returns the kinds of this package.
func Kinds() []*nodes.Kind { return []*nodes.Kind{Kind(), ImagesKind(), StatsKind()} }

// cleanImages keeps the items whose truth is clean, in order.
func cleanImages(c *format.Classification, truth []string) (*format.Classification, []string) {
	out := &format.Classification{H: c.H, W: c.W, Meta: c.Meta}
	for i, t := range truth {
		if t != format.TruthClean {
			continue
		}
		out.N++
		out.Images = append(out.Images, c.Image(i)...)
		out.Labels = append(out.Labels, c.Labels[i])
	}
	clean := make([]string, out.N)
	for i := range clean {
		clean[i] = format.TruthClean
	}
	return out, clean
}
