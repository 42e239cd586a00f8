package nn

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

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
	d, err := G.ApplyOp(xentGradOp{opBase{"SoftmaxXentGrad", 4}, o.cache, &sideBuf{}}, in[0], in[1], out, grad)
	return G.Nodes{d, nil}, err
}

func (o xentOp) Do(vs ...G.Value) (G.Value, error) {
	var z, t *tensor.Dense
	if err := o.args(vs, &z, &t); err != nil {
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
	perImage(n, func() (scratch, func()) {
		return scratch{make([]float64, s), make([]float64, s), make([]T, s)}, func() {}
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
	out   *sideBuf // the output, reused across steps
}

func (o xentGradOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	b := hm.TypeVariable('q')
	return hm.NewFnType(a, a, b, b, a)
}
func (o xentGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }
func (o xentGradOp) Do(vs ...G.Value) (G.Value, error) {
	var z *tensor.Dense
	if err := o.args(vs, &z); err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(z.Dtype(), z.Shape()...), vs...)
}
func (o xentGradOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	var z, t *tensor.Dense
	if err := o.args(vs, &z, &t); err != nil {
		return nil, err
	}
	g, err := scalarOf(vs[3])
	if err != nil {
		return nil, err
	}
	out, err := o.output(pre)
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
	perImage(n, func() ([]float64, func()) { return make([]float64, s), func() {} }, func(i int, tsum []float64) {
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
