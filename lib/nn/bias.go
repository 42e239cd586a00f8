package nn

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// biasOp adds b [C] along axis 1 of x [N, C, S...], optionally followed by a
// ReLU; fusing the two saves a pass and a broadcast over the activations.
type biasOp struct {
	opBase
	relu  bool
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func newBias(relu bool, sp *splitState) biasOp {
	if relu {
		return biasOp{opBase{"BiasReLU", 2}, true, sp, &sideBuf{}}
	}
	return biasOp{opBase{"Bias", 2}, false, sp, &sideBuf{}}
}

func (o biasOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	b := hm.TypeVariable('q')
	return hm.NewFnType(a, b, a)
}
func (o biasOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }
func (o biasOp) DiffWRT(int) []bool                                { return []bool{true, true} }
func (o biasOp) SymDiff(_ G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dpre, db, err := biasSymDiff(o.relu, o.split, out, grad)
	return G.Nodes{dpre, db}, err
}

// biasSymDiff returns the gradients of the input and of the bias of a bias
// (+ ReLU with relu) whose output is out and whose output's gradient is
// grad: dpre, grad where out > 0 with relu, and db, dpre summed per
// channel.
func biasSymDiff(relu bool, sp *splitState, out, grad *G.Node) (dpre, db *G.Node, err error) {
	dpre = grad
	if relu {
		if dpre, err = G.ApplyOp(reluGradOp{opBase{"ReLUGrad", 2}, sp, &sideBuf{}}, out, grad); err != nil {
			return nil, nil, err
		}
	}
	db, err = G.ApplyOp(biasGradOp{opBase{fmt.Sprintf("BiasGrad%d", dpre.Dims()), 1}, dpre.Dims(), sp, &sideBuf{}}, dpre)
	return dpre, db, err
}
func (o biasOp) Do(vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x *tensor.Dense
	if err := o.args(vs, &x); err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(x.Dtype(), x.Shape()...), vs...)
}
func (o biasOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x, b *tensor.Dense
	if err := o.args(vs, &x, &b); err != nil {
		return nil, err
	}
	out, err := o.output(pre)
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
	o.out.last = out
	return out, nil
}

func biasForward[T float](y, x, b []T, n, c, s int, relu bool) {
	chunks(n, c*s, func(i0, i1 int) { biasImages(y, x, b, i0, i1, c, s, relu) })
}

func biasImages[T float](y, x, b []T, i0, i1, c, s int, relu bool) {
	if y32, ok := any(y).([]float32); ok && relu {
		biasReLU32(y32, any(x).([]float32), any(b).([]float32), i0, i1, c, s)
		return
	}
	for i := i0; i < i1; i++ {
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

// biasReLU32 is biasImages with the ReLU on float32, one plane at a time
// (addReLU).
func biasReLU32(y, x, b []float32, i0, i1, c, s int) {
	for i := i0; i < i1; i++ {
		for k := 0; k < c; k++ {
			off := (i*c + k) * s
			addReLU(y[off:off+s], x[off:off+s], b[k])
		}
	}
}

// addReLUGo is y[i] = max(x[i] + b, 0) without branches (a conv's outputs
// are negative at random, which a branch mispredicts): the sum's bits are
// cleared when it is below zero, exactly where v < 0 holds (sign set,
// magnitude from the smallest subnormal to infinity), so −0 and NaN pass
// through as the branch lets them.
func addReLUGo(y, x []float32, b float32) {
	x = x[:len(y)]
	for p, v := range x {
		u := math.Float32bits(v + b)
		if u-0x80000001 < 0x7f800000 {
			u = 0
		}
		y[p] = math.Float32frombits(u)
	}
}

// reluGradOp passes g where the ReLU output y is positive.
type reluGradOp struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func (o reluGradOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a, a)
}
func (o reluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }
func (o reluGradOp) Do(vs ...G.Value) (G.Value, error) {
	var y *tensor.Dense
	if err := o.args(vs, &y); err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(y.Dtype(), y.Shape()...), vs...)
}
func (o reluGradOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	var y, g *tensor.Dense
	if err := o.args(vs, &y, &g); err != nil {
		return nil, err
	}
	out, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	if o.split.skips(o.out) {
		return out, nil
	}
	// In a replay pass the first part's images are skipped (splitState).
	n := y.Shape()[0]
	at := o.split.from(n) * (y.Shape().TotalSize() / n)
	switch yd := y.Data().(type) {
	case []float32:
		reluMask(out.Data().([]float32)[at:], yd[at:], g.Data().([]float32)[at:])
	case []float64:
		reluMask(out.Data().([]float64)[at:], yd[at:], g.Data().([]float64)[at:])
	default:
		return nil, fmt.Errorf("relu grad: unsupported dtype %v", y.Dtype())
	}
	return out, nil
}

