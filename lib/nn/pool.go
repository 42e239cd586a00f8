package nn

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pool2Op is the 2×2, stride-2 max pool of x [N, C, H, W], giving
// [N, C, ⌊H/2⌋, ⌊W/2⌋]. It gives the bits of gorgonia's MaxPool2D (which it
// replaces: that op allocates its output and an index mask every call and
// runs on one core): each window's maximum starts at −MaxFloat and takes a
// value only when it is strictly greater, scanning the window row by row,
// and the gradient goes to the first maximum (none when no value beat
// −MaxFloat). With a NaN in a window the two may differ (the tournament
// below compares in another order than gorgonia's scan).
type pool2Op struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func newPool2(sp *splitState) pool2Op { return pool2Op{opBase{"MaxPool2", 1}, sp, &sideBuf{}} }

func (o pool2Op) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a)
}

func (o pool2Op) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 4 || s[2] < 2 || s[3] < 2 {
		return nil, fmt.Errorf("maxpool: want a 4-d shape of sides ≥ 2, got %v", in[0])
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}

func (o pool2Op) DiffWRT(int) []bool { return []bool{true} }

func (o pool2Op) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(pool2GradOp{opBase{"MaxPool2Grad", 2}, o.split, &sideBuf{}}, in[0], grad)
	return G.Nodes{d}, err
}

func (o pool2Op) Do(vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x *tensor.Dense
	if err := o.args(vs, &x); err != nil {
		return nil, err
	}
	s, err := o.InferShape(x.Shape())
	if err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(x.Dtype(), s...), vs...)
}

func (o pool2Op) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x *tensor.Dense
	if err := o.args(vs, &x); err != nil {
		return nil, err
	}
	out, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	switch xd := x.Data().(type) {
	case []float32:
		maxPool2(out.Data().([]float32), nil, xd, nil, s[0]*s[1], s[2], s[3], -math.MaxFloat32)
	case []float64:
		maxPool2(out.Data().([]float64), nil, xd, nil, s[0]*s[1], s[2], s[3], -math.MaxFloat64)
	default:
		return nil, fmt.Errorf("maxpool: unsupported dtype %v", x.Dtype())
	}
	o.out.last = out
	return out, nil
}

// pool2GradOp routes gy [N, C, ⌊H/2⌋, ⌊W/2⌋] to the first maximum of each
// window of x [N, C, H, W] (recomputed from x, as the forward pass found
// it); every other element of dx is zero.
type pool2GradOp struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func (o pool2GradOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a, a)
}

func (o pool2GradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return o.sameShape(in...) }

func (o pool2GradOp) Do(vs ...G.Value) (G.Value, error) {
	var x, gy *tensor.Dense
	if err := o.args(vs, &x, &gy); err != nil {
		return nil, err
	}
	return o.UsePreallocDo(o.out.fresh(x.Dtype(), x.Shape()...), vs...)
}

func (o pool2GradOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
	var x, gy *tensor.Dense
	if err := o.args(vs, &x, &gy); err != nil {
		return nil, err
	}
	out, err := o.output(pre)
	if err != nil {
		return nil, err
	}
	if o.split.skips(o.out) {
		return out, nil
	}
	s := x.Shape()
	// In a replay pass the first part's images are skipped (splitState).
	f := o.split.from(s[0])
	xo, yo := f*s[1]*s[2]*s[3], f*s[1]*(s[2]/2)*(s[3]/2)
	switch xd := x.Data().(type) {
	case []float32:
		maxPool2(nil, out.Data().([]float32)[xo:], xd[xo:], gy.Data().([]float32)[yo:], (s[0]-f)*s[1], s[2], s[3], -math.MaxFloat32)
	case []float64:
		maxPool2(nil, out.Data().([]float64)[xo:], xd[xo:], gy.Data().([]float64)[yo:], (s[0]-f)*s[1], s[2], s[3], -math.MaxFloat64)
	default:
		return nil, fmt.Errorf("maxpool grad: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

func (o pool2GradOp) skipKey() *sideBuf { return o.out }

// maxPool2 pools planes of x [h, w]: into y when y is not nil, and, when dx is
// not nil, routes gy to each window's first maximum in dx (dx's other
// elements, including a last odd row or column, become zero). The gradient
// is 0 + gy, the bits of gorgonia's accumulation into a zeroed tensor.
// Float32 rows go through pool2Rows32 (vector code with the same bits,
// every window where the CPU has AVX2), other rows through pool2Windows.
func maxPool2[T float](y, dx, x, gy []T, planes, h, w int, lowest T) {
	ho, wo := h/2, w/2
	x32, _ := any(x).([]float32)
	y32, _ := any(y).([]float32)
	dx32, _ := any(dx).([]float32)
	gy32, _ := any(gy).([]float32)
	chunks(planes, h*w, func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			xp := x[p*h*w : (p+1)*h*w]
			var dp []T
			if dx != nil {
				dp = dx[p*h*w : (p+1)*h*w]
				if h%2 != 0 || w%2 != 0 {
					clear(dp)
				}
			}
			for i := 0; i < ho; i++ {
				o := (p*ho + i) * wo // the row's first output
				j0 := 0
				if x32 != nil {
					r := p*h*w + 2*i*w
					var yr, d0, d1, gr []float32
					if y32 != nil {
						yr = y32[o : o+wo]
					}
					if dx32 != nil {
						d0, d1, gr = dx32[r:r+w], dx32[r+w:r+2*w], gy32[o:o+wo]
					}
					j0 = pool2Rows32(yr, d0, d1, x32[r:r+w], x32[r+w:r+2*w], gr)
				}
				pool2Windows(y, dp, xp, gy, i, o, j0, wo, w, lowest)
			}
		}
	})
}

// pool2Windows pools windows j0 ≤ j < wo of output row i of plane xp [h, w]
// (output index o + j), as maxPool2 describes.
func pool2Windows[T float](y, dp, xp, gy []T, i, o, j0, wo, w int, lowest T) {
	r0, r1 := xp[2*i*w:(2*i+1)*w], xp[(2*i+1)*w:(2*i+2)*w]
	for j := j0; j < wo; j++ {
		v := [4]T{r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]}
		// The first maximum by a tournament of strict comparisons, on
		// indices (conditional moves, not branches the random data would
		// mispredict).
		a, b, sel := 0, 2, 0
		if v[1] > v[0] {
			a = 1
		}
		if v[3] > v[2] {
			b = 3
		}
		if v[b] > v[a] {
			sel = 1
		}
		a += sel * (b - a)
		m, at := v[a], a
		if !(m > lowest) {
			m, at = lowest, -1
		}
		if y != nil {
			y[o+j] = m
		}
		if dp != nil {
			d0, d1 := dp[2*i*w:(2*i+1)*w], dp[(2*i+1)*w:(2*i+2)*w]
			d0[2*j], d0[2*j+1], d1[2*j], d1[2*j+1] = 0, 0, 0, 0
			if at >= 0 {
				var zero T
				dp[(2*i+at>>1)*w+2*j+at&1] = zero + gy[o+j]
			}
		}
	}
}
