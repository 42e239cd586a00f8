package vae

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"dagrun/format"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// TrainParams are the params of the vae-train kind.
type TrainParams struct {
	Latent     int     `yaml:"latent" json:"latent" doc:"dimension of z"`
	Hidden     int     `yaml:"hidden" json:"hidden" doc:"width of the hidden layer of encoder and decoder"`
	Iterations int     `yaml:"iterations" json:"iterations" doc:"Adam steps on the reference corpus"`
	BatchSize  int     `yaml:"batch_size" json:"batch_size" doc:"images per step"`
	LR         float64 `yaml:"lr" json:"lr" doc:"peak Adam learning rate (cosine decay to 0 over each phase)"`
	Beta       float64 `yaml:"beta" json:"beta" doc:"weight of the KL term"`
	Seed       uint64  `yaml:"seed" json:"seed" doc:"seeds init, batches and noise"`
	// FinetuneIterations and FinetuneLR apply only when the finetune input
	// is bound.
	FinetuneIterations int     `yaml:"finetune_iterations" json:"finetune_iterations" doc:"steps on the real training instances when finetune is bound"`
	FinetuneLR         float64 `yaml:"finetune_lr" json:"finetune_lr" doc:"peak learning rate of the fine-tune phase"`
}

// DefaultTrainParams are vae-train's defaults: a model that trains in well
// under a minute on two cores and whose samples a nearest-centroid
// classifier mostly recognizes.
func DefaultTrainParams() TrainParams {
	return TrainParams{
		Latent: 16, Hidden: 128, Iterations: 1000, BatchSize: 64, LR: 2e-3, Beta: 1,
		FinetuneIterations: 300, FinetuneLR: 1e-3,
	}
}

func (p TrainParams) validate() error {
	var errs []error
	if p.Latent < 1 || p.Hidden < 1 {
		errs = append(errs, fmt.Errorf("latent %d and hidden %d must be positive", p.Latent, p.Hidden))
	}
	if p.Iterations < 1 || p.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("iterations %d and batch_size %d must be positive", p.Iterations, p.BatchSize))
	}
	if !(p.LR > 0) || !(p.FinetuneLR > 0) {
		errs = append(errs, fmt.Errorf("lr %v and finetune_lr %v must be positive", p.LR, p.FinetuneLR))
	}
	if !(p.Beta >= 0) {
		errs = append(errs, fmt.Errorf("beta %v must be non-negative", p.Beta))
	}
	if p.FinetuneIterations < 0 {
		errs = append(errs, fmt.Errorf("finetune_iterations %d must be non-negative", p.FinetuneIterations))
	}
	return errors.Join(errs...)
}

// TrainKind trains a class-conditional VAE on a classification dataset (the
// lt-seg reference corpus), optionally fine-tuned on the instances of a
// segmentation training set.
func TrainKind() *nodes.Kind {
	return &nodes.Kind{
		Name:    "vae-train",
		Doc:     "train a class-conditional VAE generator (embedded stand-in for a pretrained generator) on the reference corpus, optionally fine-tuned on real training instances",
		Version: 1,
		Inputs: []nodes.Slot{
			{Name: "data", Doc: "classification dataset dir to train on (e.g. ltseg.reference)", Accepts: []string{format.TypeClassification}},
			{Name: "finetune", Doc: "segmentation dataset dir (e.g. ltseg.train) whose instance crops fine-tune the model", Optional: true, Accepts: []string{format.TypeSegmentation}},
		},
		Produces: format.TypeVAE,
		Outputs:  []string{format.ModelDir, "loss.csv", "metrics.json", format.PreviewFile},
		Params: func() any {
			p := DefaultTrainParams()
			return &p
		},
		CPU: 2,
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*TrainParams)
			if err := p.validate(); err != nil {
				return nil, err
			}
			return &trainNode{p: p}, nil
		},
	}
}

type trainNode struct{ p TrainParams }

// PRNG streams of vae-train, one per purpose, so that changing how many
// draws one purpose makes never shifts another.
const (
	streamBatches  = 0x6261746368 // "batch"
	streamNoise    = 0x6e6f697365 // "noise"
	streamFinetune = 0x66696e65   // "fine"
)

