package data

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

// ltsegCategories is the number of lt-seg categories: 10 digits, then 10
// clothing items.
const ltsegCategories = 20

// LTSegParams are the params of the ltseg kind.
type LTSegParams struct {
	// Size is the side of the square scenes in pixels.
	Size int `yaml:"size" json:"size"`
	// TrainScenes is the number of training scenes; 0 picks the number that
	// gives (1+max_instances)/2 instances per scene on average.
	TrainScenes int `yaml:"train_scenes" json:"train_scenes"`
	// TestScenesPerClass is the number of test scenes each category
	// appears in (the test set is balanced).
	TestScenesPerClass int `yaml:"test_scenes_per_class" json:"test_scenes_per_class"`
	// MaxInstances bounds the instances of one scene (at least 1 each).
	MaxInstances int `yaml:"max_instances" json:"max_instances"`
	// Rare, Common and Frequent are how many categories fall in each group
	// (they sum to 20); which categories do is seeded.
	Rare     int `yaml:"rare" json:"rare"`
	Common   int `yaml:"common" json:"common"`
	Frequent int `yaml:"frequent" json:"frequent"`
	// RareMax and CommonMax are the group thresholds on training image
	// counts (LVIS: rare 1..10, common 11..100, frequent >100);
	// FrequentMax is the count of the most frequent category. Within a
	// group, counts fall geometrically from its top to its bottom.
	RareMax     int `yaml:"rare_max" json:"rare_max"`
	CommonMax   int `yaml:"common_max" json:"common_max"`
	FrequentMax int `yaml:"frequent_max" json:"frequent_max"`
	// MinSide and MaxSide bound the longer side of a pasted instance in
	// pixels; 0 means 0.28·size and 0.44·size.
	MinSide int `yaml:"min_side" json:"min_side"`
	MaxSide int `yaml:"max_side" json:"max_side"`
	// Threshold is the mask threshold as a fraction of a source image's
	// brightest pixel.
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// Noise is the standard deviation of Gaussian pixel noise (0–255 scale).
	Noise float64 `yaml:"noise" json:"noise"`
	// ReferencePerClass caps the reference corpus per category (0: all
	// unused training images).
	ReferencePerClass int `yaml:"reference_per_class" json:"reference_per_class"`
	// Preview is the number of scenes drawn in preview.png (at least one is).
	Preview int    `yaml:"preview" json:"preview"`
	Seed    uint64 `yaml:"seed" json:"seed"`
}

// DefaultLTSegParams are the reference lt-seg settings.
func DefaultLTSegParams() LTSegParams {
	return LTSegParams{
		Size: 64, TestScenesPerClass: 20, MaxInstances: 4,
		Rare: 6, Common: 7, Frequent: 7,
		RareMax: 10, CommonMax: 100, FrequentMax: 300,
		Threshold: 0.5, Noise: 8, Preview: 16,
	}
}

// LTSegKind builds the long-tailed mini segmentation benchmark: scenes of
// size×size with 1..max_instances non-touching instances pasted from the
// MNIST and Fashion-MNIST train splits (test scenes from the test splits),
// 20 categories whose training image counts are long-tailed so that the LVIS
// groups apply, and the unused training images as a reference corpus.
func LTSegKind() *nodes.Kind {
	return &nodes.Kind{
		Name:    "ltseg",
		Doc:     "long-tailed mini instance segmentation benchmark (20 categories from mnist + fashion-mnist)",
		Version: 1,
		Inputs: []nodes.Slot{
			{Name: "mnist", Doc: "the mnist dataset node (train/ and test/)", Accepts: []string{format.TypeSplits}},
			{Name: "fashion", Doc: "the fashion-mnist dataset node (train/ and test/)", Accepts: []string{format.TypeSplits}},
		},
		Produces: format.TypeBenchmark,
		Outputs:  []string{format.BenchmarkTrain, format.BenchmarkTest, format.BenchmarkReference, format.BenchmarkPreview},
		Params: func() any {
			p := DefaultLTSegParams()
			return &p
		},
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*LTSegParams)
			plan, err := planLTSeg(p)
			if err != nil {
				return nil, err
			}
			return &ltsegNode{p: p, plan: plan}, nil
		},
	}
}

