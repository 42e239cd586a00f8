package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/metrics"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// Params configures an evaluation.
type Params struct {
	BatchSize int `yaml:"batch_size" json:"batch_size" doc:"test images per forward pass (at least 1)"`
	// MinPixels, Instances and Protocol apply to segmentation test sets only.
	MinPixels int    `yaml:"min_pixels" json:"min_pixels" doc:"segmentation: drop predicted instances of fewer pixels (speckle); 0 keeps every one"`
	Instances string `yaml:"instances" json:"instances" doc:"segmentation: how the argmax class map becomes instances: class (each 8-connected region of one category, scored by its mean probability) or foreground (each 8-connected non-background region, labelled with its most probable category)"`
	Protocol  string `yaml:"protocol" json:"protocol" doc:"segmentation: the detection limit of mask AP: coco (at most 100 detections per image and category) or lvis (at most 300 per image over all categories, top scores first)"`
}

// Ways of turning a class map into instances (Params.Instances); see
// metrics.InstancesByClass and metrics.InstancesByForeground.
const (
	InstancesByClass      = metrics.InstancesByClass
	InstancesByForeground = metrics.InstancesByForeground
)

// DefaultParams are the defaults a spec's params override.
func DefaultParams() Params {
	return Params{BatchSize: 64, Instances: InstancesByClass, Protocol: string(metrics.COCO)}
}

// Validate implements nodes.Validator.
func (p Params) Validate() error {
	var errs []error
	if p.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch_size %d must be positive", p.BatchSize))
	}
	if p.MinPixels < 0 {
		errs = append(errs, fmt.Errorf("min_pixels %d must not be negative", p.MinPixels))
	}
	if p.Instances != InstancesByClass && p.Instances != InstancesByForeground {
		errs = append(errs, fmt.Errorf("instances %q: want %q or %q", p.Instances, InstancesByClass, InstancesByForeground))
	}
	if p.Protocol != string(metrics.COCO) && p.Protocol != string(metrics.LVIS) {
		errs = append(errs, fmt.Errorf("protocol %q: want %q or %q", p.Protocol, metrics.COCO, metrics.LVIS))
	}
	return errors.Join(errs...)
}

// Kind returns the evaluate kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "evaluate",
		Doc:     "score a trained model on a test dataset dir: accuracy (per group), or mask AP, APr, APc, APf (COCO or LVIS protocol) with the detections as a COCO results file",
		Version: 3,
		Inputs: []nodes.Slot{
			{Name: "model", Doc: "a train node (its model/ folder), or a folder holding model.json", Accepts: []string{format.TypeModel}},
			{Name: "test", Doc: "the test dataset dir (classification or segmentation)", Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
		},
		Produces: format.TypeEvaluation,
		Outputs:  []string{"metrics.json", "per_category.json", format.DetectionsFile},
		CPU:      2,
	}, DefaultParams, func(_ nodes.Build, p Params) (nodes.Node, error) {
		return &Node{Params: p}, nil
	})
}

// Node is a configured evaluate node.
type Node struct {
	Params Params
}

// ClassificationMetrics is metrics.json of a classification evaluation.
// The group accuracies are present when the test set's meta has groups; a
// group without test images has −1.
type ClassificationMetrics struct {
	Task        string   `json:"task"`
	Images      int      `json:"images"`
	Accuracy    float64  `json:"accuracy"`
	AccRare     *float64 `json:"acc_rare,omitempty"`
	AccCommon   *float64 `json:"acc_common,omitempty"`
	AccFrequent *float64 `json:"acc_frequent,omitempty"`
}

// SegmentationMetrics is metrics.json of a segmentation evaluation. AP
// values are fractions in [0, 1], or −1 when no category of their kind has
// ground truth.
type SegmentationMetrics struct {
	Task string `json:"task"`
	// Protocol is the detection limit the AP values were computed with
	// (Params.Protocol).
	Protocol string  `json:"protocol"`
	AP       float64 `json:"AP"`
	AP50     float64 `json:"AP50"`
	AP75     float64 `json:"AP75"`
	APr      float64 `json:"APr"`
	APc      float64 `json:"APc"`
	APf      float64 `json:"APf"`
	// PixelAccuracy is the fraction of test pixels whose argmax class is
	// their semantic label.
	PixelAccuracy float64 `json:"pixel_accuracy"`
	Images        int     `json:"images"`
	Instances     int     `json:"instances"`
	Detections    int     `json:"detections"`
}

