package data

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

// ltsegCategories is the number of lt-seg categories: 10 digits, then 10
// clothing items.
const ltsegCategories = 20

// LTSegParams are the params of the ltseg kind.
type LTSegParams struct {
	Size               int `yaml:"size" json:"size" doc:"side of the square scenes in pixels, 16 to 1024"`
	TrainScenes        int `yaml:"train_scenes" json:"train_scenes" doc:"number of training scenes; it must hold every training instance at max_instances per scene and at least one per scene (0: enough for (1+max_instances)/2 instances per scene on average)"`
	TestScenesPerClass int `yaml:"test_scenes_per_class" json:"test_scenes_per_class" doc:"test scenes each category appears in, at least 1 (the test set is balanced)"`
	// ValScenesPerClass: the val scenes are cut from the train splits,
	// from images the training scenes do not use, before the reference
	// corpus takes the rest, so val shares no source image with train,
	// test or reference.
	ValScenesPerClass int `yaml:"val_scenes_per_class" json:"val_scenes_per_class" doc:"validation scenes each category appears in, at least 1: a balanced set like test, built from train-split images that neither the training scenes nor the reference corpus use (for model selection; nothing is chosen on test)"`
	MaxInstances      int `yaml:"max_instances" json:"max_instances" doc:"most instances in one scene, 1 to 8 (each scene has at least one; instances never touch)"`
	// Rare, Common and Frequent: which categories fall in each group is
	// seeded.
	Rare     int `yaml:"rare" json:"rare" doc:"number of rare categories; rare, common and frequent sum to 20 and a seeded permutation assigns the categories"`
	Common   int `yaml:"common" json:"common" doc:"number of common categories"`
	Frequent int `yaml:"frequent" json:"frequent" doc:"number of frequent categories"`
	// Within a group, counts fall geometrically from its top to its bottom.
	RareMax           int     `yaml:"rare_max" json:"rare_max" doc:"training image count of the most frequent rare category; rare categories span 1 to rare_max (LVIS: 10)"`
	CommonMax         int     `yaml:"common_max" json:"common_max" doc:"training image count of the most frequent common category; common ones span rare_max+1 to common_max (LVIS: 100)"`
	FrequentMax       int     `yaml:"frequent_max" json:"frequent_max" doc:"training image count of the most frequent category; frequent ones span common_max+1 to frequent_max"`
	MinSide           int     `yaml:"min_side" json:"min_side" doc:"smallest longer side of a pasted instance in pixels, at least 3 (0: round(0.28·size))"`
	MaxSide           int     `yaml:"max_side" json:"max_side" doc:"largest longer side of a pasted instance in pixels, min_side to size/2 (0: round(0.44·size))"`
	Threshold         float64 `yaml:"threshold" json:"threshold" doc:"an instance's mask is the pixels of its source image brighter than this fraction, in (0, 1), of the image's brightest pixel"`
	Noise             float64 `yaml:"noise" json:"noise" doc:"standard deviation of the Gaussian noise added to every scene pixel, on the 0-255 scale (0: none)"`
	ReferencePerClass int     `yaml:"reference_per_class" json:"reference_per_class" doc:"at most this many images per category in the reference corpus, from the training images no scene used (0: all of them)"`
	Preview           int     `yaml:"preview" json:"preview" doc:"scenes drawn in preview.png (0 still draws one)"`
	Seed              uint64  `yaml:"seed" json:"seed" doc:"seeds the category groups, the training and test scenes (separate streams) and the choice of source images"`
}

// Validate implements nodes.Validator: the params must make a plan.
func (p LTSegParams) Validate() error {
	_, err := planLTSeg(p)
	return err
}

// DefaultLTSegParams are the reference lt-seg settings.
func DefaultLTSegParams() LTSegParams {
	return LTSegParams{
		Size: 64, TestScenesPerClass: 20, ValScenesPerClass: 20, MaxInstances: 4,
		Rare: 6, Common: 7, Frequent: 7,
		RareMax: 10, CommonMax: 100, FrequentMax: 300,
		Threshold: 0.5, Noise: 8, Preview: 16,
	}
}

