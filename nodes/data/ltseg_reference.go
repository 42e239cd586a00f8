package data

import (
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/artifact"
)

// The lt-seg reference corpus: the source training images no scene used,
// the data a generator learns the categories from.

// ltsegReference is the reference corpus with the source of each image.
type ltsegReference struct {
	c       *format.Classification
	sources []int64 // [N,2]: dataset (0 mnist, 1 fashion), index in its train split
}

func (r *ltsegReference) save(dir string) error {
	if err := r.c.Save(dir); err != nil {
		return err
	}
	return artifact.SaveNPY(filepath.Join(dir, format.BenchmarkSources), artifact.I64Array(r.sources, r.c.N, 2))
}

// reference collects the training images no scene (training or val) used,
// interleaving the two datasets by index, at most ReferencePerClass per
// category.
func (n *ltsegNode) reference(srcs [2]*ltsegSource, used [2]map[int]bool, names []string, groups map[string]string, safe []bool) *ltsegReference {
	a, b := srcs[0].train, srcs[1].train
	per := a.H * a.W
	out := &format.Classification{H: a.H, W: a.W}
	var sources []int64
	taken := make([]int, ltsegCategories)
	counts := map[string]int{}
	for i := 0; i < max(a.N, b.N); i++ {
		for d, ds := range []*format.Classification{a, b} {
			if i >= ds.N || used[d][i] {
				continue
			}
			c := d*10 + int(ds.Labels[i])
			if n.p.ReferencePerClass > 0 && taken[c] >= n.p.ReferencePerClass {
				continue
			}
			taken[c]++
			counts[names[c]]++
			out.Images = append(out.Images, ds.Image(i)...)
			out.Labels = append(out.Labels, int64(c))
			sources = append(sources, int64(d), int64(i))
		}
	}
	out.N = len(out.Labels)
	if len(out.Images) != out.N*per {
		panic("ltseg: reference images out of step")
	}
	out.Meta = format.ClassMeta{Classes: names, Groups: groups, Counts: counts, MirrorSafe: safe}
	return &ltsegReference{c: out, sources: sources}
}
