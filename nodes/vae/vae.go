package vae

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"dagrun/format"
	"dagrun/lib/artifact"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// VAEConfig describes a class-conditional VAE over S×S grey images.
//
//	encoder: h = relu([x, onehot(c)]·W1 + b1); μ = h·Wμ + bμ; log σ² = h·Wσ + bσ
//	sample:  z = μ + exp(½ log σ²)·ε,  ε ~ N(0, I)
//	decoder: g = relu([z, onehot(c)]·W3 + b3); p = sigmoid(g·W4 + b4 + T[c])
//
// Weights are stored [in, out]. The loss per image is the Bernoulli
// cross-entropy of x under p summed over pixels plus β·KL(q(z|x,c) ‖ N(0, I)),
// averaged over the batch.
type VAEConfig struct {
	// Classes is the number of categories of the one-hot condition.
	Classes int `json:"classes"`
	// Size is the side of the square images.
	Size int `json:"size"`
	// Latent is the dimension of z.
	Latent int `json:"latent"`
	// Hidden is the width of the one hidden layer of encoder and decoder.
	Hidden int `json:"hidden"`
	// Seed seeds the initialization.
	Seed uint64 `json:"seed"`
	// Names are the category names, Classes of them (pools copy them).
	Names []string `json:"names"`
}

func (c VAEConfig) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"classes", c.Classes}, {"size", c.Size}, {"latent", c.Latent}, {"hidden", c.Hidden}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", f.name, f.v))
		}
	}
	if len(c.Names) != c.Classes {
		errs = append(errs, fmt.Errorf("%d category names for %d classes", len(c.Names), c.Classes))
	}
	return errors.Join(errs...)
}

// Pixels is Size², the length of one flattened image.
func (c VAEConfig) Pixels() int { return c.Size * c.Size }

type vaeParamSpec struct {
	name  string
	shape []int
	fanIn int // 0 for biases
}

// specs lists the parameters in their fixed order (flat vector, manifest).
func (c VAEConfig) specs() []vaeParamSpec {
	lin := func(name string, in, out int) []vaeParamSpec {
		return []vaeParamSpec{{name + ".weight", []int{in, out}, in}, {name + ".bias", []int{out}, 0}}
	}
	var ps []vaeParamSpec
	ps = append(ps, lin("enc", c.Pixels()+c.Classes, c.Hidden)...)
	ps = append(ps, lin("mu", c.Hidden, c.Latent)...)
	ps = append(ps, lin("logvar", c.Hidden, c.Latent)...)
	ps = append(ps, lin("dec", c.Latent+c.Classes, c.Hidden)...)
	ps = append(ps, lin("out", c.Hidden, c.Pixels())...)
	// A per-category logit template added to the output: the decoder's
	// direct view of the condition, so the category cannot be ignored in
	// favour of z. Starts at zero.
	ps = append(ps, vaeParamSpec{"template.weight", []int{c.Classes, c.Pixels()}, 0})
	return ps
}

// VAE is a class-conditional VAE with its weights. Training compiles one
// gorgonia graph per batch size; decoding is plain Go so that a sample's
// pixels depend only on the weights and its own latent vector, never on
// what else is in the batch. A VAE is not safe for concurrent use.
type VAE struct {
	cfg     VAEConfig
	specs   []vaeParamSpec
	offsets []int
	flat    []float32 // all parameters back to back
	values  []*tensor.Dense
	progs   map[progKey]*vaeProgram
	// prior is the latent distribution sampling draws from, per category.
	prior *Prior
}

