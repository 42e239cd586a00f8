package data

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"

	"dagrun/format"
	"dagrun/nodes"
)

// maxParts bounds split's parts so that its outputs can be listed.
const maxParts = 10

// SplitParams are the params of the split kind.
type SplitParams struct {
	Parts []float64 `yaml:"parts" json:"parts" doc:"1 to 10 parts, written to part0/, part1/, …: fractions of the dataset (each in (0, 1], summing to at most 1; summing to 1, every image lands in a part, leftovers of rounding going to the largest remainders) or image counts (whole numbers summing to at most the dataset's size)"`
	Seed  uint64    `yaml:"seed" json:"seed" doc:"seeds the one random permutation the parts are cut from, in order"`
}

// Validate implements nodes.Validator.
func (p SplitParams) Validate() error {
	if len(p.Parts) == 0 || len(p.Parts) > maxParts {
		return fmt.Errorf("parts: %d parts, want 1 to %d", len(p.Parts), maxParts)
	}
	if _, err := partSizes(p.Parts, math.MaxInt32); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	return nil
}

// SplitKind splits a classification dataset dir into disjoint random parts
// part0/, part1/, …; each part's meta records its source indices.
func SplitKind() *nodes.Kind {
	outs := make([]string, maxParts)
	for i := range outs {
		outs[i] = "part" + strconv.Itoa(i)
	}
	return nodes.Typed(nodes.Kind{
		Name:    "split",
		Doc:     "seeded disjoint split of a classification dataset into parts (fractions or counts)",
		Version: 2,
		Inputs:  []nodes.Slot{{Name: "dataset", Doc: "a classification dataset dir", Accepts: []string{format.TypeClassification}}},
		Outputs: outs,
	}, func() SplitParams { return SplitParams{Parts: []float64{0.5, 0.5}} }, func(_ nodes.Build, p SplitParams) (nodes.Node, error) {
		return &splitNode{p: p}, nil
	})
}

type splitNode struct{ p SplitParams }

// partSizes turns parts into image counts for a dataset of n images.
func partSizes(parts []float64, n int) ([]int, error) {
	sum := 0.0
	frac := true
	for _, p := range parts {
		if !(p > 0) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("part %v is not positive", p)
		}
		sum += p
		if p > 1 {
			frac = false
		}
	}
	sizes := make([]int, len(parts))
	if frac && sum <= 1+1e-9 {
		type rem struct {
			i int
			r float64
		}
		var rems []rem
		total := 0
		for i, p := range parts {
			x := p * float64(n)
			sizes[i] = int(math.Floor(x))
			total += sizes[i]
			rems = append(rems, rem{i, x - math.Floor(x)})
		}
		if math.Abs(sum-1) <= 1e-9 {
			// Hand the rounding leftovers to the largest remainders.
			slices.SortStableFunc(rems, func(a, b rem) int {
				switch {
				case a.r > b.r:
					return -1
				case a.r < b.r:
					return 1
				}
				return 0
			})
			for k := 0; total < n; k++ {
				sizes[rems[k%len(rems)].i]++
				total++
			}
		}
		return sizes, nil
	}
	total := 0
	for i, p := range parts {
		if p != math.Trunc(p) {
			return nil, fmt.Errorf("parts %v mix fractions and counts (or fractions sum over 1)", parts)
		}
		sizes[i] = int(p)
		total += sizes[i]
	}
	if total > n {
		return nil, fmt.Errorf("parts ask for %d images, the dataset has %d", total, n)
	}
	return sizes, nil
}

func (s *splitNode) Run(ctx context.Context, env *nodes.Env) error {
	in := env.Input("dataset")
	if in == "" {
		return errors.New("split: no input dataset")
	}
	c, err := format.LoadClassification(in)
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	sizes, err := partSizes(s.p.Parts, c.N)
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	perm := rand.New(rand.NewPCG(s.p.Seed, 0x5b117)).Perm(c.N)
	at := 0
	for i, n := range sizes {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := slices.Clone(perm[at : at+n])
		at += n
		slices.Sort(idx)
		part := subset(c, idx)
		if err := part.Save(filepath.Join(env.OutDir, "part"+strconv.Itoa(i))); err != nil {
			return fmt.Errorf("split: write part%d: %w", i, err)
		}
		env.Report(i+1, len(sizes))
	}
	return nil
}
