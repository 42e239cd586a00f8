package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/metrics"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// Params configures an evaluation.
type Params struct {
	// BatchSize is the number of test images per forward pass.
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// MinPixels drops predicted components with fewer pixels (speckle);
	// 0 keeps every component.
	MinPixels int `yaml:"min_pixels" json:"min_pixels"`
	// Instances says how the argmax class map becomes instances: "class"
	// (InstancesByClass) or "foreground" (InstancesByForeground).
	Instances string `yaml:"instances" json:"instances"`
}

// Ways of turning a class map into instances (Params.Instances).
const (
	// InstancesByClass makes every 8-connected set of pixels of one
	// category an instance, scored by the mean probability of that
	// category over its pixels. An object whose pixels are split between
	// categories becomes several fragments.
	InstancesByClass = "class"
	// InstancesByForeground makes every 8-connected set of non-background
	// pixels an instance (lt-seg's instances never touch), labelled with
	// the category of highest mean probability over its pixels (the lowest
	// id among equals) and scored by that mean.
	InstancesByForeground = "foreground"
)

// DefaultParams are the defaults a spec's params override.
func DefaultParams() Params { return Params{BatchSize: 64, Instances: InstancesByClass} }

// Validate checks the params.
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
	return errors.Join(errs...)
}

// Kind returns the evaluate kind.
func Kind() *nodes.Kind {
	return &nodes.Kind{
		Name:    "evaluate",
		Doc:     "score a trained model on a test dataset dir: accuracy (per group) or mask AP, APr, APc, APf",
		Version: 1,
		Inputs: []nodes.Slot{
			{Name: "model", Doc: "a train node (its model/ folder), or a folder holding model.json", Accepts: []string{format.TypeModel}},
			{Name: "test", Doc: "the test dataset dir (classification or segmentation)", Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
		},
		Produces: format.TypeEvaluation,
		Outputs:  []string{"metrics.json", "per_category.json"},
		Params:   func() any { p := DefaultParams(); return &p },
		CPU:      2,
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*Params)
			if err := p.Validate(); err != nil {
				return nil, err
			}
			return &Node{Params: p}, nil
		},
	}
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
	Task string  `json:"task"`
	AP   float64 `json:"AP"`
	AP50 float64 `json:"AP50"`
	AP75 float64 `json:"AP75"`
	APr  float64 `json:"APr"`
	APc  float64 `json:"APc"`
	APf  float64 `json:"APf"`
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
		m, per, err := EvaluateSegmentation(ctx, model, d, n.Params, env.Report)
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		files["metrics.json"] = m
		files["per_category.json"] = per
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

