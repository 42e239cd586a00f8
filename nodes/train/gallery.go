package train

import (
	"math"

	"dagrun/format"
)

// itemDrawer is implemented by the proposers whose Proposal.Items the
// gallery can draw.
type itemDrawer interface {
	// drawItem returns pool item i as a w×h grey image and its 0/1 mask.
	drawItem(i int) (w, h int, grey, mask []uint8)
}

func (p *poolProposer) drawItem(i int) (w, h int, grey, mask []uint8) {
	hw := p.pool.H * p.pool.W
	mask = make([]uint8, hw)
	for j := range mask {
		mask[j] = 1
	}
	return p.pool.W, p.pool.H, p.pool.Images[i*hw : (i+1)*hw], mask
}

// drawItem returns the instance crop as loaded, before any resize or flip
// of a paste: the generated item as the generator made it.
func (ps *paster) drawItem(i int) (w, h int, grey, mask []uint8) {
	it := ps.inst.Items[i]
	grey, mask = make([]uint8, len(it.Values)), make([]uint8, len(it.Mask))
	for j, v := range it.Values {
		grey[j] = uint8(math.Round(float64(v) * 255))
		if it.Mask[j] {
			mask[j] = 1
		}
	}
	return it.W, it.H, grey, mask
}

// galleryItem is one generated item met in training.
type galleryItem struct {
	it, item    int
	poolItem    int
	accepted    bool
	score, tau  float64
	source, cat string
	seq         int // position among the items of its decision
}

// thinned keeps an evenly spaced subset of a stream of unknown length in
// bounded memory and without randomness: item n is kept while n is a
// multiple of stride, and the stride doubles (dropping every other kept
// item) whenever more than limit are kept.
type thinned struct {
	limit, stride, n int
	items            []galleryItem
}

func (t *thinned) offer(g galleryItem) {
	if t.stride == 0 {
		t.stride = 1
	}
	if t.n%t.stride == 0 {
		g.seq = t.n
		t.items = append(t.items, g)
	}
	t.n++
	if len(t.items) > t.limit {
		t.stride *= 2
		kept := t.items[:0]
		for _, x := range t.items {
			if x.seq%t.stride == 0 {
				kept = append(kept, x)
			}
		}
		t.items = kept
	}
}

// pick returns k of the kept items at evenly spaced positions (all of them
// when there are at most k).
func (t *thinned) pick(k int) []galleryItem {
	n := len(t.items)
	if n <= k {
		return t.items
	}
	out := make([]galleryItem, k)
	for j := range out {
		out[j] = t.items[(2*j+1)*n/(2*k)]
	}
	return out
}

// gallery collects, for the gallery output, the generated items of every
// proposal whose proposer can name them, split by decision: at most
// format.GalleryK of each, spread evenly over the items met. It only reads what
// the loop already decided, so it cannot change training.
type gallery struct {
	drawer   itemDrawer
	acc, rej thinned
}

// newGallery returns nil when proposer cannot draw its items.
func newGallery(proposer Proposer) *gallery {
	d, ok := proposer.(itemDrawer)
	if !ok {
		return nil
	}
	return &gallery{drawer: d, acc: thinned{limit: 4 * format.GalleryK}, rej: thinned{limit: 4 * format.GalleryK}}
}

// add records the items of iteration it (1-based), if a generated part
// with named items was proposed.
func (g *gallery) add(it int, r stepResult) {
	if g == nil || !r.proposed || len(r.prop.Items) != len(r.prop.Sources) || len(r.prop.PoolItems) != len(r.prop.Items) {
		return
	}
	for k, i := range r.prop.Items {
		x := galleryItem{it: it, item: i, poolItem: r.prop.PoolItems[k], accepted: r.dec.Accepted, score: r.dec.Score, tau: r.dec.Tau,
			source: r.prop.Sources[k], cat: r.prop.Categories[k]}
		if x.accepted {
			g.acc.offer(x)
		} else {
			g.rej.offer(x)
		}
	}
}

// dropped records the pool items a preselection left out (iteration 0).
func (g *gallery) dropped(pre *preselection) {
	if g == nil || pre == nil {
		return
	}
	for _, x := range pre.dropped {
		g.rej.offer(x)
	}
}

// write writes dir/gallery/ (format.SaveGallery); it writes nothing when
// no item was met.
func (g *gallery) write(dir string) error {
	if g == nil {
		return nil
	}
	picked := append(append([]galleryItem(nil), g.acc.pick(format.GalleryK)...), g.rej.pick(format.GalleryK)...)
	if len(picked) == 0 {
		return nil
	}
	items := make([]format.GalleryItem, len(picked))
	for n, x := range picked {
		w, h, grey, mask := g.drawer.drawItem(x.item)
		items[n] = format.GalleryItem{Iteration: x.it, Accepted: x.accepted, Score: x.score, Threshold: x.tau,
			Source: x.source, Category: x.cat, Item: x.item, PoolItem: x.poolItem, W: w, H: h, Grey: grey, Mask: mask}
	}
	return format.SaveGallery(dir, items)
}
