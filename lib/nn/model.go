package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one trainable tensor of a model.
type Param struct {
	Name  string
	Shape []int
	// F32 (float32 models) or F64 (float64 models) is a live view of the
	// values: writing to it changes the model.
	F32 []float32
	F64 []float64
}

// Model is a network with its weights and its compiled expression graphs.
// A graph is compiled once per (batch size, with or without backward) and
// reused, since building one costs far more than running it. A Model is not
// safe for concurrent use.
type Model struct {
	cfg     Config
	specs   []paramSpec
	offsets []int // offsets[i] is where param i starts in the flat vector
	size    int
	f32     []float32 // all parameters back to back (float32 models)
	f64     []float64 // all parameters back to back (float64 models)
	values  []*tensor.Dense
	progs   map[progKey]*program
	split   *splitState // shared by the ops of every program (see SplitGrad)
	// lastSplit is the last SplitGrad's pass while its activations and
	// the weights are unchanged (ReGrad reuses them); nil otherwise.
	lastSplit *splitPass
}

type progKey struct {
	n    int
	grad bool
}

// program is one compiled graph for a fixed batch size.
type program struct {
	x, t   *G.Node
	xT, tT *tensor.Dense
	logits *G.Node
	cost   *G.Node
	grads  G.Nodes // nil when compiled without backward
	vm     G.VM
	// set lists the elements of tT that fillPart wrote since clearTarget,
	// while it knows them all (setAll false): the next clear zeroes just
	// those instead of the whole target, which is mostly zeros (one of
	// the classes per pixel or sample).
	set    []int
	setAll bool
	// skips caches skipSet per selection of parameters.
	skips map[string]map[*sideBuf]bool
}

// New builds a model with He-normal weights (std √(2/fan-in)) and zero
// biases, drawn in parameter order from a PCG generator seeded by cfg.Seed,
// so equal configs give bit-identical weights.
func New(cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new %q model: %w", cfg.Arch, err)
	}
	m := &Model{cfg: cfg, specs: cfg.specs(), progs: map[progKey]*program{}, split: &splitState{}}
	for _, s := range m.specs {
		m.offsets = append(m.offsets, m.size)
		m.size += numel(s.shape)
	}
	if cfg.Float64 {
		m.f64 = make([]float64, m.size)
	} else {
		m.f32 = make([]float32, m.size)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e6e2d696e6974)) // "nn-init"
	for i, s := range m.specs {
		lo, hi := m.offsets[i], m.offsets[i]+numel(s.shape)
		if s.fanIn > 0 {
			std := math.Sqrt(2 / float64(s.fanIn))
			for j := lo; j < hi; j++ {
				v := std * rng.NormFloat64()
				if cfg.Float64 {
					m.f64[j] = v
				} else {
					m.f32[j] = float32(v)
				}
			}
		}
		if cfg.Float64 {
			m.values = append(m.values, tensor.New(tensor.WithShape(s.shape...), tensor.WithBacking(m.f64[lo:hi])))
		} else {
			m.values = append(m.values, tensor.New(tensor.WithShape(s.shape...), tensor.WithBacking(m.f32[lo:hi])))
		}
	}
	return m, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Config returns the model's configuration with defaults filled in.
func (m *Model) Config() Config { return m.cfg.withDefaults() }

// NumParams is the length of the flat parameter and gradient vectors.
func (m *Model) NumParams() int { return m.size }

// Params lists the trainable tensors in their fixed order.
func (m *Model) Params() []Param {
	ps := make([]Param, len(m.specs))
	for i, s := range m.specs {
		lo, hi := m.offsets[i], m.offsets[i]+numel(s.shape)
		ps[i] = Param{Name: s.name, Shape: slices.Clone(s.shape)}
		if m.cfg.Float64 {
			ps[i].F64 = m.f64[lo:hi:hi]
		} else {
			ps[i].F32 = m.f32[lo:hi:hi]
		}
	}
	return ps
}

// FlatParams returns a copy of all parameters as one vector.
func (m *Model) FlatParams() []float32 {
	if !m.cfg.Float64 {
		return slices.Clone(m.f32)
	}
	out := make([]float32, m.size)
	for i, v := range m.f64 {
		out[i] = float32(v)
	}
	return out
}

// SetFlatParams overwrites all parameters from a vector of NumParams values.
func (m *Model) SetFlatParams(p []float32) error {
	if len(p) != m.size {
		return fmt.Errorf("set params: got %d values, model has %d", len(p), m.size)
	}
	m.lastSplit = nil
	if !m.cfg.Float64 {
		copy(m.f32, p)
		return nil
	}
	for i, v := range p {
		m.f64[i] = float64(v)
	}
	return nil
}