// ltsegPlan is what follows from the params alone.
type ltsegPlan struct {
	groups      []string // per category
	counts      []int    // training image count per category
	trainScenes int
	testScenes  int
	minSide     int
	maxSide     int
}

func planLTSeg(p LTSegParams) (*ltsegPlan, error) {
	switch {
	case p.Size < 16 || p.Size > 1024:
		return nil, fmt.Errorf("size: %d, want 16 to 1024", p.Size)
	case p.MaxInstances < 1 || p.MaxInstances > 8:
		return nil, fmt.Errorf("max_instances: %d, want 1 to 8", p.MaxInstances)
	case p.Rare < 0 || p.Common < 0 || p.Frequent < 0 || p.Rare+p.Common+p.Frequent != ltsegCategories:
		return nil, fmt.Errorf("rare %d + common %d + frequent %d: want non-negative counts summing to %d", p.Rare, p.Common, p.Frequent, ltsegCategories)
	case p.RareMax < 1 || p.CommonMax <= p.RareMax || p.FrequentMax <= p.CommonMax:
		return nil, fmt.Errorf("rare_max %d, common_max %d, frequent_max %d: want 1 ≤ rare_max < common_max < frequent_max", p.RareMax, p.CommonMax, p.FrequentMax)
	case p.TestScenesPerClass < 1:
		return nil, fmt.Errorf("test_scenes_per_class: %d, want at least 1", p.TestScenesPerClass)
	case !(p.Threshold > 0 && p.Threshold < 1):
		return nil, fmt.Errorf("threshold: %v, want a fraction in (0,1)", p.Threshold)
	case !(p.Noise >= 0) || math.IsInf(p.Noise, 0):
		return nil, fmt.Errorf("noise: %v, want ≥ 0", p.Noise)
	case p.ReferencePerClass < 0 || p.Preview < 0 || p.TrainScenes < 0:
		return nil, errors.New("reference_per_class, preview and train_scenes must not be negative")
	}
	pl := &ltsegPlan{minSide: p.MinSide, maxSide: p.MaxSide}
	if pl.minSide == 0 {
		pl.minSide = int(math.Round(0.28 * float64(p.Size)))
	}
	if pl.maxSide == 0 {
		pl.maxSide = int(math.Round(0.44 * float64(p.Size)))
	}
	if pl.minSide < 3 || pl.maxSide < pl.minSide || pl.maxSide > p.Size/2 {
		return nil, fmt.Errorf("min_side %d, max_side %d: want 3 ≤ min_side ≤ max_side ≤ size/2 = %d", pl.minSide, pl.maxSide, p.Size/2)
	}
	// Groups: a seeded permutation of the categories, cut into the groups.
	perm := rand.New(rand.NewPCG(p.Seed, 1)).Perm(ltsegCategories)
	pl.groups = make([]string, ltsegCategories)
	pl.counts = make([]int, ltsegCategories)
	type band struct {
		name   string
		k      int
		lo, hi int
	}
	at := 0
	for _, b := range []band{
		{format.Frequent, p.Frequent, p.CommonMax + 1, p.FrequentMax},
		{format.Common, p.Common, p.RareMax + 1, p.CommonMax},
		{format.Rare, p.Rare, 1, p.RareMax},
	} {
		for j, n := range expProfile(b.k, b.hi, b.lo) {
			c := perm[at+j]
			pl.groups[c], pl.counts[c] = b.name, n
		}
		at += b.k
	}
	total, most := 0, 0
	for _, n := range pl.counts {
		total += n
		most = max(most, n)
	}
	avg := float64(1+p.MaxInstances) / 2
	pl.trainScenes = p.TrainScenes
	if pl.trainScenes == 0 {
		pl.trainScenes = max(most, int(math.Ceil(float64(total)/avg)))
	}
	if pl.trainScenes < most || pl.trainScenes*p.MaxInstances < total || pl.trainScenes > total {
		return nil, fmt.Errorf("train_scenes: %d scenes cannot hold %d instances (max %d per scene, %d of one category, at least one per scene); want %d to %d",
			pl.trainScenes, total, p.MaxInstances, most, max(most, (total+p.MaxInstances-1)/p.MaxInstances), total)
	}
	testTotal := ltsegCategories * p.TestScenesPerClass
	pl.testScenes = max(p.TestScenesPerClass, int(math.Ceil(float64(testTotal)/avg)))
	return pl, nil
}