// NewVAE builds a VAE whose weights are normal with std √(1/fan-in) (the
// log-variance head is scaled down by 10 so training starts near σ = 1) and
// zero biases, drawn in parameter order from a PCG generator seeded by
// cfg.Seed: equal configs give bit-identical weights.
func NewVAE(cfg VAEConfig) (*VAE, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new vae: %w", err)
	}
	v := &VAE{cfg: cfg, specs: cfg.specs(), progs: map[progKey]*vaeProgram{}, prior: standardPrior(cfg.Classes, cfg.Latent)}
	size := 0
	for _, s := range v.specs {
		v.offsets = append(v.offsets, size)
		size += numel(s.shape)
	}
	v.flat = make([]float32, size)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7661652d696e6974)) // "vae-init"
	for i, s := range v.specs {
		lo, hi := v.offsets[i], v.offsets[i]+numel(s.shape)
		if s.fanIn > 0 {
			std := math.Sqrt(1 / float64(s.fanIn))
			if s.name == "logvar.weight" {
				std /= 10
			}
			for j := lo; j < hi; j++ {
				v.flat[j] = float32(std * rng.NormFloat64())
			}
		}
		v.values = append(v.values, tensor.New(tensor.WithShape(s.shape...), tensor.WithBacking(v.flat[lo:hi:hi])))
	}
	return v, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Config returns the model's configuration.
func (v *VAE) Config() VAEConfig { return v.cfg }

// NumParams is the number of trainable values.
func (v *VAE) NumParams() int { return len(v.flat) }

// param returns the live values of the parameter called name.
func (v *VAE) param(name string) []float32 {
	for i, s := range v.specs {
		if s.name == name {
			lo := v.offsets[i]
			return v.flat[lo : lo+numel(s.shape)]
		}
	}
	panic(fmt.Sprintf("generate: no vae parameter %q", name))
}

// vaeProgram is the compiled training graph for one batch size.
type vaeProgram struct {
	x, y, eps    *G.Node
	xT, yT, epsT *tensor.Dense
	recon, kl    *G.Node
	cost         *G.Node
	params       G.Nodes
	grads        G.Nodes
	vm           G.VM
}

// progKey identifies a compiled graph: batch size and KL weight.
type progKey struct {
	n    int
	beta float64
}

func (v *VAE) program(n int, beta float64) (*vaeProgram, error) {
	if p, ok := v.progs[progKey{n, beta}]; ok {
		return p, nil
	}
	p, err := v.compile(n, beta)
	if err != nil {
		return nil, fmt.Errorf("compile vae graph for batch %d: %w", n, err)
	}
	v.progs[progKey{n, beta}] = p
	return p, nil
}

func (v *VAE) compile(n int, beta float64) (*vaeProgram, error) {
	c := v.cfg
	g := G.NewGraph()
	dt := tensor.Float32
	p := &vaeProgram{
		xT:   tensor.New(tensor.Of(dt), tensor.WithShape(n, c.Pixels())),
		yT:   tensor.New(tensor.Of(dt), tensor.WithShape(n, c.Classes)),
		epsT: tensor.New(tensor.Of(dt), tensor.WithShape(n, c.Latent)),
	}
	for i, s := range v.specs {
		p.params = append(p.params, G.NewTensor(g, dt, len(s.shape), G.WithShape(s.shape...), G.WithName(s.name), G.WithValue(v.values[i])))
	}
	p.x = G.NewMatrix(g, dt, G.WithShape(n, c.Pixels()), G.WithName("x"), G.WithValue(p.xT))
	p.y = G.NewMatrix(g, dt, G.WithShape(n, c.Classes), G.WithName("y"), G.WithValue(p.yT))
	p.eps = G.NewMatrix(g, dt, G.WithShape(n, c.Latent), G.WithName("eps"), G.WithValue(p.epsT))

	var err error
	must := func(node *G.Node, e error) *G.Node {
		if err == nil && e != nil {
			err = e
		}
		return node
	}
	lin := func(in *G.Node, i int) *G.Node {
		if err != nil {
			return nil
		}
		m := must(G.Mul(in, p.params[i]))
		if err != nil {
			return nil
		}
		return must(G.BroadcastAdd(m, p.params[i+1], nil, []byte{0}))
	}
	xy := must(G.Concat(1, p.x, p.y))
	h := must(G.Rectify(lin(xy, 0)))
	mu := lin(h, 2)
	logvar := lin(h, 4)
	std := must(G.Exp(must(G.HadamardProd(logvar, G.NewConstant(float32(0.5))))))
	z := must(G.Add(mu, must(G.HadamardProd(std, p.eps))))
	zy := must(G.Concat(1, z, p.y))
	hd := must(G.Rectify(lin(zy, 6)))
	logits := lin(hd, 8)
	if err == nil {
		logits = must(G.Add(logits, must(G.Mul(p.y, p.params[10]))))
	}
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	// Bernoulli cross-entropy with logits l: softplus(l) − x·l.
	bce := must(G.Sub(must(G.Softplus(logits)), must(G.HadamardProd(p.x, logits))))
	p.recon = must(G.Div(must(G.Sum(bce)), G.NewConstant(float32(n))))
	// KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − log σ² − 1).
	klTerms := must(G.Sub(must(G.Add(must(G.Square(mu)), must(G.Exp(logvar)))), must(G.Add(logvar, G.NewConstant(float32(1))))))
	p.kl = must(G.Div(must(G.Sum(klTerms)), G.NewConstant(float32(2*n))))
	p.cost = must(G.Add(p.recon, must(G.HadamardProd(p.kl, G.NewConstant(float32(beta))))))
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	if p.grads, err = G.Grad(p.cost, p.params...); err != nil {
		return nil, fmt.Errorf("backward: %w", err)
	}
	p.vm = G.NewTapeMachine(g)
	return p, nil
}

