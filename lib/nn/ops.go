package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Type variables here avoid the letter b, which gorgonia's type inference
// reserves for the return type.
//
// This file holds the few graph operations written here instead of taken
// from gorgonia: gorgonia's own versions are either slow (per-element At/SetAt
// upsampling, a goroutine per softmax row, broadcasting by materialized
// repeats) or numerically careless (its softmax subtracts the first element of
// the whole tensor, not the row maximum). Each op is paired with an explicit
// backward op and checked against finite differences in the tests.
//
// Tensors are laid out as [N, C, S...] and the ops treat every trailing
// dimension as one flat spatial axis of size S.

// float is the element type the kernels are generic over.
type float interface{ ~float32 | ~float64 }

// opBase carries the boilerplate shared by the custom ops.
type opBase struct {
	name  string
	arity int
}

func (o opBase) Arity() int            { return o.arity }
func (o opBase) ReturnsPtr() bool      { return false }
func (o opBase) CallsExtern() bool     { return false }
func (o opBase) OverwritesInput() int  { return -1 }
func (o opBase) String() string        { return o.name }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }
func (o opBase) Hashcode() uint32      { h := fnv.New32a(); o.WriteHash(h); return h.Sum32() }
func (o opBase) sameShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%s: input shape is %T, not a shape", o.name, in[0])
	}
	return s.Clone(), nil
}

// dims splits a [N, C, S...] shape into N, C and the product S.
func dims(s tensor.Shape) (n, c, sp int) {
	n, c, sp = s[0], 1, 1
	if len(s) > 1 {
		c = s[1]
	}
	for _, d := range s[2:] {
		sp *= d
	}
	return n, c, sp
}

func dense(v G.Value) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("value is %T, not a dense tensor", v)
	}
	return d, nil
}

// scalarOf reads a scalar value in whichever form gorgonia passes it.
func scalarOf(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F64:
		return float64(*s), nil
	case *G.F32:
		return float64(*s), nil
	case *tensor.Dense:
		switch d := s.Data().(type) {
		case float64:
			return d, nil
		case float32:
			return float64(d), nil
		case []float64:
			if len(d) == 1 {
				return d[0], nil
			}
		case []float32:
			if len(d) == 1 {
				return float64(d[0]), nil
			}
		}
	}
	return 0, fmt.Errorf("value %T is not a scalar", v)
}

func newLike(d *tensor.Dense) *tensor.Dense {
	return tensor.New(tensor.Of(d.Dtype()), tensor.WithShape(d.Shape().Clone()...))
}

// ---- softmax cross-entropy -------------------------------------------------

// xentOp computes -Σ t·log softmax(z) where the softmax runs over axis 1 of
// z [N, C, S...] and t has z's shape. The caller folds labels, per-sample or
// per-pixel weights and the normalization into t, so one op serves the mean
// classification loss and the weighted segmentation loss alike. Positions
// whose targets are all zero are skipped (a weight map selecting pasted
// instances costs only their pixels).
//
// The forward pass leaves the softmax in a cache shared with its gradient
// op, which takes the loss node as an input so that it always runs after the
// forward pass of the same run.
type xentOp struct {
	opBase
	dt    tensor.Dtype
	cache *xentCache
	split *splitState
}

// xentCache holds the softmax of the last forward pass ([]float32 or
// []float64, z's shape; valid where the targets are not all zero).
type xentCache struct{ p any }

func newXent(dt tensor.Dtype, sp *splitState) xentOp {
	return xentOp{opBase{"SoftmaxXent", 2}, dt, &xentCache{}, sp}
}

