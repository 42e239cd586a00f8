package nn

import (
	"fmt"
	"runtime"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// catConvOp is the 1×1 convolution of the channel concatenation of a
// [N, Ca, H, W] and b [N, Cb, H, W] with w [O, Ca+Cb, 1, 1], without
// building the concatenation (the fcn's head). Each output is one chain
// over a's channels and then b's (the second product continues the first's
// sums), and each gradient is the matching part of the concatenation's, so
// the bits are those of a 1×1 convOp on the concatenated tensor (which
// this op replaced; the golden digests did not move).
//
// With bias it takes a fourth input, the bias [O], and adds it to each
// image's output right after that image's products, while the output is
// still in the cache: the arithmetic of a catConvOp followed by a biasOp,
// without the second pass over the logits and their second buffer.
type catConvOp struct {
	opBase
	bias  bool
	split *splitState
	out   *sideBuf // the output, reused across steps
}

// newCatConv makes a catConvOp, with bias one that adds a bias.
func newCatConv(bias bool, sp *splitState) catConvOp {
	if bias {
		return catConvOp{opBase{"BiasCatConv1x1", 4}, true, sp, &sideBuf{}}
	}
	return catConvOp{opBase{"CatConv1x1", 3}, false, sp, &sideBuf{}}
}

func (o catConvOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	if o.bias {
		return hm.NewFnType(p, p, p, hm.TypeVariable('q'), p)
	}
	return hm.NewFnType(p, p, p, p)
}

func (o catConvOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	as, ok1 := in[0].(tensor.Shape)
	bs, ok2 := in[1].(tensor.Shape)
	ws, ok3 := in[2].(tensor.Shape)
	if !ok1 || !ok2 || !ok3 || len(as) != 4 || len(bs) != 4 || len(ws) != 4 ||
		as[0] != bs[0] || as[2] != bs[2] || as[3] != bs[3] || ws[1] != as[1]+bs[1] || ws[2] != 1 || ws[3] != 1 {
		return nil, fmt.Errorf("%s: bad shapes %v, %v * %v", o.name, in[0], in[1], in[2])
	}
	return tensor.Shape{as[0], ws[0], as[2], as[3]}, nil
}

func (o catConvOp) DiffWRT(int) []bool {
	if o.bias {
		return []bool{true, true, true, true}
	}
	return []bool{true, true, true}
}

// SymDiff gives the gradients of a, b and w (and of the bias, the output's
// gradient summed per channel, as biasOp.SymDiff gives it).
func (o catConvOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var dbias *G.Node
	if o.bias {
		var err error
		if grad, dbias, err = biasSymDiff(false, o.split, out, grad); err != nil {
			return nil, err
		}
	}
	ca, cb := in[0].Shape()[1], in[1].Shape()[1]
	da, err := G.ApplyOp(catConvGradInputOp{opBase{"CatConv1x1GradInputA", 2}, 0, ca, o.split, &sideBuf{}}, in[2], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(catConvGradInputOp{opBase{"CatConv1x1GradInputB", 2}, ca, ca + cb, o.split, &sideBuf{}}, in[2], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(catConvGradFilterOp{opBase{"CatConv1x1GradFilter", 3}, o.split, &sideBuf{}, &sideBuf{}}, in[0], in[1], grad)
	if o.bias {
		return G.Nodes{da, db, dw, dbias}, err
	}
	return G.Nodes{da, db, dw}, err
}

func (o catConvOp) Do(vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var a, b, w *tensor.Dense
	if err := o.args(vs, &a, &b, &w); err != nil {
		return nil, err
	}
	s, err := o.InferShape(a.Shape(), b.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(a.Dtype(), s...), vs...)
}

func (o catConvOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var a, b, w *tensor.Dense
	if err := o.args(vs, &a, &b, &w); err != nil {
		return nil, err
	}
	y, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	g := catGeom{a.Shape()[0], a.Shape()[1], b.Shape()[1], w.Shape()[0], a.Shape()[2] * a.Shape()[3]}
	var bias *tensor.Dense
	if o.bias {
		if err := o.args(vs, &a, &b, &w, &bias); err != nil {
			return nil, err
		}
		if bias.Shape().TotalSize() != g.o || bias.Dtype() != a.Dtype() {
			return nil, fmt.Errorf("%s: bias %v %v for %d channels", o.name, bias.Dtype(), bias.Shape(), g.o)
		}
	}
	switch ad := a.Data().(type) {
	case []float32:
		var bd []float32
		if bias != nil {
			bd = bias.Data().([]float32)
		}
		catConvForward(g, y.Data().([]float32), ad, b.Data().([]float32), w.Data().([]float32), bd)
	case []float64:
		var bd []float64
		if bias != nil {
			bd = bias.Data().([]float64)
		}
		catConvForward(g, y.Data().([]float64), ad, b.Data().([]float64), w.Data().([]float64), bd)
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, a.Dtype())
	}
	o.out.last = y
	return y, nil
}

// catGeom is the shape of a catConvOp: n images, ca and cb input channels,
// o output channels, hw pixels.
type catGeom struct{ n, ca, cb, o, hw int }

// catConvForward computes y = w × concat(a, b), then when bias is not nil
// y = y + bias, image by image, each right after its products.
func catConvForward[T float](g catGeom, y, a, b, w, bias []T) {
	c := g.ca + g.cb
	perImage(g.n, func() (struct{}, func()) { return struct{}{}, func() {} }, func(i int, _ struct{}) {
		yi := y[i*g.o*g.hw : (i+1)*g.o*g.hw]
		gemm(false, false, g.o, g.hw, g.ca, w, c, a[i*g.ca*g.hw:(i+1)*g.ca*g.hw], g.hw, false, yi, g.hw, 1)
		gemm(false, false, g.o, g.hw, g.cb, w[g.ca:], c, b[i*g.cb*g.hw:(i+1)*g.cb*g.hw], g.hw, true, yi, g.hw, 1)
		if bias != nil {
			biasImages(y, y, bias, i, i+1, g.o, g.hw, false)
		}
	})
}

// catConvGradInputOp is the gradient of a (channels [lo, hi) of w) or b:
// wᵀ[lo:hi] × gy per image.
type catConvGradInputOp struct {
	opBase
	lo, hi int
	split  *splitState
	out    *sideBuf // the output, reused across steps
}

func (o catConvGradInputOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o catConvGradInputOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, ok := in[1].(tensor.Shape)
	if !ok || len(gs) != 4 {
		return nil, fmt.Errorf("%s: bad shape %v", o.name, in[1])
	}
	return tensor.Shape{gs[0], o.hi - o.lo, gs[2], gs[3]}, nil
}

func (o catConvGradInputOp) Do(vs ...G.Value) (G.Value, error) {
	var w, gy *tensor.Dense
	if err := o.args(vs, &w, &gy); err != nil {
		return nil, err
	}
	s, err := o.InferShape(w.Shape(), gy.Shape())
	if err != nil {
		return nil, err
	}
	dx := o.out.fresh(w.Dtype(), s...)
	if o.split.skips(o.out) {
		return dx, nil
	}
	n, oc, hw, c, ch := s[0], w.Shape()[0], s[2]*s[3], w.Shape()[1], o.hi-o.lo
	// In a replay pass the first part's images are skipped (splitState).
	f := o.split.from(n)
	xo, yo := f*ch*hw, f*oc*hw
	switch wd := w.Data().(type) {
	case []float32:
		catInputGrad(dx.Data().([]float32)[xo:], wd[o.lo:], gy.Data().([]float32)[yo:], n-f, oc, ch, c, hw)
	case []float64:
		catInputGrad(dx.Data().([]float64)[xo:], wd[o.lo:], gy.Data().([]float64)[yo:], n-f, oc, ch, c, hw)
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, w.Dtype())
	}
	return dx, nil
}

func catInputGrad[T float](dx, w, gy []T, n, o, ch, c, hw int) {
	perImage(n, func() (struct{}, func()) { return struct{}{}, func() {} }, func(i int, _ struct{}) {
		gemm(true, false, ch, hw, o, w, c, gy[i*o*hw:(i+1)*o*hw], hw, false, dx[i*ch*hw:(i+1)*ch*hw], hw, 1)
	})
}

// catConvGradFilterOp is dL/dw for catConvOp; of a split batch it sums
// images [0, r) here and [r, N) into its side buffer.
type catConvGradFilterOp struct {
	opBase
	split *splitState
	side  *sideBuf
	out   *sideBuf // the output, reused across steps
}

func (o catConvGradFilterOp) sideBuffer() *sideBuf { return o.side }
func (o catConvGradFilterOp) skipKey() *sideBuf    { return o.out }
func (o catConvGradInputOp) skipKey() *sideBuf     { return o.out }

func (o catConvGradFilterOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p, p)
}