type ltsegNode struct {
	p    LTSegParams
	plan *ltsegPlan
}

// ltsegSource is one source dataset (mnist or fashion) with both splits.
type ltsegSource struct {
	name        string
	train, test *format.Classification
}

func loadLTSegSource(name, dir string) (*ltsegSource, error) {
	if dir == "" {
		return nil, fmt.Errorf("input %q is missing", name)
	}
	s := &ltsegSource{name: name}
	var err error
	if s.train, err = format.LoadClassification(filepath.Join(dir, format.SplitsTrain)); err != nil {
		return nil, fmt.Errorf("input %q: %w", name, err)
	}
	if s.test, err = format.LoadClassification(filepath.Join(dir, format.SplitsTest)); err != nil {
		return nil, fmt.Errorf("input %q: %w", name, err)
	}
	if len(s.train.Meta.Classes) != 10 {
		return nil, fmt.Errorf("input %q: %d classes, want 10", name, len(s.train.Meta.Classes))
	}
	return s, nil
}

// ltsegNames are the 20 category names: "digit 0".."digit 9", then the
// fashion class names.
func ltsegNames(mnist, fashion *ltsegSource) []string {
	var names []string
	for _, c := range mnist.train.Meta.Classes {
		names = append(names, "digit "+c)
	}
	return append(names, fashion.train.Meta.Classes...)
}

func (n *ltsegNode) Run(ctx context.Context, env *nodes.Env) error {
	if err := n.run(ctx, env); err != nil {
		return fmt.Errorf("ltseg: %w", err)
	}
	return nil
}

func (n *ltsegNode) run(ctx context.Context, env *nodes.Env) error {
	mn, err := loadLTSegSource("mnist", env.Input("mnist"))
	if err != nil {
		return err
	}
	fa, err := loadLTSegSource("fashion", env.Input("fashion"))
	if err != nil {
		return err
	}
	srcs := [2]*ltsegSource{mn, fa}
	if mn.train.H != fa.train.H || mn.train.W != fa.train.W {
		return fmt.Errorf("mnist images are %dx%d, fashion images %dx%d; want equal sizes", mn.train.H, mn.train.W, fa.train.H, fa.train.W)
	}
	names := ltsegNames(mn, fa)
	groups := map[string]string{}
	for c, g := range n.plan.groups {
		groups[names[c]] = g
	}
	thresholds := map[string]int{"rare_max": n.p.RareMax, "common_max": n.p.CommonMax}
	env.Report(0, 4)

	// Training scenes.
	rng := rand.New(rand.NewPCG(n.p.Seed, 2))
	layout, err := assignScenes(rng, n.plan.counts, n.plan.trainScenes, n.p.MaxInstances)
	if err != nil {
		return fmt.Errorf("train scenes: %w", err)
	}
	used := [2]map[int]bool{{}, {}}
	train, err := n.render(ctx, rng, layout, srcs, func(s *ltsegSource) *format.Classification { return s.train }, &used)
	if err != nil {
		return fmt.Errorf("train scenes: %w", err)
	}
	if err := n.finish(train, names, groups, thresholds); err != nil {
		return fmt.Errorf("train scenes: %w", err)
	}
	// The groups must hold as counted over the written images.
	for c, cnt := range imageCounts(train.Semantic, train.N, ltsegCategories) {
		if g := groupOf(cnt, n.p.RareMax, n.p.CommonMax); cnt == 0 || g != n.plan.groups[c] {
			return fmt.Errorf("category %q is in %d training images, not in its group %q (internal error)", names[c], cnt, n.plan.groups[c])
		}
	}
	env.Report(1, 4)

	// Balanced test scenes from the test splits.
	trng := rand.New(rand.NewPCG(n.p.Seed, 3))
	even := make([]int, ltsegCategories)
	for c := range even {
		even[c] = n.p.TestScenesPerClass
	}
	tlayout, err := assignScenes(trng, even, n.plan.testScenes, n.p.MaxInstances)
	if err != nil {
		return fmt.Errorf("test scenes: %w", err)
	}
	test, err := n.render(ctx, trng, tlayout, srcs, func(s *ltsegSource) *format.Classification { return s.test }, nil)
	if err != nil {
		return fmt.Errorf("test scenes: %w", err)
	}
	if err := n.finish(test, names, groups, thresholds); err != nil {
		return fmt.Errorf("test scenes: %w", err)
	}
	env.Report(2, 4)

	ref := n.reference(srcs, used, names, groups)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		save func(string) error
	}{{format.BenchmarkTrain, train.Save}, {format.BenchmarkTest, test.Save}, {format.BenchmarkReference, ref.save}} {
		if err := w.save(filepath.Join(env.OutDir, w.name)); err != nil {
			return fmt.Errorf("write %s: %w", w.name, err)
		}
	}
	if err := writePreview(filepath.Join(env.OutDir, format.BenchmarkPreview), n.p.Preview, train, test); err != nil {
		return err
	}
	env.Report(4, 4)
	return nil
}