// FlatParams64 and SetFlatParams64 are the float64 counterparts, exact for
// float64 models (finite differences need them).
func (m *Model) FlatParams64() []float64 {
	if m.cfg.Float64 {
		return slices.Clone(m.f64)
	}
	out := make([]float64, m.size)
	for i, v := range m.f32 {
		out[i] = float64(v)
	}
	return out
}

// SetFlatParams64 overwrites all parameters; float32 models round them.
func (m *Model) SetFlatParams64(p []float64) error {
	if len(p) != m.size {
		return fmt.Errorf("set params: got %d values, model has %d", len(p), m.size)
	}
	m.lastSplit = nil
	if m.cfg.Float64 {
		copy(m.f64, p)
		return nil
	}
	for i, v := range p {
		m.f32[i] = float32(v)
	}
	return nil
}

// Step applies one optimizer step with learning rate lr to all parameters,
// given a full gradient (subset=nil) from FlatGrad.
func (m *Model) Step(opt Optimizer, grad []float32, lr float64) error {
	if len(grad) != m.size {
		return fmt.Errorf("step: gradient has %d values, model has %d", len(grad), m.size)
	}
	m.lastSplit = nil
	if !m.cfg.Float64 {
		opt.Step(m.f32, grad, lr)
		return nil
	}
	p := m.FlatParams()
	opt.Step(p, grad, lr)
	return m.SetFlatParams(p)
}

// Forward returns the loss of a batch without computing gradients.
//
// x holds N grey images of H×W pixels back to back (scaled to [0, 1] by the
// caller). For classifiers y holds N labels in [0, K) and w, if not nil, N
// per-image weights; for the segmenter y holds N·H·W pixel labels in [0, K]
// (0 = background) and w, if not nil, N·H·W per-pixel weights. The loss is
// the softmax cross-entropy summed with the weights and divided by their sum
// (a plain mean when w is nil); it is 0 when all weights are 0.
func (m *Model) Forward(x []float32, y []int, w []float32) (float64, error) {
	p, err := m.run(x, y, w, false)
	if err != nil {
		return 0, fmt.Errorf("forward: %w", err)
	}
	return p.loss()
}