// CategoryAP is one entry of per_category.json.
type CategoryAP struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Group string `json:"group,omitempty"`
	// Instances is the number of ground-truth instances in the test set;
	// Detections the number of predicted ones.
	Instances  int `json:"instances"`
	Detections int `json:"detections"`
	// AP (0.50:0.95) and AP50 are −1 when the category has no ground truth.
	AP   float64 `json:"AP"`
	AP50 float64 `json:"AP50"`
}

// Run loads the model and the test set, predicts and writes the metrics.
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	modelDir, testDir := env.Input("model"), env.Input("test")
	if modelDir == "" || testDir == "" {
		return errors.New("evaluate: model and test inputs are required")
	}
	model, err := nn.Load(format.ResolveModel(modelDir))
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	task, err := format.DatasetTask(testDir)
	if err != nil {
		return fmt.Errorf("evaluate: read test set: %w", err)
	}
	files := map[string]any{}
	switch task {
	case format.TypeClassification:
		d, err := format.LoadClassification(testDir)
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		m, err := EvaluateClassification(ctx, model, d, n.Params.BatchSize, env.Report)
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		files["metrics.json"] = m
	case format.TypeSegmentation:
		d, err := format.LoadSegmentation(testDir)
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		m, per, dets, err := EvaluateSegmentation(ctx, model, d, n.Params, env.Report)
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		files["metrics.json"] = m
		files["per_category.json"] = per
		if err := artifact.SaveCOCOResults(filepath.Join(env.OutDir, format.DetectionsFile), dets); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
	default:
		return fmt.Errorf("evaluate: test set %q: meta.json task %q is neither %q nor %q", testDir, task, "classification", "segmentation")
	}
	for name, v := range files {
		if err := writeJSON(filepath.Join(env.OutDir, name), v); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %q: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %q: %w", filepath.Base(path), err)
	}
	return nil
}

// checkModel verifies that model fits a test set of the given task, size
// and number of categories.
func checkModel(model *nn.Model, segmentation bool, h, w, classes int) error {
	cfg := model.Config()
	task := map[bool]string{true: "segmentation", false: "classification"}
	if cfg.Segmentation() != segmentation {
		return fmt.Errorf("model %q is a %s network but the test set is %s", cfg.Arch, task[cfg.Segmentation()], task[segmentation])
	}
	if cfg.H != h || cfg.W != w || cfg.Classes != classes {
		return fmt.Errorf("model takes %dx%d images of %d categories but the test set has %dx%d images of %d",
			cfg.H, cfg.W, cfg.Classes, h, w, classes)
	}
	return nil
}

// predict runs model over n images of hw pixels in batches of bs and calls
// use with each batch's first index, size and probabilities.
func predict(ctx context.Context, model *nn.Model, images []uint8, n, hw, bs int, report func(done, total int),
	use func(lo, k int, probs []float32) error) error {
	x := make([]float32, 0, bs*hw)
	for lo := 0; lo < n; lo += bs {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(bs, n-lo)
		x = x[:k*hw]
		for j, v := range images[lo*hw : (lo+k)*hw] {
			x[j] = float32(v) / 255
		}
		probs, err := model.Predict(x)
		if err != nil {
			return fmt.Errorf("images %d to %d: %w", lo, lo+k-1, err)
		}
		if err := use(lo, k, probs); err != nil {
			return err
		}
		if report != nil {
			report(lo+k, n)
		}
	}
	return nil
}

// argmax returns the first index of the largest of c values at stride
// apart starting at off.
func argmax(probs []float32, off, c, stride int) int {
	best := 0
	for k := 1; k < c; k++ {
		if probs[off+k*stride] > probs[off+best*stride] {
			best = k
		}
	}
	return best
}

