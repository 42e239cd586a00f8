package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"dagrun/format"
	"dagrun/lib/learn"
	"dagrun/nodes"
)

// PasteParams is the train kind's `paste:` block: how generated instances
// are pasted into real scenes when the train set is a segmentation set and
// the pool input holds INSTANCES dirs.
type PasteParams struct {
	// MaxPaste: X-Paste uses 19 on LVIS-size images; the default keeps it,
	// and small scenes should take fewer (a 32×32 lt-seg scene holds 1–2
	// instances of ~13 px: pasting 19 would bury it).
	MaxPaste int     `yaml:"max_paste" json:"max_paste" doc:"instance paste: the number of instances pasted into each scene is uniform in [0, max_paste] (X-Paste's 19 is for LVIS-size images; small scenes want a few)"`
	MinSide  int     `yaml:"min_side" json:"min_side" doc:"instance paste: smallest longer side, in pixels, a pasted instance is resized to (drawn sides below it are raised to it; at least 1)"`
	Flip     float64 `yaml:"flip" json:"flip" doc:"instance paste: probability in [0, 1] of flipping each pasted instance horizontally; only instances of mirror-safe categories (the train set's meta.json mirror_safe) are ever flipped"`
}

// DefaultPasteParams are X-Paste's settings: 0–19 instances per scene,
// flipped with probability 0.5.
func DefaultPasteParams() PasteParams {
	return PasteParams{MaxPaste: 19, MinSide: 3, Flip: 0.5}
}

// Validate checks the block's values.
func (p PasteParams) Validate() error {
	var errs []error
	if p.MaxPaste < 0 {
		errs = append(errs, fmt.Errorf("paste: max_paste %d must not be negative", p.MaxPaste))
	}
	if p.MinSide < 1 {
		errs = append(errs, fmt.Errorf("paste: min_side %d must be at least 1", p.MinSide))
	}
	if !(p.Flip >= 0 && p.Flip <= 1) {
		errs = append(errs, fmt.Errorf("paste: flip %v must be in [0, 1]", p.Flip))
	}
	return errors.Join(errs...)
}

// Instances is the union, in input order, of INSTANCES dirs: each item is
// one generated image with its 0/1 mask, cropped to the mask's bounding
// box, with the category it was generated for and its source.
type Instances struct {
	Classes []string
	// Sources lists the tag of each dir in input order; Source[i] is the
	// position in Sources of item i.
	Sources []string
	Items   []Patch
	Labels  []int
	Source  []int
	// Index[i] is item i's pool identity: its position over the input
	// dirs concatenated in input order, counting the items not loaded.
	// Nil (instances built in memory) means item i is pool item i.
	Index []int
	// Total is the number of pool items over the input dirs, counting
	// the items not loaded (LoadInstances; 0 for instances built in
	// memory, which then count len(Items)).
	Total int
}

// PoolItem returns item i's pool identity (see Index).
func (in *Instances) PoolItem(i int) int {
	if in.Index == nil {
		return i
	}
	return in.Index[i]
}

// Patch is a w×h grey patch (values in [0, 1]) with its mask.
type Patch struct {
	W, H   int
	Values []float32
	Mask   []bool
}

// LoadInstances reads instances dirs (format.TypeInstances, the select
// kind's output). They must share
// their class list. fraction keeps, per dir and per category, only the
// first ⌈fraction·n⌉ of its n items in file order, so that the kept sets
// of smaller fractions nest in those of larger ones. Items whose mask is
// empty are skipped.
func LoadInstances(dirs []string, fraction float64) (*Instances, error) {
	if len(dirs) == 0 {
		return nil, errors.New("load instances: no instances dirs")
	}
	out := &Instances{}
	offset := 0
	for k, dir := range dirs {
		in, err := format.LoadInstances(dir)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			out.Classes = in.Meta.Classes
		} else if !slices.Equal(in.Meta.Classes, out.Classes) {
			return nil, fmt.Errorf("load instances %q: classes %q differ from the first instances dir's %q", dir, in.Meta.Classes, out.Classes)
		}
		src := in.Meta.Source
		if src == "" {
			src = "pool" + strconv.Itoa(k)
		}
		out.Sources = append(out.Sources, src)
		perClass := make([]int, len(in.Meta.Classes))
		for _, l := range in.Labels {
			perClass[l]++
		}
		taken := make([]int, len(in.Meta.Classes))
		hw := in.H * in.W
		for i, l := range in.Labels {
			if taken[l] >= keepCount(perClass[l], fraction) {
				continue
			}
			taken[l]++
			p, ok := crop(in.Images[i*hw:(i+1)*hw], in.Masks[i*hw:(i+1)*hw], in.H, in.W)
			if !ok {
				continue
			}
			out.Items = append(out.Items, p)
			out.Labels = append(out.Labels, int(l))
			out.Source = append(out.Source, k)
			out.Index = append(out.Index, offset+i)
		}
		offset += in.N
	}
	out.Total = offset
	return out, nil
}