// assignScenes lays out scenes: how many instances each scene has (1..maxInst,
// summing to the counts' total) and which categories (distinct within a
// scene, category c in exactly counts[c] scenes).
func assignScenes(rng *rand.Rand, counts []int, scenes, maxInst int) ([][]int, error) {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total < scenes || total > scenes*maxInst {
		return nil, fmt.Errorf("%d instances do not fit %d scenes of 1 to %d", total, scenes, maxInst)
	}
	capacity := make([]int, scenes)
	var extra []int
	for s := range capacity {
		capacity[s] = 1
		for k := 1; k < maxInst; k++ {
			extra = append(extra, s)
		}
	}
	rng.Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
	for _, s := range extra[:total-scenes] {
		capacity[s]++
	}
	// Fill categories, most frequent first, into the scenes with the most
	// room left (ties in random order): the greedy realization of a
	// bipartite degree sequence, which succeeds whenever one exists.
	order := make([]int, len(counts))
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int { return counts[b] - counts[a] })
	out := make([][]int, scenes)
	for _, c := range order {
		cand := rng.Perm(scenes)
		slices.SortStableFunc(cand, func(a, b int) int { return capacity[b] - capacity[a] })
		for _, s := range cand[:counts[c]] {
			if capacity[s] == 0 {
				return nil, fmt.Errorf("cannot place category %d in %d distinct scenes", c, counts[c])
			}
			capacity[s]--
			out[s] = append(out[s], c)
		}
	}
	for s := range out {
		rng.Shuffle(len(out[s]), func(i, j int) { out[s][i], out[s][j] = out[s][j], out[s][i] })
	}
	return out, nil
}

// instance is one rendered instance before placement: a w×h patch with a
// mask that is one 8-connected component.
type instance struct {
	cat    int
	source string
	w, h   int
	values []uint8
	mask   []bool
	ox, oy int
	area   int
	srcImg []uint8
	srcH   int
	srcW   int
}

