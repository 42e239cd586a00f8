package data

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"dagrun/format"
	"dagrun/nodes"
)

// LongtailParams are the params of the longtail kind.
type LongtailParams struct {
	// Max and Min: the classes in between follow an exponential profile
	// n_r = Max·(Min/Max)^(r/(C−1)) over a seeded ranking r of the classes.
	Max       int    `yaml:"max" json:"max" doc:"image count of the most frequent class; the counts fall geometrically from max to min over a seeded ranking of the classes (ignored with counts)"`
	Min       int    `yaml:"min" json:"min" doc:"image count of the least frequent class, 1 ≤ min ≤ max (ignored with counts)"`
	Counts    []int  `yaml:"counts" json:"counts,omitempty" doc:"each class's image count in class order, one per class, instead of the max/min profile (0 drops a class)"`
	RareMax   int    `yaml:"rare_max" json:"rare_max" doc:"classes with at most this many images are rare in meta.json's groups (LVIS: 10)"`
	CommonMax int    `yaml:"common_max" json:"common_max" doc:"classes with more than rare_max and at most this many images are common, the rest frequent (LVIS: 100)"`
	Seed      uint64 `yaml:"seed" json:"seed" doc:"seeds the ranking of the classes and which of each class's images are kept"`
}

// Validate implements nodes.Validator.
func (p LongtailParams) Validate() error {
	if p.RareMax < 1 || p.CommonMax <= p.RareMax {
		return fmt.Errorf("rare_max %d and common_max %d: want 1 ≤ rare_max < common_max", p.RareMax, p.CommonMax)
	}
	if len(p.Counts) == 0 && (p.Min < 1 || p.Max < p.Min) {
		return fmt.Errorf("min %d and max %d: want 1 ≤ min ≤ max", p.Min, p.Max)
	}
	for i, n := range p.Counts {
		if n < 0 {
			return fmt.Errorf("counts[%d] = %d is negative", i, n)
		}
	}
	return nil
}

// LongtailKind subsamples a classification dataset dir into a long-tailed
// one; meta.json gains "counts" and "groups" (rare, common, frequent by the
// thresholds).
func LongtailKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:     "longtail",
		Doc:      "seeded long-tailed subsample of a classification dataset (exponential profile or explicit counts)",
		Version:  2,
		Inputs:   []nodes.Slot{{Name: "dataset", Doc: "a classification dataset dir", Accepts: []string{format.TypeClassification}}},
		Produces: format.TypeClassification,
		Outputs:  []string{format.ImagesFile, format.LabelsFile, format.MetaFile},
	}, func() LongtailParams {
		return LongtailParams{Max: 500, Min: 5, RareMax: 10, CommonMax: 100}
	}, func(_ nodes.Build, p LongtailParams) (nodes.Node, error) {
		return &longtailNode{p: p}, nil
	})
}

type longtailNode struct{ p LongtailParams }

// expProfile returns k counts from hi down to lo, geometrically spaced and
// rounded (each stays within [lo, hi]).
func expProfile(k, hi, lo int) []int {
	out := make([]int, k)
	for r := range out {
		if k == 1 {
			out[r] = hi
			continue
		}
		out[r] = int(math.Round(float64(hi) * math.Pow(float64(lo)/float64(hi), float64(r)/float64(k-1))))
	}
	return out
}

func (l *longtailNode) Run(ctx context.Context, env *nodes.Env) error {
	in := env.Input("dataset")
	if in == "" {
		return errors.New("longtail: no input dataset")
	}
	c, err := format.LoadClassification(in)
	if err != nil {
		return fmt.Errorf("longtail: %w", err)
	}
	nc := len(c.Meta.Classes)
	rng := rand.New(rand.NewPCG(l.p.Seed, 0x107a11))
	counts := l.p.Counts
	if len(counts) == 0 {
		prof := expProfile(nc, l.p.Max, l.p.Min)
		counts = make([]int, nc)
		for r, cls := range rng.Perm(nc) {
			counts[cls] = prof[r]
		}
	} else if len(counts) != nc {
		return fmt.Errorf("longtail: %d counts for %d classes", len(counts), nc)
	}
	var idx []int
	meta := format.ClassMeta{Classes: c.Meta.Classes, Groups: map[string]string{}, Counts: map[string]int{}}
	for cls, pool := range byClass(c) {
		if counts[cls] > len(pool) {
			return fmt.Errorf("longtail: class %q needs %d images, the dataset has %d", c.Meta.Classes[cls], counts[cls], len(pool))
		}
		pool = slices.Clone(pool)
		rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		idx = append(idx, pool[:counts[cls]]...)
		name := c.Meta.Classes[cls]
		meta.Counts[name] = counts[cls]
		if counts[cls] > 0 {
			meta.Groups[name] = groupOf(counts[cls], l.p.RareMax, l.p.CommonMax)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.Sort(idx)
	out := subset(c, idx)
	meta.SourceIndices, meta.MirrorSafe = out.Meta.SourceIndices, out.Meta.MirrorSafe
	out.Meta = meta
	if err := out.Save(env.OutDir); err != nil {
		return fmt.Errorf("longtail: write: %w", err)
	}
	return nil
}
