package vae

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"dagrun/format"
	"dagrun/lib/chunkrng"
	"dagrun/lib/resample"
	"dagrun/nodes"
)

// chunkedNoise returns n standard normal vectors of dimension dim for
// category c, drawn chunk by chunk (prefix-stable).
func chunkedNoise(seed uint64, c, n, dim int) [][]float64 {
	out := make([][]float64, 0, n)
	for k := 0; len(out) < n; k++ {
		rng := chunkrng.Stream(seed, c, k)
		for range min(chunkrng.Size, n-len(out)) {
			z := make([]float64, dim)
			for i := range z {
				z[i] = rng.NormFloat64()
			}
			out = append(out, z)
		}
	}
	return out
}

// sampleAll decodes n items per category of classes (category-major) into
// a pool, item j of category c from z = Mean[c] + temperature·Chol[c]·ε_j.
func sampleAll(v *VAE, classes []int, n int, temperature float64, seed uint64) *format.Pool {
	cfg := v.Config()
	P := cfg.Pixels()
	pool := &format.Pool{H: cfg.Size, W: cfg.Size, Meta: format.PoolMeta{Classes: cfg.Names, PerClass: n}}
	px := make([]float64, P)
	for _, c := range classes {
		for _, eps := range chunkedNoise(seed, c, n, cfg.Latent) {
			v.Decode(px, v.prior.sample(c, eps, temperature), c)
			for _, p := range px {
				pool.Images = append(pool.Images, resample.ToByte(p*255))
			}
			pool.Labels = append(pool.Labels, int64(c))
		}
	}
	return pool
}

// SampleParams are the params of the vae-sample kind.
type SampleParams struct {
	NPerClass   int     `yaml:"n_per_class" json:"n_per_class" doc:"items generated per category"`
	Temperature float64 `yaml:"temperature" json:"temperature" doc:"scales the latent spread around the category mean; above 1 is more diverse"`
	Seed        uint64  `yaml:"seed" json:"seed" doc:"seeds the latent draws"`
	Source      string  `yaml:"source" json:"source" doc:"source tag in meta.json (default vae-t<temperature>)"`
	Classes     []int   `yaml:"classes" json:"classes,omitempty" doc:"category ids to generate (default all)"`
	Preview     int     `yaml:"preview" json:"preview" doc:"items per category in preview.png"`
}

// SampleKind draws a pool from a vae-train model.
func SampleKind() *nodes.Kind {
	return &nodes.Kind{
		Name:    "vae-sample",
		Doc:     "generate a pool from a vae-train model: n_per_class items per category, z = mean_c + T·chol_c·ε from the fitted per-category latent prior, prefix-stable in n_per_class",
		Version: 1,
		Inputs: []nodes.Slot{
			{Name: "model", Doc: "a vae-train node (or its model output)", Accepts: []string{format.TypeVAE}},
		},
		Produces: format.TypePool,
		Outputs:  []string{format.ImagesFile, format.LabelsFile, format.MetaFile, format.PreviewFile},
		Params:   func() any { return &SampleParams{NPerClass: 100, Temperature: 1, Preview: 8} },
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*SampleParams)
			var errs []error
			if p.NPerClass < 1 {
				errs = append(errs, fmt.Errorf("n_per_class must be at least 1, got %d", p.NPerClass))
			}
			if !(p.Temperature >= 0) {
				errs = append(errs, fmt.Errorf("temperature must be non-negative, got %v", p.Temperature))
			}
			if p.Preview < 1 {
				errs = append(errs, fmt.Errorf("preview must be at least 1, got %d", p.Preview))
			}
			seen := map[int]bool{}
			for _, c := range p.Classes {
				if c < 0 || seen[c] {
					errs = append(errs, fmt.Errorf("classes: %d is negative or repeated", c))
				}
				seen[c] = true
			}
			if p.Source == "" {
				p.Source = "vae-t" + strconv.FormatFloat(p.Temperature, 'f', -1, 64)
				if p.Temperature == float64(int64(p.Temperature)) {
					p.Source += ".0"
				}
			}
			return &sampleNode{p: p}, errors.Join(errs...)
		},
	}
}

type sampleNode struct{ p SampleParams }

// Run implements nodes.Node.
func (n *sampleNode) Run(ctx context.Context, env *nodes.Env) error {
	v, err := LoadVAE(format.ResolveVAE(env.Input("model")))
	if err != nil {
		return fmt.Errorf("read model: %w", err)
	}
	cfg := v.Config()
	classes := n.p.Classes
	if classes == nil {
		classes = allClasses(cfg.Classes)
	}
	for _, c := range classes {
		if c >= cfg.Classes {
			return fmt.Errorf("classes: category %d is outside the model's %d", c, cfg.Classes)
		}
	}
	pool := &format.Pool{H: cfg.Size, W: cfg.Size, Meta: format.PoolMeta{Classes: cfg.Names, PerClass: n.p.NPerClass, Source: n.p.Source}}
	for i, c := range classes {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := sampleAll(v, []int{c}, n.p.NPerClass, n.p.Temperature, n.p.Seed)
		pool.Images = append(pool.Images, part.Images...)
		pool.Labels = append(pool.Labels, part.Labels...)
		env.Report(i+1, len(classes))
	}
	return pool.Save(env.OutDir, n.p.Preview)
}
