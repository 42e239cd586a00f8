package nn

import (
	"fmt"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// concatOp stacks a [N, Ca, S...] and b [N, Cb, S...] along axis 1. It
// replaces gorgonia's Concat, which copies through generic iterators (and
// whose gradient materializes slices the same way).
type concatOp struct {
	opBase
	out *sideBuf // the output, reused across steps
}

func newConcat() concatOp { return concatOp{opBase{"ConcatC", 2}, &sideBuf{}} }

func (o concatOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o concatOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(a) < 2 || len(a) != len(b) || a[0] != b[0] || !slices.Equal(a[2:], b[2:]) {
		return nil, fmt.Errorf("concat: shapes %v and %v do not match", in[0], in[1])
	}
	s := a.Clone()
	s[1] += b[1]
	return s, nil
}

func (o concatOp) DiffWRT(int) []bool { return []bool{true, true} }

func (o concatOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	ca, cb := in[0].Shape()[1], in[1].Shape()[1]
	da, err := G.ApplyOp(sliceCOp{opBase{fmt.Sprintf("SliceC{0,%d}", ca), 1}, 0, ca, &sideBuf{}}, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(sliceCOp{opBase{fmt.Sprintf("SliceC{%d,%d}", ca, ca+cb), 1}, ca, ca + cb, &sideBuf{}}, grad)
	return G.Nodes{da, db}, err
}

func (o concatOp) Do(vs ...G.Value) (G.Value, error) {
	var a, b *tensor.Dense
	if err := o.args(vs, &a, &b); err != nil {
		return nil, err
	}
	s, err := o.InferShape(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(a.Dtype(), s...), vs...)
}

func (o concatOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	var a, b *tensor.Dense
	if err := o.args(vs, &a, &b); err != nil {
		return nil, err
	}
	out, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	n, ca, s := dims(a.Shape())
	_, cb, _ := dims(b.Shape())
	switch ad := a.Data().(type) {
	case []float32:
		concatC(out.Data().([]float32), ad, b.Data().([]float32), n, ca*s, cb*s)
	case []float64:
		concatC(out.Data().([]float64), ad, b.Data().([]float64), n, ca*s, cb*s)
	default:
		return nil, fmt.Errorf("concat: unsupported dtype %v", a.Dtype())
	}
	return out, nil
}

func concatC[T float](out, a, b []T, n, la, lb int) {
	for i := 0; i < n; i++ {
		copy(out[i*(la+lb):], a[i*la:(i+1)*la])
		copy(out[i*(la+lb)+la:], b[i*lb:(i+1)*lb])
	}
}

// sliceCOp keeps channels [from, to) of x [N, C, S...].
type sliceCOp struct {
	opBase
	from, to int
	out      *sideBuf // the output, reused across steps
}

func (o sliceCOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p)
}

func (o sliceCOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) < 2 || o.to > s[1] {
		return nil, fmt.Errorf("%s: bad shape %v", o.name, in[0])
	}
	s = s.Clone()
	s[1] = o.to - o.from
	return s, nil
}

func (o sliceCOp) Do(vs ...G.Value) (G.Value, error) {
	var x *tensor.Dense
	if err := o.args(vs, &x); err != nil {
		return nil, err
	}
	s, err := o.InferShape(x.Shape())
	if err != nil {
		return nil, err
	}
	out := o.out.fresh(x.Dtype(), s...)
	n, c, sp := dims(x.Shape())
	switch xd := x.Data().(type) {
	case []float32:
		sliceC(out.Data().([]float32), xd, n, c*sp, o.from*sp, o.to*sp)
	case []float64:
		sliceC(out.Data().([]float64), xd, n, c*sp, o.from*sp, o.to*sp)
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, x.Dtype())
	}
	return out, nil
}

func sliceC[T float](out, x []T, n, l, lo, hi int) {
	for i := 0; i < n; i++ {
		copy(out[i*(hi-lo):(i+1)*(hi-lo)], x[i*l+lo:i*l+hi])
	}
}