func (o catConvGradFilterOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	as, ok1 := in[0].(tensor.Shape)
	bs, ok2 := in[1].(tensor.Shape)
	gs, ok3 := in[2].(tensor.Shape)
	if !ok1 || !ok2 || !ok3 || len(as) != 4 || len(bs) != 4 || len(gs) != 4 {
		return nil, fmt.Errorf("%s: bad shapes %v, %v, %v", o.name, in[0], in[1], in[2])
	}
	return tensor.Shape{gs[1], as[1] + bs[1], 1, 1}, nil
}

func (o catConvGradFilterOp) Do(vs ...G.Value) (G.Value, error) {
	var a, b, gy *tensor.Dense
	if err := o.args(vs, &a, &b, &gy); err != nil {
		return nil, err
	}
	g := catGeom{a.Shape()[0], a.Shape()[1], b.Shape()[1], gy.Shape()[1], a.Shape()[2] * a.Shape()[3]}
	dw := o.out.fresh(a.Dtype(), g.o, g.ca+g.cb, 1, 1)
	if o.split.skips(o.out) {
		return dw, nil
	}
	r := o.split.at(g.n)
	ga, gb := g, g
	ga.n, gb.n = r, g.n-r
	aa, ba, ya := r*g.ca*g.hw, r*g.cb*g.hw, r*g.o*g.hw // where the second part starts
	skip := o.split.skipA()                            // a replay pass wants the second part only
	switch ad := a.Data().(type) {
	case []float32:
		bd, gyd := b.Data().([]float32), gy.Data().([]float32)
		if !skip {
			catFilterGrad(ga, dw.Data().([]float32), ad[:aa], bd[:ba], gyd[:ya])
		}
		if gb.n > 0 {
			catFilterGrad(gb, o.side.like(dw).Data().([]float32), ad[aa:], bd[ba:], gyd[ya:])
		}
	case []float64:
		bd, gyd := b.Data().([]float64), gy.Data().([]float64)
		if !skip {
			catFilterGrad(ga, dw.Data().([]float64), ad[:aa], bd[:ba], gyd[:ya])
		}
		if gb.n > 0 {
			catFilterGrad(gb, o.side.like(dw).Data().([]float64), ad[aa:], bd[ba:], gyd[ya:])
		}
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, a.Dtype())
	}
	return dw, nil
}

