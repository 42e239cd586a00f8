package nn

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// up2Op repeats every pixel of x [N, C, H, W] into a 2×2 block (PyTorch's
// nn.Upsample(scale_factor=2, mode="nearest")).
type up2Op struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

func newUp2(sp *splitState) up2Op { return up2Op{opBase{"Upsample2", 1}, sp, &sideBuf{}} }

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
	d, err := G.ApplyOp(down2SumOp{opBase{"Down2Sum", 1}, o.split, &sideBuf{}}, grad)
	return G.Nodes{d}, err
}
func (o up2Op) Do(vs ...G.Value) (G.Value, error) {
	if v, ok, err := o.split.replayed(o.out); ok {
		return v, err
	}
	var x *tensor.Dense
	if err := o.args(vs, &x); err != nil {
		return nil, err
	}
	s := x.Shape()
	out := o.out.fresh(x.Dtype(), s[0], s[1], 2*s[2], 2*s[3])
	return o.UsePreallocDo(out, vs...)
}
func (o up2Op) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
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
		upsample2(out.Data().([]float32), xd, s[0]*s[1], s[2], s[3])
	case []float64:
		upsample2(out.Data().([]float64), xd, s[0]*s[1], s[2], s[3])
	default:
		return nil, fmt.Errorf("upsample: unsupported dtype %v", x.Dtype())
	}
	o.out.last = out
	return out, nil
}

func upsample2[T float](y, x []T, planes, h, w int) {
	chunks(planes, 4*h*w, func(p0, p1 int) { upsamplePlanes(y, x, p0, p1, h, w) })
}

// upsamplePlanes upsamples planes [p0, p1); float32 rows go eight pixels at
// a time through up2Row32 where the CPU allows, the rest here.
func upsamplePlanes[T float](y, x []T, p0, p1, h, w int) {
	y32, _ := any(y).([]float32)
	x32, _ := any(x).([]float32)
	for p := p0; p < p1; p++ {
		xp := x[p*h*w : (p+1)*h*w]
		yp := y[p*4*h*w : (p+1)*4*h*w]
		for i := 0; i < h; i++ {
			r0 := yp[(2*i)*2*w : (2*i+1)*2*w]
			r1 := yp[(2*i+1)*2*w : (2*i+2)*2*w]
			j0 := 0
			if y32 != nil {
				yo, xo := p*4*h*w+(2*i)*2*w, p*h*w+i*w
				j0 = up2Row32(y32[yo:yo+2*w], y32[yo+2*w:yo+4*w], x32[xo:xo+w])
			}
			for j := j0; j < w; j++ {
				v := xp[i*w+j]
				r0[2*j], r0[2*j+1] = v, v
				r1[2*j], r1[2*j+1] = v, v
			}
		}
	}
}

func (o down2SumOp) skipKey() *sideBuf { return o.out }

// down2SumOp sums every 2×2 block: the adjoint of up2Op.
type down2SumOp struct {
	opBase
	split *splitState
	out   *sideBuf // the output, reused across steps
}

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
	var g *tensor.Dense
	if err := o.args(vs, &g); err != nil {
		return nil, err
	}
	s := g.Shape()
	out := o.out.fresh(g.Dtype(), s[0], s[1], s[2]/2, s[3]/2)
	if o.split.skips(o.out) {
		return out, nil
	}
	// In a replay pass the first part's images are skipped (splitState).
	f := o.split.from(s[0])
	yo, gi := f*s[1]*(s[2]/2)*(s[3]/2), f*s[1]*s[2]*s[3]
	switch gd := g.Data().(type) {
	case []float32:
		down2Sum(out.Data().([]float32)[yo:], gd[gi:], (s[0]-f)*s[1], s[2]/2, s[3]/2)
	case []float64:
		down2Sum(out.Data().([]float64)[yo:], gd[gi:], (s[0]-f)*s[1], s[2]/2, s[3]/2)
	default:
		return nil, fmt.Errorf("down2sum: unsupported dtype %v", g.Dtype())
	}
	return out, nil
}

func down2Sum[T float](y, g []T, planes, h, w int) {
	chunks(planes, 4*h*w, func(p0, p1 int) { down2SumPlanes(y, g, p0, p1, h, w) })
}

// down2SumPlanes sums the blocks of planes [p0, p1), each as
// ((a + b) + c) + d in row order; float32 rows go eight outputs at a time
// through down2Row32 where the CPU allows, the rest here.
func down2SumPlanes[T float](y, g []T, p0, p1, h, w int) {
	y32, _ := any(y).([]float32)
	g32, _ := any(g).([]float32)
	for p := p0; p < p1; p++ {
		gp := g[p*4*h*w : (p+1)*4*h*w]
		yp := y[p*h*w : (p+1)*h*w]
		for i := 0; i < h; i++ {
			r0 := gp[(2*i)*2*w : (2*i+1)*2*w]
			r1 := gp[(2*i+1)*2*w : (2*i+2)*2*w]
			j0 := 0
			if y32 != nil {
				yo, gi := p*h*w+i*w, p*4*h*w+(2*i)*2*w
				j0 = down2Row32(y32[yo:yo+w], g32[gi:gi+2*w], g32[gi+2*w:gi+4*w])
			}
			for j := j0; j < w; j++ {
				yp[i*w+j] = r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]
			}
		}
	}
}