// keepCount is ⌈fraction·n⌉, capped at n; monotone in fraction, so the
// kept prefixes nest.
func keepCount(n int, fraction float64) int {
	return min(n, int(math.Ceil(fraction*float64(n)-1e-9)))
}

// crop cuts an h×w image to the bounding box of its mask (values 0/1);
// ok is false for an empty mask.
func crop(img, mask []uint8, h, w int) (Patch, bool) {
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask[y*w+x] != 0 {
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return Patch{}, false
	}
	p := Patch{W: x1 - x0 + 1, H: y1 - y0 + 1}
	p.Values = make([]float32, p.W*p.H)
	p.Mask = make([]bool, p.W*p.H)
	for y := 0; y < p.H; y++ {
		for x := 0; x < p.W; x++ {
			i := (y+y0)*w + x + x0
			p.Values[y*p.W+x] = float32(img[i]) / 255
			p.Mask[y*p.W+x] = mask[i] != 0
		}
	}
	return p, true
}

// Resize scales p so that its longer side is side pixels (the other side
// keeps the aspect, at least 1): values bilinearly, the mask by the source
// pixel under each output pixel's centre.
func (p Patch) Resize(side int) Patch {
	ow, oh := resizedDims(p, side)
	out := Patch{W: ow, H: oh, Values: make([]float32, ow*oh), Mask: make([]bool, ow*oh)}
	sx, sy := float64(p.W)/float64(ow), float64(p.H)/float64(oh)
	for y := 0; y < oh; y++ {
		fy := (float64(y)+0.5)*sy - 0.5
		ny := min(p.H-1, int((float64(y)+0.5)*sy))
		for x := 0; x < ow; x++ {
			fx := (float64(x)+0.5)*sx - 0.5
			nx := min(p.W-1, int((float64(x)+0.5)*sx))
			out.Values[y*ow+x] = float32(bilinearF(p.Values, p.H, p.W, fx, fy))
			out.Mask[y*ow+x] = p.Mask[ny*p.W+nx]
		}
	}
	return out
}

// Flip returns p mirrored left to right.
func (p Patch) Flip() Patch {
	out := Patch{W: p.W, H: p.H, Values: make([]float32, len(p.Values)), Mask: make([]bool, len(p.Mask))}
	for y := 0; y < p.H; y++ {
		for x := 0; x < p.W; x++ {
			out.Values[y*p.W+x] = p.Values[y*p.W+p.W-1-x]
			out.Mask[y*p.W+x] = p.Mask[y*p.W+p.W-1-x]
		}
	}
	return out
}

// bilinearF samples a row-major h×w image at (x, y) in pixel-centre
// coordinates, clamping at the border. Products are rounded explicitly so
// no platform fuses them and outputs stay bit-identical.
func bilinearF(src []float32, h, w int, x, y float64) float64 {
	x = math.Max(0, math.Min(x, float64(w-1)))
	y = math.Max(0, math.Min(y, float64(h-1)))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	a := float64(float64(src[y0*w+x0])*(1-fx)) + float64(float64(src[y0*w+x1])*fx)
	b := float64(float64(src[y1*w+x0])*(1-fx)) + float64(float64(src[y1*w+x1])*fx)
	return float64(a*(1-fy)) + float64(b*fy)
}