func reluMask[T float](d, y, g []T) {
	const blk = 4096
	chunks((len(y)+blk-1)/blk, blk, func(b0, b1 int) {
		lo, hi := b0*blk, min(b1*blk, len(y))
		d, g := d[lo:hi], g[lo:hi]
		if d32, ok := any(d).([]float32); ok {
			reluMask32(d32, any(y[lo:hi]).([]float32), any(g).([]float32))
			return
		}
		for i, v := range y[lo:hi] {
			if v > 0 {
				d[i] = g[i]
			} else {
				d[i] = 0
			}
		}
	})
}

// reluMaskGo is reluMask on float32 without branches: g's bits pass where
// y > 0 (sign clear, magnitude from the smallest subnormal to infinity).
func reluMaskGo(d, y, g []float32) {
	g = g[:len(y)]
	d = d[:len(y)]
	for i, v := range y {
		u := math.Float32bits(g[i])
		if math.Float32bits(v)-1 >= 0x7f800000 {
			u = 0
		}
		d[i] = math.Float32frombits(u)
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
func (o biasGradOp) skipKey() *sideBuf    { return o.side }
func (o reluGradOp) skipKey() *sideBuf    { return o.out }

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
	var g *tensor.Dense
	if err := o.args(vs, &g); err != nil {
		return nil, err
	}
	n, c, s := dims(g.Shape())
	r := o.split.at(n)
	out := tensor.New(tensor.Of(g.Dtype()), tensor.WithShape(c))
	if o.split.skips(o.side) {
		return out, nil
	}
	var side *tensor.Dense
	if r < n {
		side = o.side.like(out)
	}
	// In a replay pass only the second part's sum is wanted (splitState).
	skip := o.split.skipA()
	switch gd := g.Data().(type) {
	case []float32:
		if !skip {
			biasSum(out.Data().([]float32), gd[:r*c*s], r, c, s)
		}
		if side != nil {
			biasSum(side.Data().([]float32), gd[r*c*s:], n-r, c, s)
		}
	case []float64:
		if !skip {
			biasSum(out.Data().([]float64), gd[:r*c*s], r, c, s)
		}
		if side != nil {
			biasSum(side.Data().([]float64), gd[r*c*s:], n-r, c, s)
		}
	default:
		return nil, fmt.Errorf("bias grad: unsupported dtype %v", g.Dtype())
	}
	return out, nil
}

func biasSum[T float](db, g []T, n, c, s int) {
	// Channels are independent sums: the goroutines share them, and each
	// channel's sum runs over the images in order as on one core.
	g32, is32 := any(g).([]float32)
	chunks(c, n*s, func(k0, k1 int) {
		k := k0
		if is32 { // eight channels at a time where the CPU can (biasSum8)
			var acc [8]float64
			for ; k+8 <= k1 && biasSum8(&acc, g32, n, c, s, k); k += 8 {
				for j, v := range acc {
					db[k+j] = T(v)
				}
			}
		}
		for ; k < k1; k++ {
			db[k] = T(biasSumChannel(g, n, c, s, k))
		}
	})
}

// biasSumChannel is the sum of channel k of g [n, c, s]: each image's
// plane summed in pixel order from +0, and those sums added in image
// order, four images' sums kept apart at a time (independent chains that
// overlap in the pipeline).
func biasSumChannel[T float](g []T, n, c, s, k int) float64 {
	var acc float64
	i := 0
	for ; i+4 <= n; i += 4 {
		g0 := g[(i*c+k)*s:][:s]
		g1 := g[((i+1)*c+k)*s:][:s]
		g2 := g[((i+2)*c+k)*s:][:s]
		g3 := g[((i+3)*c+k)*s:][:s]
		var s0, s1, s2, s3 float64
		for p := range g0 {
			s0 += float64(g0[p])
			s1 += float64(g1[p])
			s2 += float64(g2[p])
			s3 += float64(g3[p])
		}
		acc += s0
		acc += s1
		acc += s2
		acc += s3
	}
	for ; i < n; i++ {
		off := (i*c + k) * s
		var sum float64
		for _, v := range g[off : off+s] {
			sum += float64(v)
		}
		acc += sum
	}
	return acc
}
