package train

import (
	"context"
	"errors"
	"fmt"
	"math"

	"dagrun/format"
	"dagrun/lib/learn"
	"dagrun/lib/metrics"
	"dagrun/lib/nn"
)

// Checkpoint choices (Params.Keep).
const (
	KeepLast = "last" // the model after the last iteration
	KeepBest = "best" // the evaluated model with the best validation metric
)

// ValParams is the train kind's `val:` block: how a segmentation val set's
// mask AP is computed. Its fields mirror the evaluate kind's params of the
// same names, and the AP is computed by the same code
// (metrics.SegmentationEval), so a val AP equals the AP evaluate reports
// for that model on that set with those params.
type ValParams struct {
	Instances string `yaml:"instances" json:"instances" doc:"segmentation val: how the argmax class map becomes instances, as evaluate's instances: class (each 8-connected region of one category) or foreground (each 8-connected non-background region, labelled with its most probable category)"`
	MinPixels int    `yaml:"min_pixels" json:"min_pixels" doc:"segmentation val: drop predicted instances of fewer pixels, as evaluate's min_pixels (0 keeps every one)"`
	Protocol  string `yaml:"protocol" json:"protocol" doc:"segmentation val: the detection limit of mask AP, as evaluate's protocol: coco or lvis"`
}

// DefaultValParams are evaluate's defaults.
func DefaultValParams() ValParams {
	return ValParams{Instances: metrics.InstancesByClass, Protocol: string(metrics.COCO)}
}

// Validate checks the block's values.
func (v ValParams) Validate() error {
	var errs []error
	if v.Instances != metrics.InstancesByClass && v.Instances != metrics.InstancesByForeground {
		errs = append(errs, fmt.Errorf("val: instances %q: want %q or %q", v.Instances, metrics.InstancesByClass, metrics.InstancesByForeground))
	}
	if v.MinPixels < 0 {
		errs = append(errs, fmt.Errorf("val: min_pixels %d must not be negative", v.MinPixels))
	}
	if v.Protocol != string(metrics.COCO) && v.Protocol != string(metrics.LVIS) {
		errs = append(errs, fmt.Errorf("val: protocol %q: want %q or %q", v.Protocol, metrics.COCO, metrics.LVIS))
	}
	return errors.Join(errs...)
}

// validator evaluates a model on the val input.
type validator struct {
	p  ValParams
	ds *learn.Dataset
	// Segmentation val sets: the semantic map, the ground-truth instances
	// (from instances.npy, in annotations.json's order) and the LVIS
	// letter of each semantic label.
	sem    []uint8
	gt     []metrics.Instance
	groups map[int]string
}

// newValidator reads the val dir and checks it against the train set.
func newValidator(dir string, p ValParams, train *learn.Dataset) (*validator, error) {
	ds, _, err := loadDataset(dir)
	if err != nil {
		return nil, err
	}
	if ds.Segmentation != train.Segmentation || ds.H != train.H || ds.W != train.W || len(ds.Classes) != len(train.Classes) {
		return nil, fmt.Errorf("val set (%dx%d, %d classes) does not match the train set (%dx%d, %d classes)",
			ds.H, ds.W, len(ds.Classes), train.H, train.W, len(train.Classes))
	}
	v := &validator{p: p, ds: ds}
	if !ds.Segmentation {
		return v, nil
	}
	s, err := format.LoadSegmentation(dir)
	if err != nil {
		return nil, err
	}
	if v.gt, err = metrics.GroundTruth(s.Semantic, s.Instances, s.N, s.H, s.W); err != nil {
		return nil, fmt.Errorf("val set %q: %w", dir, err)
	}
	v.sem, v.groups = s.Semantic, map[int]string{}
	for c, name := range s.Meta.Classes {
		if g, ok := metrics.GroupLetter(s.Meta.Groups[name]); ok {
			v.groups[c+1] = g
		}
	}
	return v, nil
}

// eval returns the val row of model after iteration it: the mean loss and
// the accuracy (of images, or of pixels) over every val image in batches
// of bs, and for a segmentation set read by newValidator its mask AP.
func (v *validator) eval(ctx context.Context, model *nn.Model, bs, it int) (format.ValRow, error) {
	nan := math.NaN()
	row := format.ValRow{Iteration: it, AP: nan, AP50: nan, AP75: nan, APr: nan, APc: nan, APf: nan}
	d := v.ds
	var ev *metrics.SegmentationEval
	if v.sem != nil {
		ev = &metrics.SegmentationEval{H: d.H, W: d.W, Categories: len(d.Classes), Groups: v.groups,
			MinPixels: v.p.MinPixels, Mode: v.p.Instances, Protocol: metrics.Protocol(v.p.Protocol)}
	}
	var correct, total int
	var lossSum float64
	c := model.Config().Outputs()
	hw := d.H * d.W
	for lo := 0; lo < d.N; lo += bs {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		idx := make([]int, 0, bs)
		for i := lo; i < min(d.N, lo+bs); i++ {
			idx = append(idx, i)
		}
		b := d.Batch(idx)
		l, probs, err := model.Evaluate(b.X, b.Y, nil)
		if err != nil {
			return row, err
		}
		lossSum += l * float64(len(b.Y))
		s := len(b.Y) / len(idx)
		for j, y := range b.Y {
			i, px := j/s, j%s
			best := 0
			for k := 1; k < c; k++ {
				if probs[(i*c+k)*s+px] > probs[(i*c+best)*s+px] {
					best = k
				}
			}
			if best == y {
				correct++
			}
			total++
		}
		if ev != nil {
			per := c * hw
			for i, img := range idx {
				if err := ev.Add(img, probs[i*per:(i+1)*per], v.sem[img*hw:(img+1)*hw]); err != nil {
					return row, err
				}
			}
		}
	}
	row.Loss, row.Accuracy = lossSum/float64(total), float64(correct)/float64(total)
	if ev != nil {
		sc, err := ev.Score(v.gt)
		if err != nil {
			return row, err
		}
		row.AP, row.AP50, row.AP75, row.APr, row.APc, row.APf = sc.AP, sc.AP50, sc.AP75, sc.APr, sc.APc, sc.APf
	}
	return row, nil
}

// metric is the validation metric keep: best compares: AP for a
// segmentation set, accuracy for a classification one.
func (v *validator) metric(r format.ValRow) float64 {
	if v.ds.Segmentation {
		return r.AP
	}
	return r.Accuracy
}