// cut renders a source image at a longer side of side pixels: crop to the
// pixels above threshold·max, resize bilinearly, threshold again, keep the
// largest 8-connected component and crop to it.
func cut(src []uint8, sh, sw, side int, frac float64) (w, h int, values []uint8, mask []bool, err error) {
	mx := uint8(0)
	for _, v := range src {
		mx = max(mx, v)
	}
	if mx == 0 {
		return 0, 0, nil, nil, errors.New("source image is blank")
	}
	t := frac * float64(mx)
	x0, y0, x1, y1 := sw, sh, -1, -1
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			if float64(src[y*sw+x]) > t {
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	bw, bh := x1-x0+1, y1-y0+1
	scale := float64(side) / float64(max(bw, bh))
	ow := max(1, int(math.Round(float64(bw)*scale)))
	oh := max(1, int(math.Round(float64(bh)*scale)))
	vals := make([]float64, ow*oh)
	m := make([]bool, ow*oh)
	best := 0
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			sx := float64(x0) + (float64(x)+0.5)/scale - 0.5
			sy := float64(y0) + (float64(y)+0.5)/scale - 0.5
			v := bilinear(src, sh, sw, sx, sy)
			vals[y*ow+x] = v
			m[y*ow+x] = v > t
			if v > vals[best] {
				best = y*ow + x
			}
		}
	}
	if largestComponent(m, oh, ow) == 0 {
		m[best] = true
	}
	// Crop to the component.
	cx0, cy0, cx1, cy1 := ow, oh, -1, -1
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			if m[y*ow+x] {
				cx0, cx1 = min(cx0, x), max(cx1, x)
				cy0, cy1 = min(cy0, y), max(cy1, y)
			}
		}
	}
	w, h = cx1-cx0+1, cy1-cy0+1
	values = make([]uint8, w*h)
	mask = make([]bool, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y+cy0)*ow + x + cx0
			if m[i] {
				mask[y*w+x] = true
				values[y*w+x] = uint8(math.Round(math.Min(vals[i], 255)))
			}
		}
	}
	return w, h, values, mask, nil
}

// minShare is the least fraction of a source image's mask pixels that its
// largest 8-connected component must hold for the image to be pasted.
const minShare = 0.9

// wholeShape reports whether the pixels of src above frac·max are (nearly)
// one 8-connected component.
func wholeShape(src []uint8, h, w int, frac float64) bool {
	mx := uint8(0)
	for _, v := range src {
		mx = max(mx, v)
	}
	if mx == 0 {
		return false
	}
	t := frac * float64(mx)
	m := make([]bool, len(src))
	total := 0
	for i, v := range src {
		if float64(v) > t {
			m[i] = true
			total++
		}
	}
	return float64(largestComponent(m, h, w)) >= minShare*float64(total)
}

// render draws the scenes of layout. Each instance takes a distinct source
// image of its category from split (drawn in a seeded order, skipping those
// that fail wholeShape); used, when not nil, collects the source indices per
// dataset.
func (n *ltsegNode) render(ctx context.Context, rng *rand.Rand, layout [][]int, srcs [2]*ltsegSource,
	split func(*ltsegSource) *format.Classification, used *[2]map[int]bool) (*format.Segmentation, error) {
	S := n.p.Size
	// Seeded queue of source images per category.
	byClass := [2][][]int{byClass(split(srcs[0])), byClass(split(srcs[1]))}
	queues := make([][]int, ltsegCategories)
	for c := range queues {
		queues[c] = byClass[c/10][c%10]
		q := queues[c]
		rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
	}
	seg := &format.Segmentation{N: len(layout), H: S, W: S,
		Images: make([]uint8, len(layout)*S*S), Semantic: make([]uint8, len(layout)*S*S), Instances: make([]int32, len(layout)*S*S)}
	seg.COCO = &artifact.COCO{Images: []artifact.COCOImage{}, Annotations: []artifact.COCOAnnotation{}}
	var sources []string
	for s, cats := range layout {
		if s%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		// Source images for this scene.
		insts := make([]*instance, len(cats))
		for k, c := range cats {
			d := split(srcs[c/10])
			// Skip sources whose mask falls apart: they would paste a
			// fragment. Skipped images stay out of "used" (and so in the
			// reference corpus).
			idx := -1
			for idx < 0 {
				if len(queues[c]) == 0 {
					return nil, fmt.Errorf("category %d has too few source images", c)
				}
				if i := queues[c][0]; wholeShape(d.Image(i), d.H, d.W, n.p.Threshold) {
					idx = i
				}
				queues[c] = queues[c][1:]
			}
			insts[k] = &instance{cat: c, source: srcs[c/10].name + ":" + strconv.Itoa(idx), srcImg: d.Image(idx), srcH: d.H, srcW: d.W}
			if used != nil {
				(*used)[c/10][idx] = true
			}
		}
		if err := n.place(rng, insts); err != nil {
			return nil, fmt.Errorf("scene %d: %w", s, err)
		}
		off := s * S * S
		img, sem, ins := seg.Images[off:off+S*S], seg.Semantic[off:off+S*S], seg.Instances[off:off+S*S]
		base := float64(rng.IntN(41))
		canvas := make([]float64, S*S)
		for i := range canvas {
			canvas[i] = base
		}
		seg.COCO.Images = append(seg.COCO.Images, artifact.COCOImage{ID: int64(s + 1), FileName: "images.npy:" + strconv.Itoa(s), Width: S, Height: S})
		for k, in := range insts {
			mask := make([]uint8, S*S)
			for y := 0; y < in.h; y++ {
				for x := 0; x < in.w; x++ {
					if in.mask[y*in.w+x] {
						p := (in.oy+y)*S + in.ox + x
						canvas[p] = float64(in.values[y*in.w+x])
						sem[p] = uint8(in.cat + 1)
						ins[p] = int32(k + 1)
						mask[p] = 1
					}
				}
			}
			rle := artifact.EncodeRLE(mask, S, S)
			box, area := artifact.MaskBBox(mask, S, S)
			seg.COCO.Annotations = append(seg.COCO.Annotations, artifact.COCOAnnotation{
				ID: int64(len(seg.COCO.Annotations) + 1), ImageID: int64(s + 1), CategoryID: int64(in.cat + 1),
				Segmentation: artifact.Segmentation{RLE: &rle}, Area: float64(area), BBox: box,
			})
			sources = append(sources, in.source)
		}
		for i, v := range canvas {
			if n.p.Noise > 0 {
				v += float64(n.p.Noise * rng.NormFloat64()) // no FMA: same bytes on every platform
			}
			img[i] = uint8(math.Round(math.Max(0, math.Min(255, v))))
		}
	}
	seg.Meta.InstanceSources = sources
	return seg, nil
}