// Scene is one H×W scene being pasted into, edited in place: pixels in
// [0, 1], semantic labels (0 background, c+1 for category c) and, when not
// nil, instance ids (0 none). Pasted marks the pixels a paste covered.
type Scene struct {
	H, W     int
	X        []float32
	Sem      []int
	Inst     []int32
	Pasted   []bool
	nextInst int32
}

// Placement is one instance pasted into a scene: the pool item, its
// category, the longer side it was resized to, whether it was flipped and
// the top-left corner of its box in the scene.
type Placement struct {
	Item, Category, Side int
	Flip                 bool
	X, Y                 int
}

// Paste draws the patch p (already resized and flipped) of category cat
// with its box's top-left corner at (x, y): pixels under its mask take
// its values, label cat+1 and, with instance maps, a new instance id, so
// whatever was there — a real instance or an earlier paste — loses those
// pixels (occlusion). Mask pixels outside the scene are clipped.
func (s *Scene) Paste(p Patch, cat, x, y int) {
	if s.Inst != nil && s.nextInst == 0 {
		for _, v := range s.Inst {
			s.nextInst = max(s.nextInst, v)
		}
	}
	s.nextInst++
	for py := 0; py < p.H; py++ {
		for px := 0; px < p.W; px++ {
			sy, sx := y+py, x+px
			if !p.Mask[py*p.W+px] || sy < 0 || sy >= s.H || sx < 0 || sx >= s.W {
				continue
			}
			i := sy*s.W + sx
			s.X[i] = p.Values[py*p.W+px]
			s.Sem[i] = cat + 1
			if s.Inst != nil {
				s.Inst[i] = s.nextInst
			}
			s.Pasted[i] = true
		}
	}
}

// paster is the segmentation Proposer: per iteration it pastes generated
// instances into each real scene of the batch (see PasteParams and the
// package doc) and proposes Gen = the pasted scenes weighted 1 on pasted
// pixels only, Train = the pasted scenes with every pixel.
type paster struct {
	p        PasteParams
	inst     *Instances
	h, w     int
	draw     string
	rng      *rand.Rand
	safe     func(c int) bool  // mirror-safety of the train set's categories
	side     []format.SizeStat // per category of the train set
	fallback format.SizeStat   // for a category without real instances
	// byCat[g][c] lists the items of category c in draw group g (one
	// group per source for DrawPool, one for DrawMixed); cats[g] the
	// categories with items in group g.
	byCat [][][]int
	cats  [][]int
}

// newPaster prepares a paster over inst for scenes of ds, whose instances
// per category name have the sizes (meta.json size_stats); it returns nil
// when the instances hold no items.
//
// keep (nil: every item) restricts the items drawn to those it marks.
func newPaster(p PasteParams, inst *Instances, keep []bool, ds *learn.Dataset, sizes map[string]format.SizeStat, draw string, seed uint64) (*paster, error) {
	if !slices.Equal(inst.Classes, ds.Classes) {
		return nil, fmt.Errorf("instances classes %q do not match the train set's %q", inst.Classes, ds.Classes)
	}
	if len(inst.Items) == 0 {
		return nil, nil
	}
	ps := &paster{p: p, inst: inst, h: ds.H, w: ds.W, draw: draw, rng: rand.New(rand.NewPCG(seed, 0x7061737465)), safe: ds.Safe} // "paste"
	ps.side = make([]format.SizeStat, len(ds.Classes))
	var sum, sum2, n float64
	for c, name := range ds.Classes {
		st := sizes[name]
		ps.side[c] = st
		if st.Count > 0 {
			n += float64(st.Count)
			sum += float64(st.Count) * st.SideMean
			sum2 += float64(st.Count) * (st.SideStd*st.SideStd + st.SideMean*st.SideMean)
		}
	}
	if n > 0 {
		m := sum / n
		ps.fallback = format.SizeStat{Count: int(n), SideMean: m, SideStd: math.Sqrt(math.Max(0, sum2/n-m*m))}
	} else {
		ps.fallback = format.SizeStat{SideMean: 0.4 * float64(min(ds.H, ds.W)), SideStd: 0}
	}
	groups := 1
	if draw == DrawPool {
		groups = len(inst.Sources)
	}
	ps.byCat = make([][][]int, groups)
	for g := range ps.byCat {
		ps.byCat[g] = make([][]int, len(inst.Classes))
	}
	for i, c := range inst.Labels {
		if keep != nil && !keep[i] {
			continue
		}
		g := 0
		if draw == DrawPool {
			g = inst.Source[i]
		}
		ps.byCat[g][c] = append(ps.byCat[g][c], i)
	}
	ps.cats = make([][]int, groups)
	for g := range ps.byCat {
		for c, items := range ps.byCat[g] {
			if len(items) > 0 {
				ps.cats[g] = append(ps.cats[g], c)
			}
		}
	}
	// Drop empty groups (a source whose filter kept nothing).
	var bc [][][]int
	var cs [][]int
	for g := range ps.cats {
		if len(ps.cats[g]) > 0 {
			bc, cs = append(bc, ps.byCat[g]), append(cs, ps.cats[g])
		}
	}
	ps.byCat, ps.cats = bc, cs
	return ps, nil
}