// Losses are the per-image averages of one batch.
type Losses struct {
	Recon float64 `json:"recon"`
	KL    float64 `json:"kl"`
	Total float64 `json:"total"`
}

// Grad computes the losses of a batch and the gradient of recon + β·KL as
// one flat vector in parameter order. x holds n images of Size² pixels in
// [0, 1], labels n categories and eps n·Latent standard normal draws. The
// gradient is this batch's alone: nothing accumulates across calls.
func (v *VAE) Grad(x []float32, labels []int, eps []float32, beta float64) (Losses, []float32, error) {
	c := v.cfg
	n := len(labels)
	if n == 0 || len(x) != n*c.Pixels() || len(eps) != n*c.Latent {
		return Losses{}, nil, fmt.Errorf("vae grad: %d images, %d labels and %d noise values do not fit %d×%d pixels, latent %d",
			len(x), n, len(eps), c.Size, c.Size, c.Latent)
	}
	p, err := v.program(n, beta)
	if err != nil {
		return Losses{}, nil, fmt.Errorf("vae grad: %w", err)
	}
	copy(p.xT.Data().([]float32), x)
	copy(p.epsT.Data().([]float32), eps)
	yd := p.yT.Data().([]float32)
	clear(yd)
	for i, l := range labels {
		if l < 0 || l >= c.Classes {
			return Losses{}, nil, fmt.Errorf("vae grad: label %d of item %d is outside [0, %d)", l, i, c.Classes)
		}
		yd[i*c.Classes+l] = 1
	}
	for _, f := range []struct {
		n *G.Node
		t *tensor.Dense
	}{{p.x, p.xT}, {p.y, p.yT}, {p.eps, p.epsT}} {
		if err := G.Let(f.n, f.t); err != nil {
			return Losses{}, nil, fmt.Errorf("vae grad: feed %s: %w", f.n.Name(), err)
		}
	}
	p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return Losses{}, nil, fmt.Errorf("vae grad: run graph: %w", err)
	}
	var l Losses
	if l.Recon, err = scalar(p.recon.Value()); err == nil {
		if l.KL, err = scalar(p.kl.Value()); err == nil {
			l.Total, err = scalar(p.cost.Value())
		}
	}
	if err != nil {
		return Losses{}, nil, fmt.Errorf("vae grad: read loss: %w", err)
	}
	grad := make([]float32, 0, len(v.flat))
	for i, gn := range p.grads {
		d, ok := gn.Value().(*tensor.Dense)
		if !ok {
			return Losses{}, nil, fmt.Errorf("vae grad: gradient of %q is %T", v.specs[i].name, gn.Value())
		}
		grad = append(grad, d.Data().([]float32)...)
	}
	return l, grad, nil
}

