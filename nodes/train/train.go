package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// Params configures a training run.
type Params struct {
	Arch        string  `yaml:"arch" json:"arch" doc:"network: mlp or cnn (classification), fcn (segmentation), or auto (cnn for a classification train set, fcn for a segmentation one)"`
	Hidden      []int   `yaml:"hidden" json:"hidden,omitempty" doc:"mlp: widths of the hidden layers (empty: [128])"`
	Channels    []int   `yaml:"channels" json:"channels,omitempty" doc:"cnn and fcn: the two conv widths [c1, c2] (empty: [8, 16] for cnn, [16, 32] for fcn)"`
	Optimizer   string  `yaml:"optimizer" json:"optimizer" doc:"sgd (heavy-ball momentum, weight decay added to the gradient) or adamw (decoupled weight decay, betas 0.9 and 0.999)"`
	LR          float64 `yaml:"lr" json:"lr" doc:"peak learning rate, reached after warmup and decayed by a half cosine to 0 at the last iteration; must be positive"`
	Momentum    float64 `yaml:"momentum" json:"momentum" doc:"sgd: momentum in [0, 1) (adamw ignores it)"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay" doc:"weight decay coefficient, not negative (sgd: L2 term in the gradient; adamw: decoupled)"`
	Warmup      int     `yaml:"warmup" json:"warmup" doc:"iterations of linear learning-rate warm-up from lr/warmup to lr (0: none)"`
	Iterations  int     `yaml:"iterations" json:"iterations" doc:"optimizer steps, one real batch each"`
	BatchSize   int     `yaml:"batch_size" json:"batch_size" doc:"real images per iteration (also the batch size of val evaluation)"`
	Sampling    string  `yaml:"sampling" json:"sampling" doc:"how real batches are drawn: uniform (seeded shuffled epochs) or balanced (a uniformly random category, then one of its images, with replacement)"`
	EvalEvery   int     `yaml:"eval_every" json:"eval_every" doc:"evaluate on the val input every so many iterations, into val.csv (0: only after the last; the last is always evaluated)"`
	// Evals: a fixed number of points whatever the budget, so that one
	// spec can sweep iterations and keep curves of equal resolution.
	Evals int `yaml:"evals" json:"evals" doc:"also evaluate on the val input at this many evenly spaced iterations, the k-th at ⌈k·iterations/evals⌉ (the last is the last iteration), whatever the budget; 0: eval_every alone"`
	// Keep: nothing is ever chosen on a test set; the val input is the
	// only data a checkpoint is chosen on.
	Keep string `yaml:"keep" json:"keep" doc:"which weights are the model output: last (after the last iteration) or best (of the val evaluations, the one with the highest val AP for segmentation or val accuracy for classification; ties keep the earlier; needs the val input)"`
	// Val configures how a segmentation val set's AP is computed.
	Val ValParams `yaml:"val" json:"val"`
	// Augment transforms the real training images (augment.go).
	Augment AugmentParams `yaml:"augment" json:"augment"`
	Seed    uint64        `yaml:"seed" json:"seed" doc:"seeds weight init, real batches, augmentation and every draw of select, matched real images and paste (each from its own stream)"`
	// Select says how generated data from the pool input enters the loop.
	Select       SelectParams `yaml:"select" json:"select"`
	PoolFraction float64      `yaml:"pool_fraction" json:"pool_fraction" doc:"share of the pool used, in (0, 1]: per pool dir and category the first ⌈fraction·n⌉ of its n items in file order, so smaller fractions use a subset of larger ones"`
	// Paste configures instance paste (segmentation with an INSTANCES
	// pool).
	Paste PasteParams `yaml:"paste" json:"paste"`
}

// DefaultParams are the defaults a spec's params override.
func DefaultParams() Params {
	return Params{
		Arch: "auto", Optimizer: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 5e-4,
		Warmup: 20, Iterations: 200, BatchSize: 32, Sampling: "uniform", Keep: KeepLast, Val: DefaultValParams(),
		Select: DefaultSelectParams(), PoolFraction: 1, Paste: DefaultPasteParams(),
	}
}