// EvaluateClassification scores a classifier on d: accuracy overall and, when
// d's meta has groups, per group. report, if not nil, receives progress in
// images.
func EvaluateClassification(ctx context.Context, model *nn.Model, d *format.Classification, bs int, report func(done, total int)) (*ClassificationMetrics, error) {
	if err := checkModel(model, false, d.H, d.W, len(d.Meta.Classes)); err != nil {
		return nil, err
	}
	if d.N == 0 {
		return nil, errors.New("test set has no images")
	}
	k := len(d.Meta.Classes)
	pred := make([]int, d.N)
	label := make([]int, d.N)
	for i, l := range d.Labels {
		label[i] = int(l)
	}
	err := predict(ctx, model, d.Images, d.N, d.H*d.W, bs, report, func(lo, n int, probs []float32) error {
		for i := 0; i < n; i++ {
			pred[lo+i] = argmax(probs, i*k, k, 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	m := &ClassificationMetrics{Task: "classification", Images: d.N, Accuracy: metrics.Accuracy(pred, label)}
	if len(d.Meta.Groups) == 0 {
		return m, nil
	}
	groupOf := map[int]string{}
	for c, name := range d.Meta.Classes {
		g, ok := d.Meta.Groups[name]
		if !ok {
			return nil, fmt.Errorf("class %q has no group in the test set's meta", name)
		}
		groupOf[c] = g
	}
	acc, err := metrics.GroupAccuracy(pred, label, groupOf)
	if err != nil {
		return nil, err
	}
	get := func(g string) *float64 {
		v, ok := acc[g]
		if !ok {
			v = -1
		}
		return &v
	}
	m.AccRare, m.AccCommon, m.AccFrequent = get(format.Rare), get(format.Common), get(format.Frequent)
	return m, nil
}

// GroundTruth returns the instances of a segmentation set in the order
// of its annotations.json (metrics.GroundTruth over instances.npy and
// semantic.npy).
func GroundTruth(d *format.Segmentation) ([]metrics.Instance, error) {
	return metrics.GroundTruth(d.Semantic, d.Instances, d.N, d.H, d.W)
}

// EvaluateSegmentation scores an fcn on d with COCO-style mask AP under
// p.Protocol and returns metrics.json, per_category.json and the
// detections as COCO results (format.DetectionsFile). report, if not nil,
// receives progress in images.
func EvaluateSegmentation(ctx context.Context, model *nn.Model, d *format.Segmentation, p Params, report func(done, total int)) (*SegmentationMetrics, []CategoryAP, []artifact.COCOResult, error) {
	k := len(d.Meta.Classes)
	if err := checkModel(model, true, d.H, d.W, k); err != nil {
		return nil, nil, nil, err
	}
	if d.N == 0 {
		return nil, nil, nil, errors.New("test set has no images")
	}
	if err := checkAnnotationIDs(d); err != nil {
		return nil, nil, nil, fmt.Errorf("test set annotations.json: %w", err)
	}
	gt, err := GroundTruth(d)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ground truth: %w", err)
	}
	for _, g := range gt {
		if g.Category > k {
			return nil, nil, nil, fmt.Errorf("ground truth: image %d has category %d of %d", g.Image, g.Category, k)
		}
	}
	hw := d.H * d.W
	ev := &metrics.SegmentationEval{H: d.H, W: d.W, Categories: k, Groups: map[int]string{},
		MinPixels: p.MinPixels, Mode: p.Instances, Protocol: metrics.Protocol(p.Protocol)}
	for c, name := range d.Meta.Classes {
		if g, ok := metrics.GroupLetter(d.Meta.Groups[name]); ok {
			ev.Groups[c+1] = g
		}
	}
	err = predict(ctx, model, d.Images, d.N, hw, p.BatchSize, report, func(lo, n int, probs []float32) error {
		per := (k + 1) * hw
		for i := 0; i < n; i++ {
			img := lo + i
			if err := ev.Add(img, probs[i*per:(i+1)*per], d.Semantic[img*hw:(img+1)*hw]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("segment: %w", err)
	}
	sc, err := ev.Score(gt)
	if err != nil {
		return nil, nil, nil, err
	}
	res, dets := sc.Result, sc.Detections
	m := &SegmentationMetrics{
		Task: "segmentation", Protocol: p.Protocol, AP: res.AP, AP50: res.AP50, AP75: res.AP75, APr: res.APr, APc: res.APc, APf: res.APf,
		PixelAccuracy: sc.PixelAccuracy, Images: d.N, Instances: len(gt), Detections: len(dets),
	}
	per := make([]CategoryAP, k)
	for c, name := range d.Meta.Classes {
		per[c] = CategoryAP{ID: c + 1, Name: name, Group: d.Meta.Groups[name], AP: -1, AP50: -1}
		if v, ok := res.PerCategory[c+1]; ok {
			per[c].AP, per[c].AP50 = v, res.PerCategory50[c+1]
		}
	}
	for _, g := range gt {
		per[g.Category-1].Instances++
	}
	for _, x := range dets {
		per[x.Category-1].Detections++
	}
	return m, per, Results(dets, d.H, d.W), nil
}

// checkAnnotationIDs verifies that d's annotations.json numbers images and
// categories as the detections file does (format.DetectionsFile): image i
// has id i+1, category c id c+1 and the name of meta's class c.
func checkAnnotationIDs(d *format.Segmentation) error {
	if d.COCO == nil {
		return errors.New("missing")
	}
	if len(d.COCO.Images) != d.N {
		return fmt.Errorf("%d images for %d in images.npy", len(d.COCO.Images), d.N)
	}
	for i, im := range d.COCO.Images {
		if im.ID != int64(i+1) {
			return fmt.Errorf("image %d has id %d, want %d", i, im.ID, i+1)
		}
	}
	if len(d.COCO.Categories) != len(d.Meta.Classes) {
		return fmt.Errorf("%d categories for %d classes in meta.json", len(d.COCO.Categories), len(d.Meta.Classes))
	}
	for c, cat := range d.COCO.Categories {
		if cat.ID != int64(c+1) || cat.Name != d.Meta.Classes[c] {
			return fmt.Errorf("category %d is %q with id %d, want %q with id %d", c, cat.Name, cat.ID, d.Meta.Classes[c], c+1)
		}
	}
	return nil
}

// Results writes detections of h×w images (Image an image index, Category
// a semantic label) as COCO results in their order: image_id Image+1,
// category_id Category, the mask as a compressed RLE.
func Results(dets []metrics.Instance, h, w int) []artifact.COCOResult {
	out := make([]artifact.COCOResult, len(dets))
	mask := make([]uint8, h*w)
	for i, x := range dets {
		for _, p := range x.Pixels {
			mask[p] = 1
		}
		out[i] = artifact.COCOResult{ImageID: int64(x.Image + 1), CategoryID: int64(x.Category),
			Segmentation: artifact.CompressedRLE(artifact.EncodeRLE(mask, h, w)), Score: x.Score}
		for _, p := range x.Pixels {
			mask[p] = 0
		}
	}
	return out
}

// ScoreResults scores COCO results against COCO ground truth from the files
// alone, as the official tools would (the COCO tool with protocol coco,
// LVIS's with lvis; see metrics.Protocol): ground truth in annotation order,
// results in file order, every category of gt evaluated, groups from the
// categories' LVIS frequency letters. Crowd annotations are not supported.
// A result of an image gt does not list is an error, as it is there.
func ScoreResults(gt *artifact.COCO, results []artifact.COCOResult, protocol metrics.Protocol) (metrics.Result, error) {
	size := map[int64][2]int{}
	for _, im := range gt.Images {
		size[im.ID] = [2]int{im.Height, im.Width}
	}
	var cats []int
	groups := map[int]string{}
	for _, c := range gt.Categories {
		cats = append(cats, int(c.ID))
		if c.Frequency != "" {
			groups[int(c.ID)] = c.Frequency
		}
	}
	pixels := func(m []uint8) []int32 {
		var out []int32
		for p, v := range m {
			if v != 0 {
				out = append(out, int32(p))
			}
		}
		return out
	}
	var gts, dets []metrics.Instance
	for _, a := range gt.Annotations {
		if a.IsCrowd != 0 {
			return metrics.Result{}, fmt.Errorf("annotation %d: crowd annotations are not supported", a.ID)
		}
		hw, ok := size[a.ImageID]
		if !ok {
			return metrics.Result{}, fmt.Errorf("annotation %d: unknown image id %d", a.ID, a.ImageID)
		}
		m, err := a.Segmentation.Mask(hw[0], hw[1])
		if err != nil {
			return metrics.Result{}, fmt.Errorf("annotation %d: %w", a.ID, err)
		}
		gts = append(gts, metrics.Instance{Image: int(a.ImageID), Category: int(a.CategoryID), Pixels: pixels(m)})
	}
	for i, r := range results {
		hw, ok := size[r.ImageID]
		if !ok {
			return metrics.Result{}, fmt.Errorf("result %d: image id %d is not in the ground truth", i, r.ImageID)
		}
		if r.Segmentation.Size != hw {
			return metrics.Result{}, fmt.Errorf("result %d: mask of size %v on image %d of size %v", i, r.Segmentation.Size, r.ImageID, hw)
		}
		m, err := artifact.RLE(r.Segmentation).Decode()
		if err != nil {
			return metrics.Result{}, fmt.Errorf("result %d: %w", i, err)
		}
		dets = append(dets, metrics.Instance{Image: int(r.ImageID), Category: int(r.CategoryID), Pixels: pixels(m), Score: r.Score})
	}
	return protocol.MaskAP(gts, dets, cats, groups)
}
