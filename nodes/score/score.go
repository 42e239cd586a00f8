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
		Doc:     "offline BSGAL: score every generated item (or batch) once by its gradient against a fixed model's real gradient; keep a top fraction or those over a threshold",
		Version: 2,
		Inputs: []nodes.Slot{
			{Name: "model", Doc: "a train node trained on real data (its model/ folder)", Accepts: []string{format.TypeModel}},
			{Name: "real", Doc: "the real classification dataset dir", Accepts: []string{format.TypeClassification}},
			{Name: "pool", Doc: "generated classification dataset dirs (meta.json may name a \"source\")", Many: true},
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

// Run scores the pool and writes scores.npy, accepted.npy and metrics.json.
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	p := n.Params
	modelDir, realDir, poolDirs := env.Input("model"), env.Input("real"), env.Inputs["pool"]
	if modelDir == "" || realDir == "" || len(poolDirs) == 0 {
		return errors.New("score: model, real and pool inputs are required")
	}
	model, err := nn.Load(format.ResolveModel(modelDir))
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	real, err := loadReal(realDir)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	pool, err := format.LoadPools(poolDirs)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	cfg := model.Config()
	if cfg.Segmentation() || cfg.H != real.H || cfg.W != real.W || cfg.Classes != len(real.Classes) ||
		pool.H != real.H || pool.W != real.W || len(pool.Classes) != len(real.Classes) {
		return fmt.Errorf("score: model (%s, %dx%d, %d classes), real set (%dx%d, %d classes) and pool (%dx%d, %d classes) must be one classification task",
			cfg.Arch, cfg.H, cfg.W, cfg.Classes, real.H, real.W, len(real.Classes), pool.H, pool.W, len(pool.Classes))
	}
	_, gR, err := RealGradient(ctx, model, real, p.RealBatch, p.Subset)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	type unit struct{ lo, hi int }
	var units []unit
	for k := range pool.Sources {
		for lo := pool.Start[k]; lo < pool.Start[k+1]; lo += p.Batch {
			units = append(units, unit{lo, min(pool.Start[k+1], lo+p.Batch)})
		}
	}
	unitScores := make([]float64, len(units))
	itemScores := make([]float64, pool.N())
	for u, un := range units {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := make([]int, 0, un.hi-un.lo)
		for i := un.lo; i < un.hi; i++ {
			idx = append(idx, i)
		}
		b := learn.Gather(pool.Images, pool.H*pool.W, pool.Labels, 1, idx)
		_, g, err := model.FlatGrad(b.X, b.Y, nil, p.Subset)
		if err != nil {
			return fmt.Errorf("score: items %d to %d: %w", un.lo, un.hi-1, err)
		}
		unitScores[u] = bsgal.Score(gR, g, p.Normalize)
		for i := un.lo; i < un.hi; i++ {
			itemScores[i] = unitScores[u]
		}
		env.Report(u+1, len(units))
	}
	var keptUnits []int
	if p.Keep == KeepTop {
		keptUnits = bsgal.TopFraction(unitScores, p.Top)
	} else {
		keptUnits = bsgal.AboveThreshold(unitScores, p.Tau)
	}
	accepted := []int64{}
	kept, total := map[string]int{}, map[string]int{}
	for i := range pool.N() {
		total[pool.Sources[pool.Source[i]]]++
	}
	for _, u := range keptUnits {
		for i := units[u].lo; i < units[u].hi; i++ {
			accepted = append(accepted, int64(i))
			kept[pool.Sources[pool.Source[i]]]++
		}
	}
	m := Metrics{Items: pool.N(), Units: len(units), Accepted: len(accepted), AcceptRate: float64(len(accepted)) / float64(pool.N()),
		AcceptBySource: map[string]float64{}, RealGradNorm: math.Sqrt(bsgal.Dot(gR, gR))}
	for src, n := range total {
		m.AcceptBySource[src] = float64(kept[src]) / float64(n)
	}
	if err := format.SaveScores(env.OutDir, itemScores, accepted); err != nil {
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