// place draws a size and a position for each instance so that no two
// instances overlap or touch. Instances are placed largest first; when one
// does not fit, the whole scene is redrawn with smaller sizes.
func (n *ltsegNode) place(rng *rand.Rand, insts []*instance) error {
	S := n.p.Size
	for attempt := 0; attempt < 60; attempt++ {
		shrink := math.Pow(0.95, float64(attempt))
		for _, in := range insts {
			side := n.plan.minSide + rng.IntN(n.plan.maxSide-n.plan.minSide+1)
			side = max(3, int(math.Round(float64(side)*shrink)))
			var err error
			in.w, in.h, in.values, in.mask, err = cut(in.srcImg, in.srcH, in.srcW, side, n.p.Threshold)
			if err != nil {
				return fmt.Errorf("%s: %w", in.source, err)
			}
			in.area = 0
			for _, m := range in.mask {
				if m {
					in.area++
				}
			}
		}
		order := make([]int, len(insts))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return insts[b].area - insts[a].area })
		blocked := make([]bool, S*S)
		ok := true
		for _, i := range order {
			if !n.fit(rng, insts[i], blocked) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
	}
	return errors.New("cannot place the instances without touching; lower max_instances or max_side")
}

// fit tries random positions for in until its mask avoids blocked, then
// blocks its pixels and their 8-neighbours.
func (n *ltsegNode) fit(rng *rand.Rand, in *instance, blocked []bool) bool {
	S := n.p.Size
	if in.w > S || in.h > S {
		return false
	}
	for try := 0; try < 100; try++ {
		ox, oy := rng.IntN(S-in.w+1), rng.IntN(S-in.h+1)
		free := true
		for y := 0; y < in.h && free; y++ {
			for x := 0; x < in.w; x++ {
				if in.mask[y*in.w+x] && blocked[(oy+y)*S+ox+x] {
					free = false
					break
				}
			}
		}
		if !free {
			continue
		}
		in.ox, in.oy = ox, oy
		for y := 0; y < in.h; y++ {
			for x := 0; x < in.w; x++ {
				if !in.mask[y*in.w+x] {
					continue
				}
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						py, px := oy+y+dy, ox+x+dx
						if py >= 0 && py < S && px >= 0 && px < S {
							blocked[py*S+px] = true
						}
					}
				}
			}
		}
		return true
	}
	return false
}