// Predict returns the class probabilities of a batch: [N, K] for
// classifiers, [N, K+1, H, W] for the segmenter, row-major.
func (m *Model) Predict(x []float32) ([]float32, error) {
	_, probs, err := m.Evaluate(x, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	return probs, nil
}

// Evaluate returns the loss (see Forward; 0 when y is nil) and the
// probabilities (see Predict) of a batch from one forward pass.
func (m *Model) Evaluate(x []float32, y []int, w []float32) (float64, []float32, error) {
	p, err := m.run(x, y, w, false)
	if err != nil {
		return 0, nil, fmt.Errorf("evaluate: %w", err)
	}
	loss, err := p.loss()
	if err != nil {
		return 0, nil, fmt.Errorf("evaluate: %w", err)
	}
	z, err := dense(p.logits.Value())
	if err != nil {
		return 0, nil, fmt.Errorf("evaluate: %w", err)
	}
	n, c, s := dims(z.Shape())
	out := make([]float32, n*c*s)
	switch zd := z.Data().(type) {
	case []float32:
		softmaxInto(out, zd, n, c, s)
	case []float64:
		softmaxInto(out, zd, n, c, s)
	}
	return loss, out, nil
}

func softmaxInto[T float](out []float32, z []T, n, c, s int) {
	for i := 0; i < n; i++ {
		base := i * c * s
		for p := 0; p < s; p++ {
			mx := z[base+p]
			for k := 1; k < c; k++ {
				mx = max(mx, z[base+k*s+p])
			}
			var se float64
			for k := 0; k < c; k++ {
				se += math.Exp(float64(z[base+k*s+p] - mx))
			}
			for k := 0; k < c; k++ {
				out[base+k*s+p] = float32(math.Exp(float64(z[base+k*s+p]-mx)) / se)
			}
		}
	}
}

// FlatGrad returns the loss of a batch (see Forward) and its gradient as one
// flat vector over all parameters, or over the named subset (in model
// order). The gradient is that of this batch alone: the graph computes it
// afresh on every call and nothing accumulates across calls.
func (m *Model) FlatGrad(x []float32, y []int, w []float32, subset []string) (float64, []float32, error) {
	loss, g, err := flatGrad[float32](m, x, y, w, subset)
	if err != nil {
		return 0, nil, fmt.Errorf("flat grad: %w", err)
	}
	return loss, g, nil
}

// FlatGrad64 is FlatGrad without rounding to float32 (exact for float64
// models).
func (m *Model) FlatGrad64(x []float32, y []int, w []float32, subset []string) (float64, []float64, error) {
	loss, g, err := flatGrad[float64](m, x, y, w, subset)
	if err != nil {
		return 0, nil, fmt.Errorf("flat grad: %w", err)
	}
	return loss, g, nil
}

// SubsetSize is the length of FlatGrad's vector for subset.
func (m *Model) SubsetSize(subset []string) (int, error) {
	sel, err := m.selectParams(subset)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, i := range sel {
		n += numel(m.specs[i].shape)
	}
	return n, nil
}

func flatGrad[T float](m *Model, x []float32, y []int, w []float32, subset []string) (float64, []T, error) {
	sel, err := m.selectParams(subset)
	if err != nil {
		return 0, nil, err
	}
	p, err := m.run(x, y, w, true)
	if err != nil {
		return 0, nil, err
	}
	loss, err := p.loss()
	if err != nil {
		return 0, nil, err
	}
	size := 0
	for _, i := range sel {
		size += numel(m.specs[i].shape)
	}
	out := make([]T, 0, size)
	for _, i := range sel {
		gv := p.grads[i].Value()
		if gv == nil {
			return 0, nil, fmt.Errorf("no gradient for %q", m.specs[i].name)
		}
		if out, err = appendFlat(out, gv); err != nil {
			return 0, nil, fmt.Errorf("gradient of %q: %w", m.specs[i].name, err)
		}
	}
	return loss, out, nil
}

// appendFlat appends the float32 or float64 data of a tensor value to out.
func appendFlat[T float](out []T, v G.Value) ([]T, error) {
	g, err := dense(v)
	if err != nil {
		return nil, err
	}
	switch gd := g.Data().(type) {
	case []float32:
		if o, ok := any(out).([]float32); ok { // no conversion: one copy
			return any(append(o, gd...)).([]T), nil
		}
		for _, v := range gd {
			out = append(out, T(v))
		}
	case []float64:
		for _, v := range gd {
			out = append(out, T(v))
		}
	default:
		return nil, fmt.Errorf("type %T", gd)
	}
	return out, nil
}

func (m *Model) selectParams(subset []string) ([]int, error) {
	if subset == nil {
		sel := make([]int, len(m.specs))
		for i := range sel {
			sel[i] = i
		}
		return sel, nil
	}
	var sel []int
	for i, s := range m.specs {
		if slices.Contains(subset, s.name) {
			sel = append(sel, i)
		}
	}
	for _, name := range subset {
		if !slices.ContainsFunc(m.specs, func(s paramSpec) bool { return s.name == name }) {
			return nil, fmt.Errorf("unknown parameter %q", name)
		}
	}
	return sel, nil
}

func (p *program) loss() (float64, error) {
	l, err := scalarOf(p.cost.Value())
	if err != nil {
		return 0, fmt.Errorf("read loss: %w", err)
	}
	return l, nil
}

// run feeds a batch through the program for its size. y == nil feeds a zero
// target (for Predict).
func (m *Model) run(x []float32, y []int, w []float32, grad bool) (*program, error) {
	hw := m.cfg.H * m.cfg.W
	if len(x) == 0 || len(x)%hw != 0 {
		return nil, fmt.Errorf("input has %d values, not a positive multiple of %dx%d", len(x), m.cfg.H, m.cfg.W)
	}
	n := len(x) / hw
	m.lastSplit = nil
	p, err := m.program(n, grad)
	if err != nil {
		return nil, err
	}
	feedX(p.xT, 0, x)
	clearTarget(p)
	if y != nil {
		if err := m.fillPart(p, 0, n, y, w); err != nil {
			return nil, err
		}
	}
	return p, p.exec()
}

// exec runs the program on the values in xT and tT.
func (p *program) exec() error {
	if err := G.Let(p.x, p.xT); err != nil {
		return fmt.Errorf("feed input: %w", err)
	}
	if err := G.Let(p.t, p.tT); err != nil {
		return fmt.Errorf("feed target: %w", err)
	}
	p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("run graph: %w", err)
	}
	return nil
}

// feedX copies x into the input tensor from offset at.
func feedX(t *tensor.Dense, at int, x []float32) {
	switch d := t.Data().(type) {
	case []float32:
		copy(d[at:], x)
	case []float64:
		for i, v := range x {
			d[at+i] = float64(v)
		}
	}
}