// Run implements nodes.Node.
func (n *trainNode) Run(ctx context.Context, env *nodes.Env) error {
	p := n.p
	ref, err := format.LoadClassification(env.Input("data"))
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if ref.H != ref.W || ref.N == 0 {
		return fmt.Errorf("read data: want square images and at least one, got %d of %dx%d", ref.N, ref.H, ref.W)
	}
	classes := len(ref.Meta.Classes)
	x := ref.Images
	labels := make([]int, ref.N)
	for i, l := range ref.Labels {
		labels[i] = int(l)
	}
	var ftX []uint8
	var ftLabels []int
	if dir := env.Input("finetune"); dir != "" {
		seg, err := format.LoadSegmentation(dir)
		if err != nil {
			return fmt.Errorf("read finetune: %w", err)
		}
		if !slices.Equal(seg.Meta.Classes, ref.Meta.Classes) {
			return fmt.Errorf("read finetune: its classes %q differ from the data's %q", seg.Meta.Classes, ref.Meta.Classes)
		}
		if ftX, ftLabels, err = cropInstances(seg, objectSides(ref, classes), ref.H); err != nil {
			return fmt.Errorf("read finetune: %w", err)
		}
		if len(ftLabels) == 0 {
			return fmt.Errorf("read finetune: %q has no instances", dir)
		}
	}

	vae, err := NewVAE(VAEConfig{Classes: classes, Size: ref.H, Latent: p.Latent, Hidden: p.Hidden, Seed: p.Seed, Names: ref.Meta.Classes})
	if err != nil {
		return err
	}
	total := p.Iterations
	if ftLabels != nil {
		total += p.FinetuneIterations
	}
	var csv bytes.Buffer
	csv.WriteString("phase,iteration,recon,kl,loss\n")
	tr := &trainer{vae: vae, p: p, env: env, csv: &csv, total: total}
	// Uniform over images: the reference corpus is near balanced.
	rng := rand.New(rand.NewPCG(p.Seed, streamBatches))
	pick := func() int { return rng.IntN(ref.N) }
	metrics := map[string]any{"train_images": ref.N, "parameters": vae.NumParams()}
	last, err := tr.phase(ctx, "train", x, labels, pick, p.Iterations, p.LR)
	if err != nil {
		return err
	}
	metrics["recon"], metrics["kl"], metrics["loss"] = last.Recon, last.KL, last.Total
	if vae.prior, err = fitPrior(vae, vae.prior, x, labels); err != nil {
		return err
	}
	if ftLabels != nil {
		// Balanced over the categories present: a rare category's few real
		// instances weigh as much as a frequent one's many.
		byClass := make([][]int, classes)
		for i, l := range ftLabels {
			byClass[l] = append(byClass[l], i)
		}
		var present [][]int
		for _, b := range byClass {
			if len(b) > 0 {
				present = append(present, b)
			}
		}
		frng := rand.New(rand.NewPCG(p.Seed, streamFinetune))
		fpick := func() int {
			b := present[frng.IntN(len(present))]
			return b[frng.IntN(len(b))]
		}
		last, err := tr.phase(ctx, "finetune", ftX, ftLabels, fpick, p.FinetuneIterations, p.FinetuneLR)
		if err != nil {
			return err
		}
		if vae.prior, err = fitPrior(vae, vae.prior, ftX, ftLabels); err != nil {
			return err
		}
		metrics["finetune_instances"] = len(ftLabels)
		metrics["finetune_recon"], metrics["finetune_kl"], metrics["finetune_loss"] = last.Recon, last.KL, last.Total
	}

	if err := vae.Save(filepath.Join(env.OutDir, format.ModelDir)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(env.OutDir, "loss.csv"), csv.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write loss: %w", err)
	}
	b, err := json.MarshalIndent(metrics, "", " ")
	if err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	if err := os.WriteFile(filepath.Join(env.OutDir, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	prev := sampleAll(vae, allClasses(classes), 8, 1, p.Seed)
	if err := prev.Save(filepath.Join(env.OutDir, "preview"), 8); err != nil {
		return err
	}
	// Only the preview image is kept: the model's own samples are vae-sample's job.
	if err := os.Rename(filepath.Join(env.OutDir, "preview", format.PreviewFile), filepath.Join(env.OutDir, format.PreviewFile)); err != nil {
		return fmt.Errorf("write preview: %w", err)
	}
	return os.RemoveAll(filepath.Join(env.OutDir, "preview"))
}

// trainer runs training phases on one VAE, logging each step.
type trainer struct {
	vae   *VAE
	p     TrainParams
	env   *nodes.Env
	csv   *bytes.Buffer
	done  int
	total int
	noise *rand.Rand
}

// lastWindow is how many final steps the reported losses average over.
const lastWindow = 50

// phase takes iters Adam steps (a fresh optimizer, cosine learning rate from
// lr to 0) on batches drawn by pick from xs/labels, and returns the mean
// losses of its last steps.
func (t *trainer) phase(ctx context.Context, name string, xs []uint8, labels []int, pick func() int, iters int, lr float64) (Losses, error) {
	cfg := t.vae.Config()
	if t.noise == nil {
		t.noise = rand.New(rand.NewPCG(t.p.Seed, streamNoise))
	}
	P, bs := cfg.Pixels(), t.p.BatchSize
	x := make([]float32, bs*P)
	lab := make([]int, bs)
	eps := make([]float32, bs*cfg.Latent)
	opt := &nn.AdamW{}
	var sum Losses
	var count int
	for it := range iters {
		if err := ctx.Err(); err != nil {
			return Losses{}, err
		}
		for b := range bs {
			i := pick()
			toUnit(x[b*P:(b+1)*P], xs[i*P:(i+1)*P])
			lab[b] = labels[i]
		}
		for i := range eps {
			eps[i] = float32(t.noise.NormFloat64())
		}
		l, g, err := t.vae.Grad(x, lab, eps, t.p.Beta)
		if err != nil {
			return Losses{}, fmt.Errorf("%s step %d: %w", name, it, err)
		}
		opt.Step(t.vae.flat, g, nn.CosineLR(lr, 0, iters, it))
		fmt.Fprintf(t.csv, "%s,%d,%s,%s,%s\n", name, it, fmtF(l.Recon), fmtF(l.KL), fmtF(l.Total))
		if it >= iters-lastWindow {
			sum.Recon += l.Recon
			sum.KL += l.KL
			sum.Total += l.Total
			count++
		}
		t.done++
		t.env.Report(t.done, t.total)
	}
	c := float64(count)
	return Losses{Recon: sum.Recon / c, KL: sum.KL / c, Total: sum.Total / c}, nil
}

func fmtF(v float64) string { return strconv.FormatFloat(float64(float32(v)), 'g', -1, 32) }

func allClasses(k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = i
	}
	return out
}

// toUnit writes bytes scaled to [0, 1] into dst.
func toUnit(dst []float32, src []uint8) {
	for i, v := range src {
		dst[i] = float32(v) / 255
	}
}
