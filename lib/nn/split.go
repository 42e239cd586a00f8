package nn

import (
	"fmt"

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
type splitState struct {
	rows         int
	lossA, lossB float64
}

// at returns where the first part of a batch of n images ends: rows when
// splitting, n otherwise.
func (s *splitState) at(n int) int {
	if s == nil || s.rows <= 0 || s.rows >= n {
		return n
	}
	return s.rows
}

// sideBuf holds the second part of a split parameter gradient.
type sideBuf struct{ v *tensor.Dense }

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
	la, ga, lb, gb, err = splitGrad[float32](m, xa, ya, wa, xb, yb, wb)
	if err != nil {
		return 0, nil, 0, nil, fmt.Errorf("split grad: %w", err)
	}
	return la, ga, lb, gb, nil
}

func splitGrad[T float](m *Model, xa []float32, ya []int, wa []float32, xb []float32, yb []int, wb []float32) (float64, []T, float64, []T, error) {
	hw := m.cfg.H * m.cfg.W
	for _, x := range [][]float32{xa, xb} {
		if len(x) == 0 || len(x)%hw != 0 {
			return 0, nil, 0, nil, fmt.Errorf("input has %d values, not a positive multiple of %dx%d", len(x), m.cfg.H, m.cfg.W)
		}
	}
	na, nb := len(xa)/hw, len(xb)/hw
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
	defer func() { m.split.rows = 0 }()
	if err := p.exec(); err != nil {
		return 0, nil, 0, nil, err
	}
	ga := make([]T, 0, m.size)
	gb := make([]T, 0, m.size)
	for i, gn := range p.grads {
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
	// The loss node holds a scalar of the model's type: round as it does.
	round := func(l float64) float64 {
		if m.cfg.Float64 {
			return l
		}
		return float64(float32(l))
	}
	return round(m.split.lossA), ga, round(m.split.lossB), gb, nil
}
