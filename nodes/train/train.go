package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"dagrun/format"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// Params configures a training run. Zero slices take the network's default
// widths.
type Params struct {
	// Arch is "mlp", "cnn", "fcn" or "auto" (cnn for classification, fcn for
	// segmentation).
	Arch     string `yaml:"arch" json:"arch"`
	Hidden   []int  `yaml:"hidden" json:"hidden,omitempty"`
	Channels []int  `yaml:"channels" json:"channels,omitempty"`
	// Optimizer is "sgd" (momentum, L2 weight decay) or "adamw".
	Optimizer   string  `yaml:"optimizer" json:"optimizer"`
	LR          float64 `yaml:"lr" json:"lr"`
	Momentum    float64 `yaml:"momentum" json:"momentum"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	// Warmup is the number of linear warm-up iterations before the cosine
	// decay of the learning rate.
	Warmup     int `yaml:"warmup" json:"warmup"`
	Iterations int `yaml:"iterations" json:"iterations"`
	BatchSize  int `yaml:"batch_size" json:"batch_size"`
	// Sampling is "uniform" (seeded epochs) or "balanced" (category first,
	// then one of its images).
	Sampling string `yaml:"sampling" json:"sampling"`
	// EvalEvery evaluates on the val input every so many iterations (0: only
	// at the end).
	EvalEvery int    `yaml:"eval_every" json:"eval_every"`
	Seed      uint64 `yaml:"seed" json:"seed"`
	// Select says how generated data from the pool input enters the loop.
	Select SelectParams `yaml:"select" json:"select"`
	// PoolFraction is the share of the pool used: per pool dir and per
	// category, only the first ⌈fraction·n⌉ of its n items (in file order),
	// so that the items of a smaller fraction are among those of a larger
	// one and one pool serves every point of a data-amount curve.
	PoolFraction float64 `yaml:"pool_fraction" json:"pool_fraction"`
	// Paste configures instance paste (segmentation with an INSTANCES
	// pool).
	Paste PasteParams `yaml:"paste" json:"paste"`
}

// DefaultParams are the defaults a spec's params override.
func DefaultParams() Params {
	return Params{
		Arch: "auto", Optimizer: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 5e-4,
		Warmup: 20, Iterations: 200, BatchSize: 32, Sampling: "uniform", Select: DefaultSelectParams(),
		PoolFraction: 1, Paste: DefaultPasteParams(),
	}
}

// Validate checks the values that do not depend on the data.
func (p Params) Validate() error {
	var errs []error
	switch p.Arch {
	case "auto", nn.ArchMLP, nn.ArchCNN, nn.ArchFCN:
	default:
		errs = append(errs, fmt.Errorf("arch %q: want auto, mlp, cnn or fcn", p.Arch))
	}
	if p.Optimizer != "sgd" && p.Optimizer != "adamw" {
		errs = append(errs, fmt.Errorf("optimizer %q: want sgd or adamw", p.Optimizer))
	}
	if p.Sampling != "uniform" && p.Sampling != "balanced" {
		errs = append(errs, fmt.Errorf("sampling %q: want uniform or balanced", p.Sampling))
	}
	if !(p.LR > 0) || math.IsInf(p.LR, 0) {
		errs = append(errs, fmt.Errorf("lr %v must be positive", p.LR))
	}
	if p.Momentum < 0 || p.Momentum >= 1 {
		errs = append(errs, fmt.Errorf("momentum %v must be in [0, 1)", p.Momentum))
	}
	if p.WeightDecay < 0 {
		errs = append(errs, fmt.Errorf("weight_decay %v must not be negative", p.WeightDecay))
	}
	if p.Iterations < 1 || p.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("iterations %d and batch_size %d must be positive", p.Iterations, p.BatchSize))
	}
	if p.Warmup < 0 || p.EvalEvery < 0 {
		errs = append(errs, fmt.Errorf("warmup %d and eval_every %d must not be negative", p.Warmup, p.EvalEvery))
	}
	if err := p.Select.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !(p.PoolFraction > 0 && p.PoolFraction <= 1) {
		errs = append(errs, fmt.Errorf("pool_fraction %v must be in (0, 1]", p.PoolFraction))
	}
	if err := p.Paste.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Kind returns the train kind.
func Kind() *nodes.Kind {
	return &nodes.Kind{
		Name:    "train",
		Doc:     "train an mlp, cnn or fcn on a dataset dir (seeded, CPU), optionally with generated data from pool (images, or instances pasted into segmentation scenes) selected by mode none/all/random/filter/offline/bsgal/lookahead",
		Version: 4,
		Inputs: []nodes.Slot{
			{Name: "train", Doc: "the training dataset dir", Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
			{Name: "val", Doc: "a validation dataset dir, evaluated every eval_every iterations and at the end", Optional: true, Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
			{Name: "pool", Doc: "generated data: pools or classification dataset dirs (classification), or INSTANCES dirs of select nodes (segmentation: pasted into the real scenes); each keeps its meta.json \"source\"", Optional: true, Many: true},
			{Name: "scores", Doc: "a score node's output (scores.npy, accepted.npy) for select modes filter and offline", Optional: true},
		},
		Produces: format.TypeModel,
		Outputs:  []string{format.ModelDir, "loss.csv", "val.csv", format.DecisionsFile, "metrics.json", format.GalleryDir},
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

// Step is what a Proposer may know about the current iteration.
type Step struct {
	// It counts from 0 up to Iterations−1.
	It, Iterations int
	// LR is this iteration's learning rate.
	LR float64
	// Model is the network before this iteration's update. A proposer may
	// compute gradients and losses with it but must leave its weights as
	// they were.
	Model *nn.Model
	Env   *nodes.Env
}

// Node is a configured train node.
type Node struct {
	Params Params
	// Proposer, when set, replaces the pool input as the source of
	// generated data (see Proposer); tests and the segmentation paster use
	// it. It is only consulted when Params.Select.Mode is not none.
	Proposer Proposer
}

// Metrics is the content of metrics.json.
type Metrics struct {
	Arch       string `json:"arch"`
	Task       string `json:"task"`
	Iterations int    `json:"iterations"`
	Params     int    `json:"params"`
	// FinalTrainLoss is the mean batch loss over the last tenth of the
	// iterations (at least one); LastTrainLoss the loss of the last batch.
	FinalTrainLoss float64 `json:"final_train_loss"`
	LastTrainLoss  float64 `json:"last_train_loss"`
	// Val* are set when a val input is given: mean loss and accuracy (of
	// images, or of pixels for segmentation) of the final model.
	ValLoss     *float64 `json:"val_loss,omitempty"`
	ValAccuracy *float64 `json:"val_accuracy,omitempty"`
	// Select is the selection mode. Proposed counts the iterations that
	// were offered a generated part, Accepted those that trained on it;
	// AcceptRate is their ratio (absent when nothing was proposed).
	Select     string   `json:"select"`
	Proposed   int      `json:"proposed"`
	Accepted   int      `json:"accepted"`
	AcceptRate *float64 `json:"accept_rate,omitempty"`
	// AcceptBySource is, per generator source, the fraction of its drawn
	// items that were in accepted batches; AcceptByGroup the same per
	// frequency group of the items' categories (when the train set has
	// groups). In modes filter and offline, which select before training
	// (every drawn batch is accepted), AcceptRate, AcceptBySource and
	// AcceptByGroup are instead the fractions of pool items kept.
	AcceptBySource map[string]float64 `json:"accept_by_source,omitempty"`
	AcceptByGroup  map[string]float64 `json:"accept_by_group,omitempty"`
}

// Run trains, then writes model/, loss.csv, decisions.csv, metrics.json,
// with a val input val.csv, and, when generated items were met, gallery/
// into env.OutDir.
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	p := n.Params
	trainDir := env.Input("train")
	if trainDir == "" {
		return errors.New("train: no train input")
	}
	ds, sizes, err := loadDataset(trainDir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var val *learn.Dataset
	if dir := env.Input("val"); dir != "" {
		if val, _, err = loadDataset(dir); err != nil {
			return fmt.Errorf("train: val: %w", err)
		}
		if val.Segmentation != ds.Segmentation || val.H != ds.H || val.W != ds.W || len(val.Classes) != len(ds.Classes) {
			return fmt.Errorf("train: val set (%dx%d, %d classes) does not match the train set (%dx%d, %d classes)",
				val.H, val.W, len(val.Classes), ds.H, ds.W, len(ds.Classes))
		}
	}
	arch := p.Arch
	if arch == "auto" {
		arch = nn.ArchCNN
		if ds.Segmentation {
			arch = nn.ArchFCN
		}
	}
	if ds.Segmentation != (arch == nn.ArchFCN) {
		return fmt.Errorf("train: arch %q does not fit a %s dataset (segmentation takes fcn, classification mlp or cnn)", arch, taskName(ds))
	}
	model, err := nn.New(nn.Config{Arch: arch, Classes: len(ds.Classes), H: ds.H, W: ds.W, Hidden: p.Hidden, Channels: p.Channels, Seed: p.Seed})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	sampler, err := learn.NewSampler(ds, p.Sampling, p.Seed)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var opt nn.Optimizer = &nn.SGD{Momentum: p.Momentum, WeightDecay: p.WeightDecay}
	if p.Optimizer == "adamw" {
		opt = &nn.AdamW{WeightDecay: p.WeightDecay}
	}

	proposer := n.Proposer
	var pre *preselection
	switch {
	case proposer != nil || !p.Select.usesPool():
	case ds.Segmentation:
		if proposer, err = n.pasteProposer(ds, sizes, env); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	default:
		if proposer, pre, err = n.poolProposer(ds, env); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	sel, err := newSelection(p.Select, proposer, model, ds, p.Iterations, p.Seed)
	if err != nil {
		return fmt.Errorf("train: select: %w", err)
	}
	dlog := newDecisionLog(ds.Groups)
	dlog.pre = pre
	var gal *gallery
	if proposer != nil && p.Select.usesPool() {
		gal = newGallery(proposer)
		gal.dropped(pre)
	}

	var lossCSV, valCSV bytes.Buffer
	lossCSV.WriteString("iteration,loss\n")
	valCSV.WriteString("iteration,val_loss,val_accuracy\n")
	losses := make([]float64, 0, p.Iterations)
	var vl, va float64
	for it := 0; it < p.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lr := nn.CosineLR(p.LR, p.Warmup, p.Iterations, it)
		batch := ds.Batch(sampler.Next(p.BatchSize))
		res, err := sel.step(ctx, Step{It: it, Iterations: p.Iterations, LR: lr, Model: model, Env: env}, batch)
		if err != nil {
			return fmt.Errorf("train: iteration %d: %w", it+1, err)
		}
		loss := res.loss
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("train: iteration %d: loss is %v (lower lr %v?)", it+1, loss, p.LR)
		}
		if err := model.Step(opt, res.grad, lr); err != nil {
			return fmt.Errorf("train: iteration %d: %w", it+1, err)
		}
		dlog.add(it+1, res)
		gal.add(it+1, res)
		losses = append(losses, loss)
		fmt.Fprintf(&lossCSV, "%d,%s\n", it+1, ftoa(loss))
		last := it == p.Iterations-1
		if val != nil && (last || p.EvalEvery > 0 && (it+1)%p.EvalEvery == 0) {
			if vl, va, err = Evaluate(ctx, model, val, p.BatchSize); err != nil {
				return fmt.Errorf("train: iteration %d: val: %w", it+1, err)
			}
			fmt.Fprintf(&valCSV, "%d,%s,%s\n", it+1, ftoa(vl), ftoa(va))
		}
		env.Report(it+1, p.Iterations)
	}

	tail := max(1, len(losses)/10)
	m := Metrics{Arch: arch, Task: taskName(ds), Iterations: p.Iterations, Params: model.NumParams(),
		FinalTrainLoss: mean(losses[len(losses)-tail:]), LastTrainLoss: losses[len(losses)-1], Select: p.Select.Mode}
	dlog.fill(&m)
	if val != nil {
		m.ValLoss, m.ValAccuracy = &vl, &va
	}
	if err := model.Save(filepath.Join(env.OutDir, format.ModelDir)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := gal.write(env.OutDir); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	dec, err := dlog.bytes()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	files := map[string][]byte{"loss.csv": lossCSV.Bytes(), format.DecisionsFile: dec}
	if val != nil {
		files["val.csv"] = valCSV.Bytes()
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("train: encode metrics: %w", err)
	}
	files["metrics.json"] = append(mb, '\n')
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(env.OutDir, name), b, 0o644); err != nil {
			return fmt.Errorf("train: write %q: %w", name, err)
		}
	}
	return nil
}

// Evaluate returns the mean loss and the accuracy (of images, or of pixels
// for segmentation) of model on every image of d, in batches of bs.
func Evaluate(ctx context.Context, model *nn.Model, d *learn.Dataset, bs int) (loss, acc float64, err error) {
	var correct, total int
	var lossSum float64
	c := model.Config().Outputs()
	for lo := 0; lo < d.N; lo += bs {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		idx := make([]int, 0, bs)
		for i := lo; i < min(d.N, lo+bs); i++ {
			idx = append(idx, i)
		}
		b := d.Batch(idx)
		l, probs, err := model.Evaluate(b.X, b.Y, nil)
		if err != nil {
			return 0, 0, err
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
	}
	return lossSum / float64(total), float64(correct) / float64(total), nil
}

func taskName(d *learn.Dataset) string {
	if d.Segmentation {
		return "segmentation"
	}
	return "classification"
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// ftoa formats a float the shortest way that reads back exactly.
func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
