package score

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/bsgal"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// Keep rules (Params.Keep).
const (
	KeepTop       = "top"
	KeepThreshold = "threshold"
)

// Params configures a score node.
type Params struct {
	Batch     int      `yaml:"batch" json:"batch" doc:"consecutive items of one pool dir scored together as one unit, by the gradient of their mean loss (1: every item alone); a unit is kept or dropped whole"`
	Normalize bool     `yaml:"normalize" json:"normalize" doc:"score by the cosine between a unit's gradient and the real gradient (true) or by their dot product (false)"`
	RealBatch int      `yaml:"real_batch" json:"real_batch" doc:"real images per chunk when computing the real gradient (a memory bound; the gradient is over all real images either way, up to float rounding)"`
	Subset    []string `yaml:"subset" json:"subset,omitempty" doc:"score on the gradient of these model parameters only, named like conv1.weight, fc.bias, out.weight (empty: all parameters)"`
	Keep      string   `yaml:"keep" json:"keep" doc:"top (keep the top fraction of units by score) or threshold (keep units scoring at least tau)"`
	Top       float64  `yaml:"top" json:"top" doc:"keep top: the fraction of units kept, in [0, 1]: the round(top·units) highest scores, ties going to the earlier unit"`
	Tau       float64  `yaml:"tau" json:"tau" doc:"keep threshold: the score a unit needs to be kept (default -0.05, BSGAL's fixed threshold for the cosine)"`
}

// DefaultParams are the defaults a spec's params override.
func DefaultParams() Params {
	return Params{Batch: 1, Normalize: true, RealBatch: 256, Keep: KeepTop, Top: 0.5, Tau: bsgal.ReferenceFixedTau}
}

// Validate implements nodes.Validator.
func (p Params) Validate() error {
	var errs []error
	if p.Batch < 1 || p.RealBatch < 1 {
		errs = append(errs, fmt.Errorf("batch %d and real_batch %d must be positive", p.Batch, p.RealBatch))
	}
	switch p.Keep {
	case KeepTop:
		if !(p.Top >= 0 && p.Top <= 1) {
			errs = append(errs, fmt.Errorf("top %v must be a fraction in [0, 1]", p.Top))
		}
	case KeepThreshold:
		if math.IsNaN(p.Tau) {
			errs = append(errs, errors.New("tau must be a number"))
		}
	default:
		errs = append(errs, fmt.Errorf("keep %q: want top or threshold", p.Keep))
	}
	return errors.Join(errs...)
}

// Kind returns the score kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "score",
		Doc:     "offline BSGAL: score every generated item (or batch) once by its gradient against a fixed model's real gradient; keep a top fraction or those over a threshold. Classification pools against a classifier, or instances dirs against an fcn (each item alone in a scene of the real set's size, at its category's mean real size, loss on its pixels)",
		Version: 2,
		Inputs: []nodes.Slot{
			{Name: "model", Doc: "a train node trained on real data (its model/ folder)", Accepts: []string{format.TypeModel}},
			{Name: "real", Doc: "the real dataset dir: classification, or segmentation (then the pool holds instances dirs and the model is an fcn)", Accepts: []string{format.TypeClassification, format.TypeSegmentation}},
			{Name: "pool", Doc: "generated classification dataset dirs, or instances dirs against a segmentation real set (meta.json may name a \"source\")", Many: true},
		},
		Produces: format.TypeScores,
		Outputs:  []string{format.ScoresFile, format.AcceptedFile, "metrics.json"},
		CPU:      2,
	}, DefaultParams, func(_ nodes.Build, p Params) (nodes.Node, error) {
		return &Node{Params: p}, nil
	})
}

// Node is a configured score node.
type Node struct{ Params Params }

// Metrics is the score node's metrics.json.
type Metrics struct {
	Items    int `json:"items"`
	Units    int `json:"units"`
	Accepted int `json:"accepted"`
	// AcceptRate is Accepted/Items; AcceptBySource the same per pool
	// source.
	AcceptRate     float64            `json:"accept_rate"`
	AcceptBySource map[string]float64 `json:"accept_by_source"`
	// RealGradNorm is ‖∇L_R‖ of the fixed model.
	RealGradNorm float64 `json:"real_grad_norm"`
}

// RealGradient returns the mean loss and the gradient of the mean loss of
// model over every image of d, from chunks of at most chunk images
// weighted by their size.
func RealGradient(ctx context.Context, model *nn.Model, d *learn.Dataset, chunk int, subset []string) (float64, []float32, error) {
	var sum []float64
	var loss float64
	for lo := 0; lo < d.N; lo += chunk {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		idx := make([]int, 0, chunk)
		for i := lo; i < min(d.N, lo+chunk); i++ {
			idx = append(idx, i)
		}
		b := d.Batch(idx)
		l, g, err := model.FlatGrad(b.X, b.Y, nil, subset)
		if err != nil {
			return 0, nil, fmt.Errorf("real gradient: %w", err)
		}
		if sum == nil {
			sum = make([]float64, len(g))
		}
		w := float64(len(idx)) / float64(d.N)
		for i, v := range g {
			sum[i] += w * float64(v)
		}
		loss += w * l
	}
	out := make([]float32, len(sum))
	for i, v := range sum {
		out[i] = float32(v)
	}
	return loss, out, nil
}

// scored is what scoring a pool gives: per item its score and source,
// per unit its score and its items (ascending, units in item order), and
// ‖∇L_R‖.
type scored struct {
	items    []float64
	source   []string
	units    []float64
	members  [][]int
	gradNorm float64
}

