package train

import (
	"math/rand/v2"
	"slices"

	"dagrun/lib/learn"
)

// The real gradient of BSGAL's cache (select.real_grad). The reference
// code does not take it from the iteration's real batch: for each training
// image it takes one real training image that contains a category drawn
// uniformly from the categories pasted into that image (from the image's
// own labels when nothing was pasted), and uses the first 4 of those as
// the real batch of the gradient. So a pasted instance of a rare category
// is scored against real examples of its own category, not against
// whatever the batch held.

// Real-gradient modes (SelectParams.RealGrad).
const (
	RealGradMatched = "matched" // the reference's matched real images
	RealGradBatch   = "batch"   // the iteration's real batch
)

// matcher draws the matched real images from its own PCG stream.
type matcher struct {
	rng *rand.Rand
	ds  *learn.Dataset
	n   int
	cat map[string]int // category name → index in ds.Classes
}

func newMatcher(ds *learn.Dataset, n int, seed uint64) *matcher {
	cat := make(map[string]int, len(ds.Classes))
	for c, name := range ds.Classes {
		cat[name] = c
	}
	return &matcher{rng: rand.New(rand.NewPCG(seed, 0x7265616c67726164)), ds: ds, n: n, cat: cat} // "realgrad"
}

// units returns, per unit in order, the categories a matched image may
// show, ascending and distinct: for segmentation one unit per scene of the
// real batch, the categories pasted into it (prop.Images), or when none
// the categories of its labels (as augmented); for classification one unit
// per generated item, its category. Categories without a real training
// image are left out.
func (mt *matcher) units(real learn.Batch, prop Proposal) [][]int {
	has := func(c int) bool { return c >= 0 && c < len(mt.ds.ByClass) && len(mt.ds.ByClass[c]) > 0 }
	var out [][]int
	if !mt.ds.Segmentation {
		for _, name := range prop.Categories {
			var u []int
			if c, ok := mt.cat[name]; ok && has(c) {
				u = []int{c}
			}
			out = append(out, u)
		}
		return out
	}
	hw := mt.ds.H * mt.ds.W
	n := len(real.Y) / hw
	pasted := make([][]int, n)
	for k, i := range prop.Images {
		if c, ok := mt.cat[prop.Categories[k]]; ok && i >= 0 && i < n {
			pasted[i] = append(pasted[i], c)
		}
	}
	for i := range n {
		u := pasted[i]
		if len(u) == 0 {
			for _, v := range real.Y[i*hw : (i+1)*hw] {
				if v > 0 {
					u = append(u, v-1)
				}
			}
		}
		slices.Sort(u)
		u = slices.Compact(u)
		out = append(out, slices.DeleteFunc(u, func(c int) bool { return !has(c) }))
	}
	return out
}

// pick returns the dataset indices of the matched images: walking the
// units in order and skipping those without a category, one image per
// unit — a category uniformly among the unit's, then an image uniformly
// among the training images showing it (ds.ByClass) — until n are taken.
func (mt *matcher) pick(real learn.Batch, prop Proposal) []int {
	var idx []int
	for _, u := range mt.units(real, prop) {
		if len(idx) == mt.n {
			break
		}
		if len(u) == 0 {
			continue
		}
		c := u[mt.rng.IntN(len(u))]
		imgs := mt.ds.ByClass[c]
		idx = append(idx, imgs[mt.rng.IntN(len(imgs))])
	}
	return idx
}

// batch returns the matched real batch (the images as stored, not
// augmented, so each shows its drawn category whole), and ok true; or the
// real batch and false when no unit has a category to match.
func (mt *matcher) batch(real learn.Batch, prop Proposal) (learn.Batch, bool) {
	idx := mt.pick(real, prop)
	if len(idx) == 0 {
		return real, false
	}
	return mt.ds.Batch(idx), true
}