// lvisLetter maps a group name of a dataset meta to metrics' LVIS letter.
func lvisLetter(group string) (string, bool) {
	switch group {
	case format.Rare:
		return metrics.Rare, true
	case format.Common:
		return metrics.Common, true
	case format.Frequent:
		return metrics.Frequent, true
	}
	return "", false
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

// GroundTruth returns the instances of a segmentation set: each instance id
// of instances.npy in an image is one instance, its category the semantic
// label of its pixels (all equal, not background).
func GroundTruth(d *format.Segmentation) ([]metrics.Instance, error) {
	hw := d.H * d.W
	var out []metrics.Instance
	for i := 0; i < d.N; i++ {
		ins := d.Instances[i*hw : (i+1)*hw]
		sem := d.Semantic[i*hw : (i+1)*hw]
		byID := map[int32]int{} // instance id → index in out
		for p, id := range ins {
			if id == 0 {
				continue
			}
			if id < 0 {
				return nil, fmt.Errorf("image %d pixel %d: negative instance id %d", i, p, id)
			}
			c := int(sem[p])
			j, ok := byID[id]
			if !ok {
				if c == 0 {
					return nil, fmt.Errorf("image %d: instance %d lies on background in semantic.npy", i, id)
				}
				j = len(out)
				byID[id] = j
				out = append(out, metrics.Instance{Image: i, Category: c})
			}
			if out[j].Category != c {
				return nil, fmt.Errorf("image %d: instance %d has pixels of categories %d and %d in semantic.npy", i, id, out[j].Category, c)
			}
			out[j].Pixels = append(out[j].Pixels, int32(p))
		}
	}
	return out, nil
}

// Detect turns one image's per-pixel probabilities (channels × pixels, the
// fcn's K+1 outputs) into scored instances of the argmax class map, the way
// mode (InstancesByClass or InstancesByForeground) says; components are
// 8-connected and those under minPixels pixels are dropped. It also returns
// the class map.
func Detect(image int, probs []float32, h, w, minPixels int, mode string) ([]metrics.Instance, []int, error) {
	hw := h * w
	if hw == 0 || len(probs)%hw != 0 || len(probs) < 2*hw {
		return nil, nil, fmt.Errorf("detect: %d probabilities do not form at least 2 channels of %dx%d", len(probs), h, w)
	}
	c := len(probs) / hw
	classes := make([]int, hw)
	for p := range classes {
		classes[p] = argmax(probs, p, c, hw)
	}
	opt := metrics.ComponentOptions{Width: w, Height: h, Background: 0, Connectivity: metrics.Eight, MinPixels: minPixels}
	switch mode {
	case InstancesByClass:
		dets, err := metrics.Components(image, classes, probs, opt)
		if err != nil {
			return nil, nil, fmt.Errorf("detect: %w", err)
		}
		return dets, classes, nil
	case InstancesByForeground:
		fg := make([]int, hw)
		for p, k := range classes {
			if k != 0 {
				fg[p] = 1
			}
		}
		dets, err := metrics.Components(image, fg, nil, opt)
		if err != nil {
			return nil, nil, fmt.Errorf("detect: %w", err)
		}
		for i := range dets {
			best, bestMean := 0, 0.0
			for k := 1; k < c; k++ {
				var sum float64
				for _, p := range dets[i].Pixels {
					sum += float64(probs[k*hw+int(p)])
				}
				if mean := sum / float64(len(dets[i].Pixels)); best == 0 || mean > bestMean {
					best, bestMean = k, mean
				}
			}
			dets[i].Category, dets[i].Score = best, bestMean
		}
		return dets, classes, nil
	}
	return nil, nil, fmt.Errorf("detect: unknown instances mode %q", mode)
}

// EvaluateSegmentation scores an fcn on d with COCO-style mask AP and
// returns metrics.json and per_category.json. report, if not nil, receives
// progress in images.
func EvaluateSegmentation(ctx context.Context, model *nn.Model, d *format.Segmentation, p Params, report func(done, total int)) (*SegmentationMetrics, []CategoryAP, error) {
	k := len(d.Meta.Classes)
	if err := checkModel(model, true, d.H, d.W, k); err != nil {
		return nil, nil, err
	}
	if d.N == 0 {
		return nil, nil, errors.New("test set has no images")
	}
	gt, err := GroundTruth(d)
	if err != nil {
		return nil, nil, fmt.Errorf("ground truth: %w", err)
	}
	for _, g := range gt {
		if g.Category > k {
			return nil, nil, fmt.Errorf("ground truth: image %d has category %d of %d", g.Image, g.Category, k)
		}
	}
	hw := d.H * d.W
	var dets []metrics.Instance
	correct := 0
	err = predict(ctx, model, d.Images, d.N, hw, p.BatchSize, report, func(lo, n int, probs []float32) error {
		per := (k + 1) * hw
		for i := 0; i < n; i++ {
			img := lo + i
			found, classes, err := Detect(img, probs[i*per:(i+1)*per], d.H, d.W, p.MinPixels, p.Instances)
			if err != nil {
				return fmt.Errorf("image %d: %w", img, err)
			}
			dets = append(dets, found...)
			for px, c := range classes {
				if c == int(d.Semantic[img*hw+px]) {
					correct++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("segment: %w", err)
	}
	cats := make([]int, k)
	groups := map[int]string{}
	for c, name := range d.Meta.Classes {
		cats[c] = c + 1
		if g, ok := lvisLetter(d.Meta.Groups[name]); ok {
			groups[c+1] = g
		}
	}
	res, err := metrics.MaskAP(gt, dets, cats, groups)
	if err != nil {
		return nil, nil, err
	}
	m := &SegmentationMetrics{
		Task: "segmentation", AP: res.AP, AP50: res.AP50, AP75: res.AP75, APr: res.APr, APc: res.APc, APf: res.APf,
		PixelAccuracy: float64(correct) / float64(d.N*hw), Images: d.N, Instances: len(gt), Detections: len(dets),
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
	return m, per, nil
}