// Run scores the pool and writes scores.npy, accepted.npy and metrics.json.
// A segmentation model and real set score instances dirs (instanceUnits);
// otherwise a classification pool is scored (classificationUnits).
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	modelDir, realDir, poolDirs := env.Input("model"), env.Input("real"), env.Inputs["pool"]
	if modelDir == "" || realDir == "" || len(poolDirs) == 0 {
		return errors.New("score: model, real and pool inputs are required")
	}
	model, err := nn.Load(format.ResolveModel(modelDir))
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	task, err := format.DatasetTask(realDir)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	var sc *scored
	if task == format.TypeSegmentation {
		sc, err = n.instanceUnits(ctx, env, model, realDir, poolDirs)
	} else {
		sc, err = n.classificationUnits(ctx, env, model, realDir, poolDirs)
	}
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	return n.write(env, sc)
}

// classificationUnits scores a classification pool: units are batch
// consecutive items of one pool dir.
func (n *Node) classificationUnits(ctx context.Context, env *nodes.Env, model *nn.Model, realDir string, poolDirs []string) (*scored, error) {
	p := n.Params
	real, err := loadReal(realDir)
	if err != nil {
		return nil, err
	}
	pool, err := format.LoadPools(poolDirs)
	if err != nil {
		return nil, err
	}
	cfg := model.Config()
	if cfg.Segmentation() || cfg.H != real.H || cfg.W != real.W || cfg.Classes != len(real.Classes) ||
		pool.H != real.H || pool.W != real.W || len(pool.Classes) != len(real.Classes) {
		return nil, fmt.Errorf("model (%s, %dx%d, %d classes), real set (%dx%d, %d classes) and pool (%dx%d, %d classes) must be one classification task",
			cfg.Arch, cfg.H, cfg.W, cfg.Classes, real.H, real.W, len(real.Classes), pool.H, pool.W, len(pool.Classes))
	}
	_, gR, err := RealGradient(ctx, model, real, p.RealBatch, p.Subset)
	if err != nil {
		return nil, err
	}
	type unit struct{ lo, hi int }
	var units []unit
	for k := range pool.Sources {
		for lo := pool.Start[k]; lo < pool.Start[k+1]; lo += p.Batch {
			units = append(units, unit{lo, min(pool.Start[k+1], lo+p.Batch)})
		}
	}
	out := &scored{items: make([]float64, pool.N()), source: make([]string, pool.N()), units: make([]float64, len(units)),
		members: make([][]int, len(units)), gradNorm: math.Sqrt(bsgal.Dot(gR, gR))}
	for i := range pool.N() {
		out.source[i] = pool.Sources[pool.Source[i]]
	}
	for u, un := range units {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := make([]int, 0, un.hi-un.lo)
		for i := un.lo; i < un.hi; i++ {
			idx = append(idx, i)
		}
		b := learn.Gather(pool.Images, pool.H*pool.W, pool.Labels, 1, idx)
		_, g, err := model.FlatGrad(b.X, b.Y, nil, p.Subset)
		if err != nil {
			return nil, fmt.Errorf("items %d to %d: %w", un.lo, un.hi-1, err)
		}
		out.units[u] = bsgal.Score(gR, g, p.Normalize)
		for _, i := range idx {
			out.items[i] = out.units[u]
		}
		out.members[u] = idx
		env.Report(u+1, len(units))
	}
	return out, nil
}

// write keeps the top fraction of units or those over the threshold and
// writes scores.npy, accepted.npy and metrics.json.
func (n *Node) write(env *nodes.Env, sc *scored) error {
	p := n.Params
	var keptUnits []int
	if p.Keep == KeepTop {
		keptUnits = bsgal.TopFraction(sc.units, p.Top)
	} else {
		keptUnits = bsgal.AboveThreshold(sc.units, p.Tau)
	}
	accepted := []int64{}
	kept, total := map[string]int{}, map[string]int{}
	for _, src := range sc.source {
		total[src]++
	}
	for _, u := range keptUnits {
		for _, i := range sc.members[u] {
			accepted = append(accepted, int64(i))
			kept[sc.source[i]]++
		}
	}
	nItems := len(sc.items)
	m := Metrics{Items: nItems, Units: len(sc.units), Accepted: len(accepted), AcceptRate: float64(len(accepted)) / float64(nItems),
		AcceptBySource: map[string]float64{}, RealGradNorm: sc.gradNorm}
	for src, c := range total {
		m.AcceptBySource[src] = float64(kept[src]) / float64(c)
	}
	if err := format.SaveScores(env.OutDir, sc.items, accepted); err != nil {
		return fmt.Errorf("score: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("score: encode metrics: %w", err)
	}
	if err := os.WriteFile(filepath.Join(env.OutDir, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("score: write metrics: %w", err)
	}
	return nil
}

// loadReal reads the real classification dataset dir.
func loadReal(dir string) (*learn.Dataset, error) {
	task, err := format.DatasetTask(dir)
	if err != nil {
		return nil, err
	}
	if task != format.TypeClassification {
		return nil, fmt.Errorf("real set %q is a %s dataset; the score kind scores classification pools against a classification set", dir, task)
	}
	c, err := format.LoadClassification(dir)
	if err != nil {
		return nil, err
	}
	d, err := learn.Classification(c.Images, c.Labels, c.N, c.H, c.W, c.Meta.Classes, c.Meta.Groups)
	if err != nil {
		return nil, fmt.Errorf("load dataset %q: %w", dir, err)
	}
	return d, nil
}