func (o xentOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a, o.dt)
}
func (o xentOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (o xentOp) DiffWRT(int) []bool                             { return []bool{true, false} }
func (o xentOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(xentGradOp{opBase{"SoftmaxXentGrad", 4}, o.cache}, in[0], in[1], out, grad)
	return G.Nodes{d, nil}, err
}

func (o xentOp) Do(vs ...G.Value) (G.Value, error) {
	z, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	t, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	n, c, s := dims(z.Shape())
	switch zd := z.Data().(type) {
	case []float32:
		p, _ := o.cache.p.([]float32)
		if len(p) != len(zd) {
			p = make([]float32, len(zd))
			o.cache.p = p
		}
		l := o.keep(xentForward(p, zd, t.Data().([]float32), n, c, s, o.split.at(n)))
		return tensor.New(tensor.FromScalar(float32(l))), nil
	case []float64:
		p, _ := o.cache.p.([]float64)
		if len(p) != len(zd) {
			p = make([]float64, len(zd))
			o.cache.p = p
		}
		l := o.keep(xentForward(p, zd, t.Data().([]float64), n, c, s, o.split.at(n)))
		return tensor.New(tensor.FromScalar(l)), nil
	}
	return nil, fmt.Errorf("softmax xent: unsupported dtype %v", z.Dtype())
}

// keep leaves the two losses of a split batch in the split state and
// returns the loss of the whole batch.
func (o xentOp) keep(a, b float64) float64 {
	o.split.lossA, o.split.lossB = a, b
	return a + b
}

// xentForward returns the losses of images [0, r) and [r, n), accumulated
// in float64 whatever the element type, and writes the softmax into prob
// where the targets are not all zero. Images run in parallel; their losses
// are added in image order.
func xentForward[T float](prob, z, t []T, n, c, s, r int) (float64, float64) {
	losses := make([]float64, n)
	type scratch struct {
		tsum, se []float64
		mx       []T
	}
	perImage(n, func() scratch {
		return scratch{make([]float64, s), make([]float64, s), make([]T, s)}
	}, func(i int, sc scratch) {
		base := i * c * s
		zi, ti, pi := z[base:base+c*s], t[base:base+c*s], prob[base:base+c*s]
		clear(sc.tsum)
		clear(sc.se)
		copy(sc.mx, zi[:s])
		for k := 0; k < c; k++ {
			for p, v := range ti[k*s : (k+1)*s] {
				sc.tsum[p] += float64(v)
			}
			for p, v := range zi[k*s : (k+1)*s] {
				sc.mx[p] = max(sc.mx[p], v)
			}
		}
		for k := 0; k < c; k++ {
			zk, pk := zi[k*s:(k+1)*s], pi[k*s:(k+1)*s]
			for p, v := range zk {
				if sc.tsum[p] != 0 {
					e := math.Exp(float64(v - sc.mx[p]))
					pk[p] = T(e)
					sc.se[p] += e
				}
			}
		}
		var loss float64
		for k := 0; k < c; k++ {
			zk, tk, pk := zi[k*s:(k+1)*s], ti[k*s:(k+1)*s], pi[k*s:(k+1)*s]
			for p, v := range zk {
				if sc.tsum[p] == 0 {
					continue
				}
				pk[p] = T(float64(pk[p]) / sc.se[p])
				if tk[p] != 0 {
					loss -= float64(tk[p]) * (float64(v-sc.mx[p]) - math.Log(sc.se[p]))
				}
			}
		}
		losses[i] = loss
	})
	var a, b float64
	for _, l := range losses[:r] {
		a += l
	}
	for _, l := range losses[r:] {
		b += l
	}
	return a, b
}

// xentGradOp is d/dz of xentOp times the upstream scalar gradient,
// g·(softmax(z)·Σt − t), with the softmax from the forward pass's cache.
// Its inputs are z, t, the loss (only to order it after the forward pass)
// and g.
type xentGradOp struct {
	opBase
	cache *xentCache
}

func (o xentGradOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	b := hm.TypeVariable('q')
	return hm.NewFnType(a, a, b, b, a)
}
func (o xentGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }
func (o xentGradOp) Do(vs ...G.Value) (G.Value, error) {
	z, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(newLike(z), vs...)
}
func (o xentGradOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	z, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	t, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	g, err := scalarOf(vs[3])
	if err != nil {
		return nil, err
	}
	out, err := dense(pre)
	if err != nil {
		return nil, err
	}
	n, c, s := dims(z.Shape())
	switch zd := z.Data().(type) {
	case []float32:
		p, ok := o.cache.p.([]float32)
		if !ok || len(p) != len(zd) {
			return nil, fmt.Errorf("softmax xent grad: no forward pass to reuse")
		}
		xentBackward(out.Data().([]float32), p, t.Data().([]float32), g, n, c, s)
	case []float64:
		p, ok := o.cache.p.([]float64)
		if !ok || len(p) != len(zd) {
			return nil, fmt.Errorf("softmax xent grad: no forward pass to reuse")
		}
		xentBackward(out.Data().([]float64), p, t.Data().([]float64), g, n, c, s)
	default:
		return nil, fmt.Errorf("softmax xent grad: unsupported dtype %v", z.Dtype())
	}
	return out, nil
}

func xentBackward[T float](dz, prob, t []T, g float64, n, c, s int) {
	perImage(n, func() []float64 { return make([]float64, s) }, func(i int, tsum []float64) {
		base := i * c * s
		ti, pi, di := t[base:base+c*s], prob[base:base+c*s], dz[base:base+c*s]
		clear(tsum)
		for k := 0; k < c; k++ {
			for p, v := range ti[k*s : (k+1)*s] {
				tsum[p] += float64(v)
			}
		}
		for k := 0; k < c; k++ {
			tk, pk, dk := ti[k*s:(k+1)*s], pi[k*s:(k+1)*s], di[k*s:(k+1)*s]
			for p, ts := range tsum {
				if ts == 0 {
					dk[p] = 0
					continue
				}
				dk[p] = T(g * (float64(pk[p])*ts - float64(tk[p])))
			}
		}
	})
}

// ---- bias (+ ReLU) ---------------------------------------------------------

// biasOp adds b [C] along axis 1 of x [N, C, S...], optionally followed by a
// ReLU; fusing the two saves a pass and a broadcast over the activations.
type biasOp struct {
	opBase
	relu  bool
	split *splitState
}

func newBias(relu bool, sp *splitState) biasOp {
	if relu {
		return biasOp{opBase{"BiasReLU", 2}, true, sp}
	}
	return biasOp{opBase{"Bias", 2}, false, sp}
}

func (o biasOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	b := hm.TypeVariable('q')
	return hm.NewFnType(a, b, a)
}
func (o biasOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }
func (o biasOp) DiffWRT(int) []bool                                { return []bool{true, true} }
func (o biasOp) SymDiff(_ G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dpre := grad
	if o.relu {
		var err error
		if dpre, err = G.ApplyOp(reluGradOp{opBase{"ReLUGrad", 2}}, out, grad); err != nil {
			return nil, err
		}
	}
	db, err := G.ApplyOp(biasGradOp{opBase{fmt.Sprintf("BiasGrad%d", dpre.Dims()), 1}, dpre.Dims(), o.split, &sideBuf{}}, dpre)
	return G.Nodes{dpre, db}, err
}
func (o biasOp) Do(vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(newLike(x), vs...)
}
func (o biasOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	b, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	out, err := dense(pre)
	if err != nil {
		return nil, err
	}
	n, c, s := dims(x.Shape())
	switch xd := x.Data().(type) {
	case []float32:
		biasForward(out.Data().([]float32), xd, b.Data().([]float32), n, c, s, o.relu)
	case []float64:
		biasForward(out.Data().([]float64), xd, b.Data().([]float64), n, c, s, o.relu)
	default:
		return nil, fmt.Errorf("bias: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

func biasForward[T float](y, x, b []T, n, c, s int, relu bool) {
	for i := 0; i < n; i++ {
		for k := 0; k < c; k++ {
			off := (i*c + k) * s
			bk := b[k]
			xs, ys := x[off:off+s], y[off:off+s]
			for p, v := range xs {
				v += bk
				if relu && v < 0 {
					v = 0
				}
				ys[p] = v
			}
		}
	}
}

// reluGradOp passes g where the ReLU output y is positive.
type reluGradOp struct{ opBase }

func (o reluGradOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a, a)
}
func (o reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }
func (o reluGradOp) Do(vs ...G.Value) (G.Value, error) {
	y, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(newLike(y), vs...)
}
func (o reluGradOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	y, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	g, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	out, err := dense(pre)
	if err != nil {
		return nil, err
	}
	switch yd := y.Data().(type) {
	case []float32:
		reluMask(out.Data().([]float32), yd, g.Data().([]float32))
	case []float64:
		reluMask(out.Data().([]float64), yd, g.Data().([]float64))
	default:
		return nil, fmt.Errorf("relu grad: unsupported dtype %v", y.Dtype())
	}
	return out, nil
}

func reluMask[T float](d, y, g []T) {
	for i, v := range y {
		if v > 0 {
			d[i] = g[i]
		} else {
			d[i] = 0
		}
	}
}

// biasGradOp sums g [N, C, S...] over every axis but 1; of a split batch
// it sums images [0, r) here and [r, N) into its side buffer.
type biasGradOp struct {
	opBase
	dims  int // of g
	split *splitState
	side  *sideBuf
}

func (o biasGradOp) sideBuffer() *sideBuf { return o.side }

func (o biasGradOp) Type() hm.Type {
	d := hm.TypeVariable('p')
	return hm.NewFnType(G.TensorType{Dims: o.dims, Of: d}, G.TensorType{Dims: 1, Of: d})
}
func (o biasGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) < 2 {
		return nil, fmt.Errorf("bias grad: bad input shape %v", in[0])
	}
	return tensor.Shape{s[1]}, nil
}
func (o biasGradOp) Do(vs ...G.Value) (G.Value, error) {
	g, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	n, c, s := dims(g.Shape())
	r := o.split.at(n)
	out := tensor.New(tensor.Of(g.Dtype()), tensor.WithShape(c))
	var side *tensor.Dense
	if r < n {
		side = o.side.like(out)
	}
	switch gd := g.Data().(type) {
	case []float32:
		biasSum(out.Data().([]float32), gd[:r*c*s], r, c, s)
		if side != nil {
			biasSum(side.Data().([]float32), gd[r*c*s:], n-r, c, s)
		}
	case []float64:
		biasSum(out.Data().([]float64), gd[:r*c*s], r, c, s)
		if side != nil {
			biasSum(side.Data().([]float64), gd[r*c*s:], n-r, c, s)
		}
	default:
		return nil, fmt.Errorf("bias grad: unsupported dtype %v", g.Dtype())
	}
	return out, nil
}

func biasSum[T float](db, g []T, n, c, s int) {
	acc := make([]float64, c)
	for i := 0; i < n; i++ {
		for k := 0; k < c; k++ {
			off := (i*c + k) * s
			var sum float64
			for _, v := range g[off : off+s] {
				sum += float64(v)
			}
			acc[k] += sum
		}
	}
	for k := range db {
		db[k] = T(acc[k])
	}
}

// ---- nearest-neighbour upsampling by 2 -------------------------------------

// up2Op repeats every pixel of x [N, C, H, W] into a 2×2 block (PyTorch's
// nn.Upsample(scale_factor=2, mode="nearest")).
type up2Op struct{ opBase }

func newUp2() up2Op { return up2Op{opBase{"Upsample2", 1}} }

func (o up2Op) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a)
}
func (o up2Op) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 4 {
		return nil, fmt.Errorf("upsample: want a 4-d shape, got %v", in[0])
	}
	return tensor.Shape{s[0], s[1], 2 * s[2], 2 * s[3]}, nil
}
func (o up2Op) DiffWRT(int) []bool { return []bool{true} }
func (o up2Op) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(down2SumOp{opBase{"Down2Sum", 1}}, grad)
	return G.Nodes{d}, err
}
func (o up2Op) Do(vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(s[0], s[1], 2*s[2], 2*s[3]))
	return o.UsePreallocDo(out, vs...)
}
func (o up2Op) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	out, err := dense(pre)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	switch xd := x.Data().(type) {
	case []float32:
		upsample2(out.Data().([]float32), xd, s[0]*s[1], s[2], s[3])
	case []float64:
		upsample2(out.Data().([]float64), xd, s[0]*s[1], s[2], s[3])
	default:
		return nil, fmt.Errorf("upsample: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

func upsample2[T float](y, x []T, planes, h, w int) {
	for p := 0; p < planes; p++ {
		xp := x[p*h*w : (p+1)*h*w]
		yp := y[p*4*h*w : (p+1)*4*h*w]
		for i := 0; i < h; i++ {
			r0 := yp[(2*i)*2*w : (2*i+1)*2*w]
			r1 := yp[(2*i+1)*2*w : (2*i+2)*2*w]
			for j, v := range xp[i*w : (i+1)*w] {
				r0[2*j], r0[2*j+1] = v, v
				r1[2*j], r1[2*j+1] = v, v
			}
		}
	}
}

// down2SumOp sums every 2×2 block: the adjoint of up2Op.
type down2SumOp struct{ opBase }

func (o down2SumOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a)
}
func (o down2SumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 4 {
		return nil, fmt.Errorf("down2sum: want a 4-d shape, got %v", in[0])
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}
func (o down2SumOp) Do(vs ...G.Value) (G.Value, error) {
	g, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	s := g.Shape()
	out := tensor.New(tensor.Of(g.Dtype()), tensor.WithShape(s[0], s[1], s[2]/2, s[3]/2))
	switch gd := g.Data().(type) {
	case []float32:
		down2Sum(out.Data().([]float32), gd, s[0]*s[1], s[2]/2, s[3]/2)
	case []float64:
		down2Sum(out.Data().([]float64), gd, s[0]*s[1], s[2]/2, s[3]/2)
	default:
		return nil, fmt.Errorf("down2sum: unsupported dtype %v", g.Dtype())
	}
	return out, nil
}

func down2Sum[T float](y, g []T, planes, h, w int) {
	for p := 0; p < planes; p++ {
		gp := g[p*4*h*w : (p+1)*4*h*w]
		yp := y[p*h*w : (p+1)*h*w]
		for i := 0; i < h; i++ {
			r0 := gp[(2*i)*2*w : (2*i+1)*2*w]
			r1 := gp[(2*i+1)*2*w : (2*i+2)*2*w]
			for j := 0; j < w; j++ {
				yp[i*w+j] = r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]
			}
		}
	}
}

// ---- channel concatenation -------------------------------------------------

// concatOp stacks a [N, Ca, S...] and b [N, Cb, S...] along axis 1. It
// replaces gorgonia's Concat, which copies through generic iterators (and
// whose gradient materializes slices the same way).
type concatOp struct{ opBase }

func newConcat() concatOp { return concatOp{opBase{"ConcatC", 2}} }

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
	da, err := G.ApplyOp(sliceCOp{opBase{fmt.Sprintf("SliceC{0,%d}", ca), 1}, 0, ca}, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(sliceCOp{opBase{fmt.Sprintf("SliceC{%d,%d}", ca, ca+cb), 1}, ca, ca + cb}, grad)
	return G.Nodes{da, db}, err
}

func (o concatOp) Do(vs ...G.Value) (G.Value, error) {
	a, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	b, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	s, err := o.InferShape(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(tensor.New(tensor.Of(a.Dtype()), tensor.WithShape(s...)), vs...)
}

func (o concatOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	a, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	b, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	out, err := dense(pre)
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
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	s, err := o.InferShape(x.Shape())
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(s...))
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
