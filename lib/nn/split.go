package nn

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// splitState lets one pass over the union of two batches A and B (A's rows
// first) yield the loss and gradient of each as if computed alone. Every op
// of these networks treats the images of a batch independently except the
// sums over the batch: the loss and the parameter gradients. While rows > 0
// those sums keep A's images [0, rows) and B's images apart: the loss op
// leaves the two losses here, each parameter-gradient op returns A's part
// and writes B's into its side buffer, and the targets are normalized by
// each part's own mass. Each part's sum runs in the same order, with the
// same kernels, as the pass over that batch alone, so the bits are the
// same (TestSplitGradBits). One state is shared by all ops of a model.
//
// With replay set (ReGrad), the pass reruns the program of the last split
// pass for new targets of B alone: every forward op returns the value it
// computed in that pass instead of computing it again (B's images are the
// same, so are their activations), the loss op recomputes B's loss, and
// the backward ops skip A's images, whose results nothing reads.
//
// With skip set (SplitGradSubset), the backward ops it names do not run:
// they return their output buffer as it is (stale values that nothing
// read in this pass uses).
type splitState struct {
	rows         int
	replay       bool
	skip         map[*sideBuf]bool
	lossA, lossB float64
}

// skips reports whether the backward op whose skipKey is k is left out of
// this pass.
func (s *splitState) skips(k *sideBuf) bool { return s != nil && s.skip[k] }

// skipper is a backward op a truncated pass may leave out; its key is one
// of its buffers, unique to the op.
type skipper interface{ skipKey() *sideBuf }

// from returns the first image of a batch of n that a backward op
// computes: in a replay pass the first image of B (A's images are not
// wanted), 0 otherwise.
func (s *splitState) from(n int) int {
	if s == nil || !s.replay || s.rows <= 0 || s.rows >= n {
		return 0
	}
	return s.rows
}

// skipA reports whether a parameter-gradient op leaves A's sum out: in a
// replay pass only B's is wanted.
func (s *splitState) skipA() bool { return s != nil && s.replay && s.rows > 0 }

// errNoReplay is what a forward op reports when asked to replay a pass it
// never ran.
var errNoReplay = errors.New("no earlier pass to replay")

// replayed returns, in a replay pass, the value the forward op owning out
// returned in the pass before, and true; otherwise false.
func (s *splitState) replayed(out *sideBuf) (G.Value, bool, error) {
	if s == nil || !s.replay {
		return nil, false, nil
	}
	if out.last == nil {
		return nil, true, errNoReplay
	}
	return out.last, true, nil
}

// at returns where the first part of a batch of n images ends: rows when
// splitting, n otherwise.
func (s *splitState) at(n int) int {
	if s == nil || s.rows <= 0 || s.rows >= n {
		return n
	}
	return s.rows
}

// sideBuf holds the second part of a split parameter gradient, or an op's
// output reused across steps (fresh). last is the value a forward op
// returned in its last pass, which a replay pass returns again.
type sideBuf struct{ v, last *tensor.Dense }

// like returns the buffer shaped and typed as t, allocated on first use.
func (b *sideBuf) like(t *tensor.Dense) *tensor.Dense {
	if b.v == nil || b.v.Dtype() != t.Dtype() || !b.v.Shape().Eq(t.Shape()) {
		b.v = tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(t.Shape().Clone()...))
	}
	return b.v
}

// fresh returns a tensor of type dt and shape s for an op to overwrite
// whole: the one from the previous step when it fits, so that an op's
// output is allocated once per compiled graph instead of once per step
// (gorgonia's tape machine drops its registers on Reset, so UsePreallocDo
// alone does not reuse them). Its contents are the previous step's, not
// zeros: every caller writes every element (clearing megabytes per step
// first cost more than some of the ops). A nil b allocates. Callers copy
// results out of the graph (FlatGrad, Forward), so no output escapes into
// the next step.
func (b *sideBuf) fresh(dt tensor.Dtype, s ...int) *tensor.Dense {
	if b == nil {
		return tensor.New(tensor.Of(dt), tensor.WithShape(s...))
	}
	if b.v != nil && b.v.Dtype() == dt && b.v.Shape().Eq(tensor.Shape(s)) {
		return b.v
	}
	b.v = tensor.New(tensor.Of(dt), tensor.WithShape(append([]int(nil), s...)...))
	return b.v
}

// splitter is a parameter-gradient op that can sum a split batch apart.
type splitter interface{ sideBuffer() *sideBuf }