// clearTarget zeroes p's target: the elements fillPart wrote, or all of
// it when their list was given up.
func clearTarget(p *program) {
	switch d := p.tT.Data().(type) {
	case []float32:
		if p.setAll {
			clear(d)
		} else {
			for _, at := range p.set {
				d[at] = 0
			}
		}
	case []float64:
		if p.setAll {
			clear(d)
		} else {
			for _, at := range p.set {
				d[at] = 0
			}
		}
	}
	p.set, p.setAll = p.set[:0], false
}

// fillPart writes, for the n images from image first on, weight/Σweights
// at each (sample or pixel, label) of y into p's target; the xent op turns
// that into the normalized weighted loss. The target must be cleared
// before (clearTarget).
func (m *Model) fillPart(p *program, first, n int, y []int, w []float32) error {
	t := p.tT
	c := m.cfg.Outputs()
	s := 1
	if m.cfg.Segmentation() {
		s = m.cfg.H * m.cfg.W
	}
	if len(y) != n*s {
		return fmt.Errorf("got %d labels for %d inputs, want %d", len(y), n, n*s)
	}
	if w != nil && len(w) != len(y) {
		return fmt.Errorf("got %d weights for %d labels", len(w), len(y))
	}
	var total float64
	for j, lab := range y {
		if lab < 0 || lab >= c {
			return fmt.Errorf("label %d at %d is outside [0, %d)", lab, j, c)
		}
		if w == nil {
			total++
			continue
		}
		if w[j] < 0 || math.IsNaN(float64(w[j])) {
			return fmt.Errorf("weight %v at %d is negative or NaN", w[j], j)
		}
		total += float64(w[j])
	}
	if total == 0 {
		return nil
	}
	// t.Data() boxes the slice in an interface (an allocation per call), so
	// it is taken once, not once per label.
	d32, _ := t.Data().([]float32)
	d64, _ := t.Data().([]float64)
	// The list of written elements is given up when it would pass a
	// quarter of the target: a clear of the whole target is then as cheap.
	if !p.setAll && len(p.set)+len(y) > t.Shape().TotalSize()/4 {
		p.setAll = true
	}
	for j, lab := range y {
		wj := 1.0
		if w != nil {
			wj = float64(w[j])
		}
		i, px := first+j/s, j%s
		at := (i*c+lab)*s + px
		if !p.setAll {
			p.set = append(p.set, at)
		}
		if d32 != nil {
			d32[at] = float32(wj / total)
		} else if d64 != nil {
			d64[at] = wj / total
		}
	}
	return nil
}

// program returns the compiled graph for batch size n, building it once.
func (m *Model) program(n int, grad bool) (*program, error) {
	key := progKey{n, grad}
	if p, ok := m.progs[key]; ok {
		return p, nil
	}
	p, err := m.compile(n, grad)
	if err != nil {
		return nil, fmt.Errorf("compile %q graph for batch %d: %w", m.cfg.Arch, n, err)
	}
	m.progs[key] = p
	return p, nil
}

func (m *Model) compile(n int, grad bool) (*program, error) {
	dt := tensor.Float32
	if m.cfg.Float64 {
		dt = tensor.Float64
	}
	g := G.NewGraph()
	params := make([]*G.Node, len(m.specs))
	for i, s := range m.specs {
		params[i] = G.NewTensor(g, dt, len(s.shape), G.WithShape(s.shape...), G.WithName(s.name), G.WithValue(m.values[i]))
	}
	xShape := tensor.Shape{n, 1, m.cfg.H, m.cfg.W}
	tShape := tensor.Shape{n, m.cfg.Outputs()}
	if m.cfg.Segmentation() {
		tShape = tensor.Shape{n, m.cfg.Outputs(), m.cfg.H, m.cfg.W}
	}
	p := &program{
		xT: tensor.New(tensor.Of(dt), tensor.WithShape(xShape...)),
		tT: tensor.New(tensor.Of(dt), tensor.WithShape(tShape...)),
	}
	p.x = G.NewTensor(g, dt, 4, G.WithShape(xShape...), G.WithName("x"), G.WithValue(p.xT))
	p.t = G.NewTensor(g, dt, len(tShape), G.WithShape(tShape...), G.WithName("target"), G.WithValue(p.tT))
	var err error
	if p.logits, err = m.cfg.forward(p.x, params, m.split); err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	if !slices.Equal(p.logits.Shape(), tShape) {
		return nil, fmt.Errorf("logits have shape %v, want %v", p.logits.Shape(), tShape)
	}
	if p.cost, err = G.ApplyOp(newXent(dt, m.split), p.logits, p.t); err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	if grad {
		if p.grads, err = G.Grad(p.cost, params...); err != nil {
			return nil, fmt.Errorf("backward: %w", err)
		}
	}
	p.vm = G.NewTapeMachine(g)
	return p, nil
}