func scalar(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	case *tensor.Dense:
		if d, ok := s.Data().([]float32); ok && len(d) == 1 {
			return float64(d[0]), nil
		}
		if d, ok := s.Data().(float32); ok {
			return float64(d), nil
		}
	}
	return 0, fmt.Errorf("value %v (%T) is not a scalar", v, v)
}

// Decode writes the decoder's pixel probabilities for latent z (Latent
// values) and category c into out (Size² values). It is plain float64 Go
// with explicit roundings, so one item's pixels never depend on the others
// decoded alongside it.
func (v *VAE) Decode(out []float64, z []float64, c int) {
	cfg := v.cfg
	w3, b3 := v.param("dec.weight"), v.param("dec.bias")
	w4, b4 := v.param("out.weight"), v.param("out.bias")
	h := make([]float64, cfg.Hidden)
	for j := range h {
		h[j] = float64(b3[j]) + float64(w3[(cfg.Latent+c)*cfg.Hidden+j])
	}
	for i, zi := range z {
		row := w3[i*cfg.Hidden : (i+1)*cfg.Hidden]
		for j, w := range row {
			h[j] += float64(zi * float64(w))
		}
	}
	P := cfg.Pixels()
	tc := v.param("template.weight")[c*P : (c+1)*P]
	for k := range P {
		out[k] = float64(b4[k]) + float64(tc[k])
	}
	for j, hj := range h {
		if hj <= 0 {
			continue
		}
		row := w4[j*P : (j+1)*P]
		for k, w := range row {
			out[k] += float64(hj * float64(w))
		}
	}
	for k, l := range out[:P] {
		out[k] = 1 / (1 + math.Exp(-l))
	}
}

// Encode returns the posterior mean μ and log-variance log σ² of image x
// (Size² values in [0, 1]) given category c, in plain Go.
func (v *VAE) Encode(x []float32, c int) (mu, logvar []float64) {
	cfg := v.cfg
	w1, b1 := v.param("enc.weight"), v.param("enc.bias")
	h := make([]float64, cfg.Hidden)
	for j := range h {
		h[j] = float64(b1[j]) + float64(w1[(cfg.Pixels()+c)*cfg.Hidden+j])
	}
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		row := w1[i*cfg.Hidden : (i+1)*cfg.Hidden]
		for j, w := range row {
			h[j] += float64(float64(xi) * float64(w))
		}
	}
	head := func(name string) []float64 {
		w, b := v.param(name+".weight"), v.param(name+".bias")
		out := make([]float64, cfg.Latent)
		for k := range out {
			out[k] = float64(b[k])
		}
		for j, hj := range h {
			if hj <= 0 {
				continue
			}
			for k := range out {
				out[k] += float64(hj * float64(w[j*cfg.Latent+k]))
			}
		}
		return out
	}
	return head("mu"), head("logvar")
}

const vaeFormat = "dagrun-cvae/1"

type vaeManifest struct {
	Format string            `json:"format"`
	Config VAEConfig         `json:"config"`
	Params []vaeManifestItem `json:"params"`
	// Prior names the files of the per-category latent prior (float64
	// [K, L] means and [K, L, L] lower Cholesky factors).
	Prior vaePriorFiles `json:"prior"`
}

type vaePriorFiles struct {
	Mean string `json:"mean"`
	Chol string `json:"chol"`
}

var priorFiles = vaePriorFiles{Mean: "prior_mean.npy", Chol: "prior_chol.npy"}

type vaeManifestItem struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
	DType string `json:"dtype"`
}