// catFilterGrad is convFilterGrad on the concatenation of a and b: dwᵀ's
// rows are a's channels then b's, each one chain over the images in order;
// the goroutines share the channels.
func catFilterGrad[T float](g catGeom, dw, a, b, gy []T) {
	c := g.ca + g.cb
	if g.n == 0 {
		clear(dw)
		return
	}
	dwT, done := getScratch[T](c * g.o)
	defer done()
	gyT, doneT := transposeImages(gy, g.n, g.o, g.hw)
	defer doneT()
	workers := min(c, runtime.GOMAXPROCS(0))
	parallel(workers, func(w int) {
		c0, c1 := c*w/workers, c*(w+1)/workers
		for i := 0; i < g.n; i++ {
			gyi := gyT[i*g.o*g.hw : (i+1)*g.o*g.hw]
			if lo, hi := c0, min(c1, g.ca); lo < hi { // a's channels
				gemm(false, false, hi-lo, g.o, g.hw, a[(i*g.ca+lo)*g.hw:], g.hw, gyi, g.o, i > 0, dwT[lo*g.o:], g.o, 1)
			}
			if lo, hi := max(c0, g.ca), c1; lo < hi { // b's channels
				gemm(false, false, hi-lo, g.o, g.hw, b[(i*g.cb+lo-g.ca)*g.hw:], g.hw, gyi, g.o, i > 0, dwT[lo*g.o:], g.o, 1)
			}
		}
	})
	for j := 0; j < c; j++ {
		for o := 0; o < g.o; o++ {
			dw[o*c+j] = dwT[j*g.o+o]
		}
	}
}
