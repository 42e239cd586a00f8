package nn

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearOp is y [N, out] = x [N, in] · w [in, out] with the float32 matrix
// product of gemm.go (gorgonia's Mul would use gonum's, with other bits),
// and its weight gradient can sum the two parts of a split batch apart (see
// splitState).
type linearOp struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func newLinear(sp *splitState) linearOp { return linearOp{opBase{"Linear", 2}, sp, &sideBuf{}} }

func (o linearOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ok1 := in[0].(tensor.Shape)
	ws, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("linear: bad shapes %v · %v", in[0], in[1])
	}
	return tensor.Shape{xs[0], ws[1]}, nil
}

func (o linearOp) DiffWRT(int) []bool { return []bool{true, true} }

func (o linearOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(linearGradInputOp{opBase{"LinearGradInput", 2}, o.split, &sideBuf{}}, grad, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(linearGradWeightOp{opBase{"LinearGradWeight", 2}, o.split, &sideBuf{}, &sideBuf{}}, in[0], grad)
	return G.Nodes{dx, dw}, err
}

func (o linearOp) Do(vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x, w *tensor.Dense
	if err := o.args(vs, &x, &w); err != nil {
		return nil, err
	}
	s, err := o.InferShape(x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(x.Dtype(), s...), vs...)
}

func (o linearOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x, w *tensor.Dense
	if err := o.args(vs, &x, &w); err != nil {
		return nil, err
	}
	y, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	n, in, out := x.Shape()[0], x.Shape()[1], w.Shape()[1]
	if err := matmul(false, false, n, out, in, x, in, w, out, y, out, 0, 0); err != nil {
		return nil, err
	}
	o.out.last = y
	return y, nil
}

// linearGradInputOp is dx [N, in] = g [N, out] · wᵀ.
type linearGradInputOp struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func (o linearGradInputOp) skipKey() *sideBuf  { return o.out }
func (o linearGradWeightOp) skipKey() *sideBuf { return o.out }

func (o linearGradInputOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o linearGradInputOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, ok1 := in[0].(tensor.Shape)
	ws, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(gs) != 2 || len(ws) != 2 {
		return nil, fmt.Errorf("linear grad input: bad shapes %v, %v", in[0], in[1])
	}
	return tensor.Shape{gs[0], ws[0]}, nil
}

func (o linearGradInputOp) Do(vs ...G.Value) (G.Value, error) {
	var g, w *tensor.Dense
	if err := o.args(vs, &g, &w); err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(g.Dtype(), g.Shape()[0], w.Shape()[0]), vs...)
}

func (o linearGradInputOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	var g, w *tensor.Dense
	if err := o.args(vs, &g, &w); err != nil {
		return nil, err
	}
	dx, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	if o.split.skips(o.out) {
		return dx, nil
	}
	n, in, out := g.Shape()[0], w.Shape()[0], w.Shape()[1]
	return dx, matmul(false, true, n, in, out, g, out, w, out, dx, in, 0, 0)
}

// linearGradWeightOp is dw [in, out] = xᵀ · g, the sum over the batch rows;
// of a split batch it sums rows [0, r) here and rows [r, N) into its side
// buffer.
type linearGradWeightOp struct {
	opBase
	split *splitState
	side  *sideBuf
	out   *sideBuf // the output, reused across steps
}

func (o linearGradWeightOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o linearGradWeightOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ok1 := in[0].(tensor.Shape)
	gs, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(xs) != 2 || len(gs) != 2 {
		return nil, fmt.Errorf("linear grad weight: bad shapes %v, %v", in[0], in[1])
	}
	return tensor.Shape{xs[1], gs[1]}, nil
}

func (o linearGradWeightOp) sideBuffer() *sideBuf { return o.side }

func (o linearGradWeightOp) Do(vs ...G.Value) (G.Value, error) {
	var x, g *tensor.Dense
	if err := o.args(vs, &x, &g); err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(x.Dtype(), x.Shape()[1], g.Shape()[1]), vs...)
}

func (o linearGradWeightOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	var x, g *tensor.Dense
	if err := o.args(vs, &x, &g); err != nil {
		return nil, err
	}
	dw, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	if o.split.skips(o.out) {
		return dw, nil
	}
	n, in, out := x.Shape()[0], x.Shape()[1], g.Shape()[1]
	r := o.split.at(n)
	// Rows [0, r) here: the same call as a batch of r rows alone (not
	// wanted in a replay pass, see splitState).
	if !o.split.skipA() {
		if err := matmul(true, false, in, out, r, x, in, g, out, dw, out, 0, 0); err != nil {
			return nil, err
		}
	}
	if r == n {
		return dw, nil
	}
	side := o.side.like(dw)
	return dw, matmul(true, false, in, out, n-r, x, in, g, out, side, out, r*in, r*out)
}

// matmul is C = op(A)·op(B) (see gemm) on the float32 or float64 data of a,
// b and c, with A and B starting at offsets offA and offB.
func matmul(tA, tB bool, m, n, k int, a *tensor.Dense, lda int, b *tensor.Dense, ldb int, c *tensor.Dense, ldc, offA, offB int) error {
	switch ad := a.Data().(type) {
	case []float32:
		gemm(tA, tB, m, n, k, ad[offA:], lda, b.Data().([]float32)[offB:], ldb, false, c.Data().([]float32), ldc, gemmWorkers())
	case []float64:
		gemm(tA, tB, m, n, k, ad[offA:], lda, b.Data().([]float64)[offB:], ldb, false, c.Data().([]float64), ldc, 1)
	default:
		return fmt.Errorf("linear: unsupported dtype %v", a.Dtype())
	}
	return nil
}