// SplitGrad returns the losses and flat gradients of two batches, bit for
// bit as FlatGrad(xa, ya, wa, nil) and FlatGrad(xb, yb, wb, nil) would, from
// one forward and one backward pass over their union: the activations and
// their gradients are computed once for both, only the sums over the batch
// are kept apart. It is what BSGAL needs each iteration (the real and the
// generated gradient), at the cost of one pass over both batches instead
// of two. Weights are as in Forward, normalized within each batch.
func (m *Model) SplitGrad(xa []float32, ya []int, wa []float32, xb []float32, yb []int, wb []float32) (la float64, ga []float32, lb float64, gb []float32, err error) {
	la, ga, lb, gb, err = splitGrad[float32](m, xa, ya, wa, xb, yb, wb, nil, nil, nil)
	if err != nil {
		return 0, nil, 0, nil, fmt.Errorf("split grad: %w", err)
	}
	return la, ga, lb, gb, nil
}

// SplitGradInto is SplitGrad writing the gradients into dstA and dstB,
// whose room it reuses (their contents are overwritten; too small or nil,
// a new vector is allocated), so that a caller running it every iteration
// allocates and clears no gradient vectors. The results are dstA and dstB
// (or the new vectors) holding the gradients.
func (m *Model) SplitGradInto(dstA, dstB []float32, xa []float32, ya []int, wa []float32, xb []float32, yb []int, wb []float32) (la float64, ga []float32, lb float64, gb []float32, err error) {
	la, ga, lb, gb, err = splitGrad(m, xa, ya, wa, xb, yb, wb, nil, dstA, dstB)
	if err != nil {
		return 0, nil, 0, nil, fmt.Errorf("split grad: %w", err)
	}
	return la, ga, lb, gb, nil
}

// SplitGradSubset is SplitGrad with both gradients restricted to the named
// parameters (in model order, as FlatGrad's subset), bit for bit as
// SplitGrad's restricted to them, from a backward pass that runs only the
// ops their gradients need: it stops at the earliest layer of the subset
// (scoring BSGAL on the last layers then costs little more than the
// forward pass). ReGrad may follow it as it follows SplitGrad, with the
// whole backward pass.
func (m *Model) SplitGradSubset(xa []float32, ya []int, wa []float32, xb []float32, yb []int, wb []float32, subset []string) (la float64, ga []float32, lb float64, gb []float32, err error) {
	if subset == nil {
		subset = []string{}
	}
	la, ga, lb, gb, err = splitGrad[float32](m, xa, ya, wa, xb, yb, wb, subset, nil, nil)
	if err != nil {
		return 0, nil, 0, nil, fmt.Errorf("split grad: %w", err)
	}
	return la, ga, lb, gb, nil
}

// splitGrad computes SplitGrad, or SplitGradSubset when subset is not nil,
// into dstA and dstB when they have room.
func splitGrad[T float](m *Model, xa []float32, ya []int, wa []float32, xb []float32, yb []int, wb []float32, subset []string, dstA, dstB []T) (float64, []T, float64, []T, error) {
	sel, err := m.selectParams(subset)
	if err != nil {
		return 0, nil, 0, nil, err
	}
	hw := m.cfg.H * m.cfg.W
	for _, x := range [][]float32{xa, xb} {
		if len(x) == 0 || len(x)%hw != 0 {
			return 0, nil, 0, nil, fmt.Errorf("input has %d values, not a positive multiple of %dx%d", len(x), m.cfg.H, m.cfg.W)
		}
	}
	na, nb := len(xa)/hw, len(xb)/hw
	m.lastSplit = nil
	p, err := m.program(na+nb, true)
	if err != nil {
		return 0, nil, 0, nil, err
	}
	for i, prm := range p.grads {
		if _, ok := prm.Op().(splitter); !ok {
			return 0, nil, 0, nil, fmt.Errorf("gradient of %q (op %v) cannot be split", m.specs[i].name, prm.Op())
		}
	}
	feedX(p.xT, 0, xa)
	feedX(p.xT, len(xa), xb)
	clearTarget(p)
	if err := m.fillPart(p, 0, na, ya, wa); err != nil {
		return 0, nil, 0, nil, fmt.Errorf("first batch: %w", err)
	}
	if err := m.fillPart(p, na, nb, yb, wb); err != nil {
		return 0, nil, 0, nil, fmt.Errorf("second batch: %w", err)
	}
	m.split.rows = na
	if subset != nil {
		m.split.skip = p.skipSet(sel)
	}
	defer func() { m.split.rows, m.split.skip = 0, nil }()
	if err := p.exec(); err != nil {
		return 0, nil, 0, nil, err
	}
	m.lastSplit = &splitPass{p: p, na: na, nb: nb}
	size := 0
	for _, i := range sel {
		size += numel(m.specs[i].shape)
	}
	room := func(dst []T) []T {
		if cap(dst) >= size {
			return dst[:0]
		}
		return make([]T, 0, size)
	}
	ga, gb := room(dstA), room(dstB)
	for _, i := range sel {
		gn := p.grads[i]
		if gn.Value() == nil {
			return 0, nil, 0, nil, fmt.Errorf("no gradient for %q", m.specs[i].name)
		}
		if ga, err = appendFlat(ga, gn.Value()); err == nil {
			gb, err = appendFlat(gb, gn.Op().(splitter).sideBuffer().v)
		}
		if err != nil {
			return 0, nil, 0, nil, fmt.Errorf("gradient of %q: %w", m.specs[i].name, err)
		}
	}
	return m.roundLoss(m.split.lossA), ga, m.roundLoss(m.split.lossB), gb, nil
}