// Validate implements nodes.Validator: it checks the values that do not
// depend on the data.
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
	if p.Warmup < 0 || p.EvalEvery < 0 || p.Evals < 0 {
		errs = append(errs, fmt.Errorf("warmup %d, eval_every %d and evals %d must not be negative", p.Warmup, p.EvalEvery, p.Evals))
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
	if p.Keep != KeepLast && p.Keep != KeepBest {
		errs = append(errs, fmt.Errorf("keep %q: want last or best", p.Keep))
	}
	if err := p.Val.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := p.Augment.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Kind returns the train kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "train",
		Doc:     "train an mlp, cnn or fcn on a dataset dir (seeded, CPU; real images optionally augmented), optionally with generated data from pool (images, or instances pasted into segmentation scenes) selected by mode none/all/random/filter/offline/bsgal/lookahead; validated on val (mask AP or accuracy), keeping the last or the best checkpoint",
		Version: 7,
		Inputs: []nodes.Slot{
			{Name: "train", Doc: "the training dataset dir", Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
			{Name: "val", Doc: "a validation dataset dir, evaluated every eval_every iterations and after the last (loss, accuracy and, for segmentation, mask AP as evaluate computes it), into val.csv; keep best chooses the model on it", Optional: true, Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
			{Name: "pool", Doc: "generated data: pools or classification dataset dirs (classification), or INSTANCES dirs of select nodes (segmentation: pasted into the real scenes); each keeps its meta.json \"source\"", Optional: true, Many: true},
			{Name: "scores", Doc: "a score node's output (scores.npy, accepted.npy) for select modes filter and offline", Optional: true},
		},
		Produces: format.TypeModel,
		Outputs:  []string{format.ModelDir, format.LossFile, format.ValFile, format.DecisionsFile, format.ItemScoresFile, "metrics.json", format.GalleryDir},
		CPU:      2,
	}, DefaultParams, func(_ nodes.Build, p Params) (nodes.Node, error) {
		return &Node{Params: p}, nil
	})
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
	// Keep is the keep param. With a val input, KeptIteration is the
	// iteration after which the output model's weights were taken (the
	// last, or the best val evaluation), and the Val* fields are that
	// model's val metrics, the row of val.csv at KeptIteration: mean loss
	// and accuracy (of images, or of pixels for segmentation) and, for
	// segmentation, mask AP.
	Keep          string   `json:"keep"`
	KeptIteration *int     `json:"kept_iteration,omitempty"`
	ValLoss       *float64 `json:"val_loss,omitempty"`
	ValAccuracy   *float64 `json:"val_accuracy,omitempty"`
	ValAP         *float64 `json:"val_AP,omitempty"`
	ValAP50       *float64 `json:"val_AP50,omitempty"`
	ValAP75       *float64 `json:"val_AP75,omitempty"`
	ValAPr        *float64 `json:"val_APr,omitempty"`
	ValAPc        *float64 `json:"val_APc,omitempty"`
	ValAPf        *float64 `json:"val_APf,omitempty"`
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
	var val *validator
	if dir := env.Input("val"); dir != "" {
		if val, err = newValidator(dir, p.Val, ds); err != nil {
			return fmt.Errorf("train: val: %w", err)
		}
	} else if p.Keep == KeepBest {
		return errors.New("train: keep best needs a val input (a checkpoint is never chosen on the train or test set)")
	}
	aug, err := newAugmenter(p.Augment, ds, p.Seed)
	if err != nil {
		return fmt.Errorf("train: %w", err)
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

	if p.Select.probesItems() && ds.Segmentation {
		return errors.New("train: select.item_scores probes classification pools only (the instances pasted into a scene share one gradient)")
	}
	proposer := n.Proposer
	var pre *preselection
	switch {
	case proposer != nil || !p.Select.usesPool():
	case ds.Segmentation:
		if proposer, pre, err = n.pasteProposer(ds, sizes, env); err != nil {
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

	lossRows := make([]format.LossRow, 0, p.Iterations)
	var valRows []format.ValRow
	kept := -1         // index in valRows of the kept evaluation
	var best []float64 // the kept weights (keep best)
	for it := 0; it < p.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lr := nn.CosineLR(p.LR, p.Warmup, p.Iterations, it)
		batch := ds.Batch(sampler.Next(p.BatchSize))
		// Augmented before anything is proposed: the paster copies, and a
		// rejected iteration trains on, the augmented scenes.
		aug.apply(&batch)
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
		lossRows = append(lossRows, format.LossRow{Iteration: it + 1, Loss: loss})
		if val != nil && p.evalAfter(it+1) {
			row, err := val.eval(ctx, model, p.BatchSize, it+1)
			if err != nil {
				return fmt.Errorf("train: iteration %d: val: %w", it+1, err)
			}
			valRows = append(valRows, row)
			switch {
			case p.Keep == KeepLast:
				kept = len(valRows) - 1
			case kept < 0 || val.metric(row) > val.metric(valRows[kept]):
				kept, best = len(valRows)-1, model.FlatParams64()
			}
		}
		env.Report(it+1, p.Iterations)
	}

	losses := make([]float64, len(lossRows))
	for i, r := range lossRows {
		losses[i] = r.Loss
	}
	tail := max(1, len(losses)/10)
	m := Metrics{Arch: arch, Task: taskName(ds), Iterations: p.Iterations, Params: model.NumParams(),
		FinalTrainLoss: mean(losses[len(losses)-tail:]), LastTrainLoss: losses[len(losses)-1], Select: p.Select.Mode, Keep: p.Keep}
	dlog.fill(&m)
	if val != nil {
		r := valRows[kept]
		m.KeptIteration, m.ValLoss, m.ValAccuracy = &r.Iteration, &r.Loss, &r.Accuracy
		if ds.Segmentation {
			m.ValAP, m.ValAP50, m.ValAP75, m.ValAPr, m.ValAPc, m.ValAPf = &r.AP, &r.AP50, &r.AP75, &r.APr, &r.APc, &r.APf
		}
		if best != nil {
			if err := model.SetFlatParams64(best); err != nil {
				return fmt.Errorf("train: restore the best checkpoint: %w", err)
			}
		}
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
	lossCSV, err := format.FormatLoss(lossRows)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	files := map[string][]byte{format.LossFile: lossCSV, format.DecisionsFile: dec}
	if p.Select.probesItems() {
		if files[format.ItemScoresFile], err = format.WriteItemScores(dlog.items); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if val != nil {
		if files[format.ValFile], err = format.FormatVal(valRows, ds.Segmentation); err != nil {
			return fmt.Errorf("train: %w", err)
		}
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
	r, err := (&validator{ds: d}).eval(ctx, model, bs, 0)
	return r.Loss, r.Accuracy, err
}

// evalAfter reports whether the val input is evaluated after iteration it
// (1-based): the last, every eval_every-th, and where ⌊it·evals/T⌋ steps
// up, which is at ⌈k·T/evals⌉ for k = 1..evals.
func (p Params) evalAfter(it int) bool {
	T := p.Iterations
	return it == T || p.EvalEvery > 0 && it%p.EvalEvery == 0 ||
		p.Evals > 0 && it*p.Evals/T != (it-1)*p.Evals/T
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
