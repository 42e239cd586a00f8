package noise

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"dagrun/format"
	"dagrun/nodes"
)

// Params are the params of the noise kind.
type Params struct {
	// Sigma is the noise's standard deviation on the 0–255 scale.
	Sigma float64 `yaml:"sigma" json:"sigma"`
	Seed  uint64  `yaml:"seed" json:"seed"`
	// Source tags the pool (default "noise-σ<sigma>").
	Source string `yaml:"source" json:"source"`
}

// Kind returns the noise kind.
func Kind() *nodes.Kind {
	return &nodes.Kind{
		Name:     "noise",
		Doc:      "a pool of a real classification split with seeded Gaussian noise of std sigma (0-255 scale), clipped",
		Version:  1,
		Inputs:   []nodes.Slot{{Name: "dataset", Doc: "the real classification dataset dir to corrupt", Accepts: []string{format.TypeClassification}}},
		Produces: format.TypeClassification,
		Outputs:  []string{format.ImagesFile, format.LabelsFile, format.MetaFile},
		Params:   func() any { return &Params{Sigma: 40} },
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*Params)
			if !(p.Sigma >= 0) || math.IsInf(p.Sigma, 0) {
				return nil, fmt.Errorf("sigma %v must be a non-negative number", p.Sigma)
			}
			return &Node{Params: p}, nil
		},
	}
}

// Node is a configured noise node.
type Node struct{ Params Params }

// SourceTag is the default source of a pool made with std sigma.
func SourceTag(sigma float64) string {
	return "noise-σ" + strconv.FormatFloat(sigma, 'g', -1, 64)
}

// Apply adds seeded Gaussian noise of std sigma to every pixel, rounding
// to the nearest integer and clipping to [0, 255].
func Apply(pixels []uint8, sigma float64, seed uint64) []uint8 {
	rng := rand.New(rand.NewPCG(seed, 0x6e6f697365)) // "noise"
	out := make([]uint8, len(pixels))
	for i, v := range pixels {
		x := math.Round(float64(v) + sigma*rng.NormFloat64())
		out[i] = uint8(math.Max(0, math.Min(255, x)))
	}
	return out
}

// Run writes the noisy copy of the dataset input as a pool dir.
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	in := env.Input("dataset")
	if in == "" {
		return errors.New("noise: no dataset input")
	}
	c, err := format.LoadClassification(in)
	if err != nil {
		return fmt.Errorf("noise: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Images = Apply(c.Images, n.Params.Sigma, n.Params.Seed)
	src := n.Params.Source
	if src == "" {
		src = SourceTag(n.Params.Sigma)
	}
	if err := c.SaveWithSource(env.OutDir, src); err != nil {
		return fmt.Errorf("noise: write pool: %w", err)
	}
	env.Report(1, 1)
	return nil
}