// sizeOf draws the longer side for category c from its real size
// statistics: round(N(mean, std)), kept in [min_side, min(H, W)].
func (ps *paster) sizeOf(c int) int {
	st := ps.side[c]
	if st.Count == 0 {
		st = ps.fallback
	}
	s := int(math.Round(st.SideMean + st.SideStd*ps.rng.NormFloat64()))
	return min(max(s, ps.p.MinSide), min(ps.h, ps.w))
}

// plan draws the placements of one scene from group g: the count uniform
// in [0, max_paste]; per instance the category uniformly among the
// group's categories, then an item uniformly, a side from the category's
// size statistics, a flip (the coin is drawn for every instance, and a
// category that is not mirror-safe ignores it), and a position uniform
// among those that keep the resized box inside the scene.
func (ps *paster) plan(g int) []Placement {
	k := ps.rng.IntN(ps.p.MaxPaste + 1)
	out := make([]Placement, k)
	for j := range out {
		c := ps.cats[g][ps.rng.IntN(len(ps.cats[g]))]
		items := ps.byCat[g][c]
		it := items[ps.rng.IntN(len(items))]
		side := ps.sizeOf(c)
		flip := ps.rng.Float64() < ps.p.Flip
		flip = flip && ps.safe(c)
		pw, ph := resizedDims(ps.inst.Items[it], side)
		x, y := ps.rng.IntN(ps.w-pw+1), ps.rng.IntN(ps.h-ph+1)
		out[j] = Placement{Item: it, Category: c, Side: side, Flip: flip, X: x, Y: y}
	}
	return out
}

// resizedDims is the size Patch.Resize(side) gives.
func resizedDims(p Patch, side int) (w, h int) {
	scale := float64(side) / float64(max(p.W, p.H))
	if p.W >= p.H {
		return side, max(1, int(math.Round(float64(p.H)*scale)))
	}
	return max(1, int(math.Round(float64(p.W)*scale))), side
}

// apply pastes the placements into s in order (later ones on top).
func (ps *paster) apply(s *Scene, pl []Placement) {
	for _, q := range pl {
		p := ps.inst.Items[q.Item].Resize(q.Side)
		if q.Flip {
			p = p.Flip()
		}
		s.Paste(p, q.Category, q.X, q.Y)
	}
}