// Save writes one .npy per parameter (float32, [in, out] weights) and
// model.json into dir. The bytes depend only on the config and weights.
func (v *VAE) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save vae: %w", err)
	}
	man := vaeManifest{Format: vaeFormat, Config: v.cfg, Prior: priorFiles}
	K, L := v.cfg.Classes, v.cfg.Latent
	if err := artifact.SaveNPY(filepath.Join(dir, priorFiles.Mean), artifact.F64Array(v.prior.Mean, K, L)); err != nil {
		return fmt.Errorf("save vae: prior: %w", err)
	}
	if err := artifact.SaveNPY(filepath.Join(dir, priorFiles.Chol), artifact.F64Array(v.prior.Chol, K, L, L)); err != nil {
		return fmt.Errorf("save vae: prior: %w", err)
	}
	for i, s := range v.specs {
		lo := v.offsets[i]
		item := vaeManifestItem{Name: s.name, Shape: s.shape, File: s.name + ".npy", DType: "<f4"}
		a := artifact.F32Array(v.flat[lo:lo+numel(s.shape)], s.shape...)
		if err := artifact.SaveNPY(filepath.Join(dir, item.File), a); err != nil {
			return fmt.Errorf("save vae: parameter %q: %w", s.name, err)
		}
		man.Params = append(man.Params, item)
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("save vae: encode manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, format.VAEManifest), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save vae: %w", err)
	}
	return nil
}

// LoadVAE reads a model written by Save.
func LoadVAE(dir string) (*VAE, error) {
	wrap := func(err error) error { return fmt.Errorf("load vae %q: %w", dir, err) }
	b, err := os.ReadFile(filepath.Join(dir, format.VAEManifest))
	if err != nil {
		return nil, wrap(err)
	}
	var man vaeManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, wrap(fmt.Errorf("decode %q: %w", format.VAEManifest, err))
	}
	if man.Format != vaeFormat {
		return nil, wrap(fmt.Errorf("format %q, want %q (is this a vae-train output?)", man.Format, vaeFormat))
	}
	v, err := NewVAE(man.Config)
	if err != nil {
		return nil, wrap(err)
	}
	if len(man.Params) != len(v.specs) {
		return nil, wrap(fmt.Errorf("manifest lists %d parameters, want %d", len(man.Params), len(v.specs)))
	}
	for i, s := range v.specs {
		item := man.Params[i]
		if item.Name != s.name || !slices.Equal(item.Shape, s.shape) {
			return nil, wrap(fmt.Errorf("parameter %d is %q %v, want %q %v", i, item.Name, item.Shape, s.name, s.shape))
		}
		if filepath.Base(item.File) != item.File {
			return nil, wrap(fmt.Errorf("parameter %q: file %q is not a plain name", item.Name, item.File))
		}
		a, err := artifact.LoadNPY(filepath.Join(dir, item.File))
		if err != nil {
			return nil, wrap(fmt.Errorf("parameter %q: %w", s.name, err))
		}
		if a.DType != "<f4" || !slices.Equal(a.Shape, s.shape) {
			return nil, wrap(fmt.Errorf("parameter %q: file is %s %v, want <f4 %v", s.name, a.DType, a.Shape, s.shape))
		}
		copy(v.param(s.name), a.F32)
	}
	if man.Prior != priorFiles {
		return nil, wrap(fmt.Errorf("prior files %+v, want %+v", man.Prior, priorFiles))
	}
	K, L := v.cfg.Classes, v.cfg.Latent
	for _, f := range []struct {
		file  string
		shape []int
		dst   []float64
	}{{priorFiles.Mean, []int{K, L}, v.prior.Mean}, {priorFiles.Chol, []int{K, L, L}, v.prior.Chol}} {
		a, err := artifact.LoadNPY(filepath.Join(dir, f.file))
		if err != nil {
			return nil, wrap(fmt.Errorf("prior: %w", err))
		}
		if a.DType != "<f8" || !slices.Equal(a.Shape, f.shape) {
			return nil, wrap(fmt.Errorf("prior: %s is %s %v, want <f8 %v", f.file, a.DType, a.Shape, f.shape))
		}
		copy(f.dst, a.F64)
	}
	return v, nil
}