// imageCounts counts, per category, the images whose semantic map has it.
func imageCounts(sem []uint8, n, cats int) []int {
	counts := make([]int, cats)
	if n == 0 {
		return counts
	}
	per := len(sem) / n
	seen := make([]bool, cats+1)
	for i := 0; i < n; i++ {
		clear(seen)
		for _, v := range sem[i*per : (i+1)*per] {
			seen[v] = true
		}
		for c := 0; c < cats; c++ {
			if seen[c+1] {
				counts[c]++
			}
		}
	}
	return counts
}

// finish fills a rendered split's categories and meta.
func (n *ltsegNode) finish(seg *format.Segmentation, names []string, groups map[string]string, thresholds map[string]int) error {
	imgs := imageCounts(seg.Semantic, seg.N, len(names))
	inst := make([]int, len(names))
	for _, a := range seg.COCO.Annotations {
		inst[a.CategoryID-1]++
	}
	for c, name := range names {
		seg.COCO.Categories = append(seg.COCO.Categories, artifact.COCOCategory{
			ID: int64(c + 1), Name: name, Supercategory: []string{"digit", "clothing"}[c/10],
			Frequency: freqLetter(groups[name]), ImageCount: imgs[c], InstanceCount: inst[c],
		})
	}
	seg.Meta.Classes = names
	seg.Meta.Groups = groups
	seg.Meta.Thresholds = thresholds
	seg.Meta.SizeStats = sizeStats(seg.COCO, names)
	return nil
}

// sizeStats summarizes the annotations' areas and longer box sides per
// category.
func sizeStats(c *artifact.COCO, names []string) map[string]format.SizeStat {
	type acc struct{ n, a, a2, s, s2 float64 }
	accs := make([]acc, len(names))
	for _, a := range c.Annotations {
		k := &accs[a.CategoryID-1]
		side := math.Max(a.BBox[2], a.BBox[3])
		k.n++
		k.a += a.Area
		k.a2 += float64(a.Area * a.Area)
		k.s += side
		k.s2 += float64(side * side)
	}
	r := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	out := map[string]format.SizeStat{}
	for c, k := range accs {
		if k.n == 0 {
			out[names[c]] = format.SizeStat{}
			continue
		}
		am, sm := k.a/k.n, k.s/k.n
		out[names[c]] = format.SizeStat{
			Count:    int(k.n),
			AreaMean: r(am), AreaStd: r(math.Sqrt(math.Max(0, k.a2/k.n-float64(am*am)))),
			SideMean: r(sm), SideStd: r(math.Sqrt(math.Max(0, k.s2/k.n-float64(sm*sm)))),
		}
	}
	return out
}

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

// reference collects the training images no scene used, interleaving the
// two datasets by index, at most ReferencePerClass per category.
func (n *ltsegNode) reference(srcs [2]*ltsegSource, used [2]map[int]bool, names []string, groups map[string]string) *ltsegReference {
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
	out.Meta = format.ClassMeta{Classes: names, Groups: groups, Counts: counts}
	return &ltsegReference{c: out, sources: sources}
}

// writePreview draws up to k scenes, half from train and half from test,
// with their instance masks in category colours.
func writePreview(path string, k int, train, test *format.Segmentation) error {
	if k == 0 {
		k = 1
	}
	var tiles []image.Image
	add := func(s *format.Segmentation, m int) {
		per := s.H * s.W
		for i := 0; i < min(m, s.N); i++ {
			class := make([]int32, per)
			for j, v := range s.Semantic[i*per : (i+1)*per] {
				class[j] = int32(v)
			}
			tiles = append(tiles, artifact.Overlay(s.Images[i*per:(i+1)*per], s.H, s.W, class, s.Instances[i*per:(i+1)*per]))
		}
	}
	add(train, k-k/2)
	add(test, k/2)
	scale := max(1, 128/train.H)
	if err := artifact.SaveGridPNG(path, tiles, 4, 2, scale); err != nil {
		return fmt.Errorf("write preview: %w", err)
	}
	return nil
}