// Propose pastes into a copy of every scene of the real batch. With draw
// "pool" one source is chosen per iteration, uniformly, so that a decision
// concerns a single generator. When nothing at all was pasted (every count
// drew 0) there is no generated part: ok is false and the iteration trains
// on the real batch alone.
func (ps *paster) Propose(_ context.Context, _ Step, real learn.Batch) (Proposal, bool, error) {
	hw := ps.h * ps.w
	n := len(real.Index)
	g := 0
	if len(ps.cats) > 1 {
		g = ps.rng.IntN(len(ps.cats))
	}
	x, y := slices.Clone(real.X), slices.Clone(real.Y)
	wts := make([]float32, n*hw)
	var pr Proposal
	for i := 0; i < n; i++ {
		s := &Scene{H: ps.h, W: ps.w, X: x[i*hw : (i+1)*hw], Sem: y[i*hw : (i+1)*hw], Pasted: make([]bool, hw)}
		pl := ps.plan(g)
		ps.apply(s, pl)
		for j, on := range s.Pasted {
			if on {
				wts[i*hw+j] = 1
			}
		}
		for _, q := range pl {
			pr.Images = append(pr.Images, i)
			pr.Sources = append(pr.Sources, ps.inst.Sources[ps.inst.Source[q.Item]])
			pr.Categories = append(pr.Categories, ps.inst.Classes[q.Category])
			pr.Items = append(pr.Items, q.Item)
			pr.PoolItems = append(pr.PoolItems, ps.inst.PoolItem(q.Item))
		}
	}
	if len(pr.Sources) == 0 {
		return Proposal{}, false, nil
	}
	pr.Gen = learn.Batch{X: x, Y: y, W: wts, Index: slices.Clone(real.Index)}
	pr.Train = &learn.Batch{X: x, Y: y, Index: slices.Clone(real.Index)}
	return pr, true, nil
}

// pasteProposer builds the segmentation proposer from the pool input's
// INSTANCES dirs. In modes filter and offline only the items the scores
// input keeps are drawn (their indices are pool items: positions over the
// pool input's dirs, counting every item); the preselection holds the
// rates of that choice.
func (n *Node) pasteProposer(ds *learn.Dataset, sizes map[string]format.SizeStat, env *nodes.Env) (Proposer, *preselection, error) {
	sp := n.Params.Select
	inst, err := LoadInstances(env.Inputs["pool"], n.Params.PoolFraction)
	if err != nil {
		return nil, nil, err
	}
	var keep []bool
	var pre *preselection
	if sp.Mode == ModeFilter || sp.Mode == ModeOffline {
		if keep, pre, err = instancePreselection(inst, sp, env.Input("scores"), ds.Groups); err != nil {
			return nil, nil, err
		}
	}
	ps, err := newPaster(n.Params.Paste, inst, keep, ds, sizes, sp.Draw, n.Params.Seed)
	if err != nil {
		return nil, nil, err
	}
	if ps == nil || len(ps.cats) == 0 {
		return nil, nil, fmt.Errorf("the instances pools (%q) hold no items to draw at pool_fraction %v (select mode %s)", inst.Sources, n.Params.PoolFraction, sp.Mode)
	}
	return ps, pre, nil
}

// instancePreselection reads the scores dir (per pool item) and marks the
// loaded items that mode filter (score ≥ tau) or offline (accepted) keeps.
func instancePreselection(inst *Instances, sp SelectParams, dir string, groups map[string]string) ([]bool, *preselection, error) {
	if dir == "" {
		return nil, nil, fmt.Errorf("select mode %q needs a scores input", sp.Mode)
	}
	scores, accepted, err := format.LoadScores(dir, inst.Total)
	if err != nil {
		return nil, nil, err
	}
	isAcc := make([]bool, inst.Total)
	for _, i := range accepted {
		isAcc[i] = true
	}
	tau := math.NaN()
	if sp.Mode == ModeFilter {
		tau = sp.Tau
	}
	keep := make([]bool, len(inst.Items))
	offered := make([]int, len(inst.Items))
	var eligible []int
	for i := range inst.Items {
		offered[i] = i
		pi := inst.PoolItem(i)
		if sp.Mode == ModeOffline && isAcc[pi] || sp.Mode == ModeFilter && scores[pi] >= sp.Tau {
			keep[i] = true
			eligible = append(eligible, i)
		}
	}
	if len(offered) == 0 {
		return keep, nil, nil
	}
	describe := func(i int) (string, string, int, float64) {
		pi := inst.PoolItem(i)
		return inst.Sources[inst.Source[i]], inst.Classes[inst.Labels[i]], pi, scores[pi]
	}
	return keep, newPreselection(len(inst.Items), describe, offered, eligible, groups, tau), nil
}