// LTSegKind builds the long-tailed mini segmentation benchmark: scenes of
// size×size with 1..max_instances non-touching instances pasted from the
// MNIST and Fashion-MNIST train splits (test scenes from the test splits,
// balanced val scenes from train-split images no training scene uses), 20
// categories whose training image counts are long-tailed so that the LVIS
// groups apply, and the training images neither uses as a reference
// corpus. Every meta carries the source datasets' mirror-safety per
// category (digits false, Fashion-MNIST's categories true).
func LTSegKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "ltseg",
		Doc:     "long-tailed mini instance segmentation benchmark (20 categories from mnist + fashion-mnist): train, val and test scenes and a reference corpus",
		Version: 2,
		Inputs: []nodes.Slot{
			{Name: "mnist", Doc: "the mnist dataset node (train/ and test/)", Accepts: []string{format.TypeSplits}},
			{Name: "fashion", Doc: "the fashion-mnist dataset node (train/ and test/)", Accepts: []string{format.TypeSplits}},
		},
		Produces: format.TypeBenchmark,
		Outputs:  []string{format.BenchmarkTrain, format.BenchmarkVal, format.BenchmarkTest, format.BenchmarkReference, format.BenchmarkPreview},
	}, DefaultLTSegParams, func(_ nodes.Build, p LTSegParams) (nodes.Node, error) {
		plan, err := planLTSeg(p)
		if err != nil {
			return nil, err
		}
		return &ltsegNode{p: p, plan: plan}, nil
	})
}

// ltsegPlan is what follows from the params alone.
type ltsegPlan struct {
	groups      []string // per category
	counts      []int    // training image count per category
	trainScenes int
	testScenes  int
	valScenes   int
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
	case p.TestScenesPerClass < 1 || p.ValScenesPerClass < 1:
		return nil, fmt.Errorf("test_scenes_per_class %d and val_scenes_per_class %d: want at least 1", p.TestScenesPerClass, p.ValScenesPerClass)
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
	pl.valScenes = max(p.ValScenesPerClass, int(math.Ceil(float64(ltsegCategories*p.ValScenesPerClass)/avg)))
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
	safe := append(format.MirrorSafe(mn.train.Meta.MirrorSafe, 10), format.MirrorSafe(fa.train.Meta.MirrorSafe, 10)...)
	groups := map[string]string{}
	for c, g := range n.plan.groups {
		groups[names[c]] = g
	}
	thresholds := map[string]int{"rare_max": n.p.RareMax, "common_max": n.p.CommonMax}
	finish := func(seg *format.Segmentation) error { return n.finish(seg, names, groups, thresholds, safe) }
	env.Report(0, 5)

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
	if err := finish(train); err != nil {
		return fmt.Errorf("train scenes: %w", err)
	}
	// The groups must hold as counted over the written images.
	for c, cnt := range imageCounts(train.Semantic, train.N, ltsegCategories) {
		if g := groupOf(cnt, n.p.RareMax, n.p.CommonMax); cnt == 0 || g != n.plan.groups[c] {
			return fmt.Errorf("category %q is in %d training images, not in its group %q (internal error)", names[c], cnt, n.plan.groups[c])
		}
	}
	env.Report(1, 5)

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
	if err := finish(test); err != nil {
		return fmt.Errorf("test scenes: %w", err)
	}
	env.Report(2, 5)

	// Balanced val scenes from the train splits, from images no training
	// scene used; they join "used" before the reference corpus takes the
	// rest.
	vrng := rand.New(rand.NewPCG(n.p.Seed, 4))
	veven := make([]int, ltsegCategories)
	for c := range veven {
		veven[c] = n.p.ValScenesPerClass
	}
	vlayout, err := assignScenes(vrng, veven, n.plan.valScenes, n.p.MaxInstances)
	if err != nil {
		return fmt.Errorf("val scenes: %w", err)
	}
	val, err := n.render(ctx, vrng, vlayout, srcs, func(s *ltsegSource) *format.Classification { return s.train }, &used)
	if err != nil {
		return fmt.Errorf("val scenes: %w", err)
	}
	if err := finish(val); err != nil {
		return fmt.Errorf("val scenes: %w", err)
	}
	env.Report(3, 5)

	ref := n.reference(srcs, used, names, groups, safe)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		save func(string) error
	}{{format.BenchmarkTrain, train.Save}, {format.BenchmarkVal, val.Save}, {format.BenchmarkTest, test.Save}, {format.BenchmarkReference, ref.save}} {
		if err := w.save(filepath.Join(env.OutDir, w.name)); err != nil {
			return fmt.Errorf("write %s: %w", w.name, err)
		}
	}
	if err := writePreview(filepath.Join(env.OutDir, format.BenchmarkPreview), n.p.Preview, train, test); err != nil {
		return err
	}
	env.Report(5, 5)
	return nil
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
func (n *ltsegNode) finish(seg *format.Segmentation, names []string, groups map[string]string, thresholds map[string]int, safe []bool) error {
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
	seg.Meta.MirrorSafe = safe
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