// skipSet returns the backward ops a pass that wants the gradients of the
// parameters sel only may leave out: every op no such gradient depends on.
// It is computed once per program and selection.
func (p *program) skipSet(sel []int) map[*sideBuf]bool {
	key := fmt.Sprint(sel)
	if s, ok := p.skips[key]; ok {
		return s
	}
	g := p.cost.Graph()
	need := map[*G.Node]bool{}
	var stack []*G.Node
	for _, i := range sel {
		stack = append(stack, p.grads[i])
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if need[n] {
			continue
		}
		need[n] = true
		for it := g.From(n.ID()); it.Next(); {
			stack = append(stack, it.Node().(*G.Node))
		}
	}
	skip := map[*sideBuf]bool{}
	for _, n := range g.AllNodes() {
		if sk, ok := n.Op().(skipper); ok && !need[n] {
			skip[sk.skipKey()] = true
		}
	}
	if p.skips == nil {
		p.skips = map[string]map[*sideBuf]bool{}
	}
	p.skips[key] = skip
	return skip
}

// roundLoss rounds a loss as the loss node, a scalar of the model's type,
// holds it.
func (m *Model) roundLoss(l float64) float64 {
	if m.cfg.Float64 {
		return l
	}
	return float64(float32(l))
}

// splitPass is the last SplitGrad's program while its activations are
// still those of that pass (see Model.lastSplit).
type splitPass struct {
	p      *program
	na, nb int
}

// errNoSplitPass is ReGrad's error when there is no split pass to reuse.
var errNoSplitPass = errors.New("no split pass to reuse: ReGrad must follow SplitGrad with no other pass and no change of the weights between")

// ReGrad returns the loss and flat gradient of the second batch of the last
// SplitGrad, xb, under other labels y and weights w (given as to FlatGrad),
// bit for bit as FlatGrad(xb, y, w, nil) would, without the forward pass:
// the activations of xb's images from that SplitGrad are reused, and only
// the loss and the backward pass over xb's images run again. BSGAL's
// segmentation needs it: the pasted scenes are scored with weight on the
// pasted pixels only and, when accepted, trained on with every pixel.
//
// It must follow SplitGrad with no other pass (Forward, Evaluate,
// Predict, FlatGrad, SplitGrad) and no Step or SetFlatParams between; it
// returns an error then. Writing the weights through Params' views is not
// seen: do not. ReGrad may be called again for yet other targets.
func (m *Model) ReGrad(y []int, w []float32) (float64, []float32, error) {
	l, g, err := reGrad[float32](m, y, w)
	if err != nil {
		return 0, nil, fmt.Errorf("regrad: %w", err)
	}
	return l, g, nil
}

func reGrad[T float](m *Model, y []int, w []float32) (float64, []T, error) {
	sp := m.lastSplit
	if sp == nil {
		return 0, nil, errNoSplitPass
	}
	p := sp.p
	clearTarget(p)
	if err := m.fillPart(p, sp.na, sp.nb, y, w); err != nil {
		return 0, nil, err
	}
	m.split.rows, m.split.replay = sp.na, true
	defer func() { m.split.rows, m.split.replay = 0, false }()
	if err := p.exec(); err != nil {
		m.lastSplit = nil
		return 0, nil, err
	}
	g := make([]T, 0, m.size)
	for i, gn := range p.grads {
		var err error
		if g, err = appendFlat(g, gn.Op().(splitter).sideBuffer().v); err != nil {
			return 0, nil, fmt.Errorf("gradient of %q: %w", m.specs[i].name, err)
		}
	}
	return m.roundLoss(m.split.lossB), g, nil
}
