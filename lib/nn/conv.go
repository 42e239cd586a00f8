package nn

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convOp is a stride-1 2-d convolution of x [N, C, H, W] with w [O, C, k, k],
// zero padding pad and dilation dil, giving y [N, O, Ho, Wo] with
// Ho = H + 2·pad − dil·(k−1). It replaces gorgonia's Conv2d, whose output
// goes through a 4-d transpose (and back in the backward pass) that cost
// more than the matrix products: here each image is one product
// W[O, C·k·k] × col[C·k·k, Ho·Wo] written straight into NCHW order.
//
// With bias it takes a third input b [O] and adds it (then a ReLU with
// relu) to each image's output right after that image's product, while
// the output is still in the cache: the arithmetic of a convOp followed
// by a biasOp, one pass over the activations and one buffer fewer.
type convOp struct {
	opBase
	k, pad, dil int
	noDX        bool // x is the network's input: no gradient flows to it
	bias, relu  bool // a bias input follows w; relu: a ReLU after it
	split       *splitState
	out         *sideBuf // the output, reused across steps
}

// newConv makes a convOp; noDX when x is the network's input, whose
// gradient nothing reads (computing it cost a product and a col2im per
// image).
func newConv(k, pad, dil int, noDX bool, sp *splitState) convOp {
	name := fmt.Sprintf("Conv{k%d,p%d,d%d}", k, pad, dil)
	if noDX {
		name = fmt.Sprintf("Conv{k%d,p%d,d%d,nodx}", k, pad, dil)
	}
	return convOp{opBase{name, 2}, k, pad, dil, noDX, false, false, sp, &sideBuf{}}
}

// newConvBias makes a convOp that adds a bias, then with relu a ReLU.
func newConvBias(k, pad, dil int, noDX, relu bool, sp *splitState) convOp {
	o := newConv(k, pad, dil, noDX, sp)
	o.arity, o.bias, o.relu = 3, true, relu
	o.name = "Bias" + o.name
	if relu {
		o.name = "BiasReLU" + o.name[len("Bias"):]
	}
	return o
}

func (o convOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	if o.bias {
		return hm.NewFnType(p, p, hm.TypeVariable('q'), p)
	}
	return hm.NewFnType(p, p, p)
}

func (o convOp) outSize(h, w int) (int, int) {
	return h + 2*o.pad - o.dil*(o.k-1), w + 2*o.pad - o.dil*(o.k-1)
}

func (o convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ok1 := in[0].(tensor.Shape)
	ws, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] || ws[2] != o.k || ws[3] != o.k {
		return nil, fmt.Errorf("%s: bad shapes %v * %v", o.name, in[0], in[1])
	}
	ho, wo := o.outSize(xs[2], xs[3])
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("%s: input %v too small", o.name, xs)
	}
	return tensor.Shape{xs[0], ws[0], ho, wo}, nil
}

func (o convOp) DiffWRT(int) []bool {
	if o.bias {
		return []bool{!o.noDX, true, true}
	}
	return []bool{!o.noDX, true}
}

// SymDiff gives the gradients of x and w (and b), from the gradient of the
// output before the ReLU and bias (biasOp.SymDiff's dpre) when they are
// fused in.
func (o convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var db *G.Node
	if o.bias {
		var err error
		if grad, db, err = biasSymDiff(o.relu, o.split, out, grad); err != nil {
			return nil, err
		}
	}
	grads := func(dx, dw *G.Node) G.Nodes {
		if o.bias {
			return G.Nodes{dx, dw, db}
		}
		return G.Nodes{dx, dw}
	}
	if o.noDX {
		dw, err := G.ApplyOp(convGradFilterOp{opBase{o.name + "GradFilter", 2}, o, &sideBuf{}, &sideBuf{}}, in[0], grad)
		return grads(nil, dw), err
	}
	dx, err := G.ApplyOp(convGradInputOp{opBase{o.name + "GradInput", 2}, o, in[0].Shape().Clone(), &sideBuf{}}, in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(convGradFilterOp{opBase{o.name + "GradFilter", 2}, o, &sideBuf{}, &sideBuf{}}, in[0], grad)
	return grads(dx, dw), err
}

func (o convOp) Do(vs ...G.Value) (G.Value, error) {
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

func (o convOp) UsePreallocDo(pre G.Value, vs ...G.Value) (G.Value, error) {
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
	var b *tensor.Dense
	if o.bias {
		if err := o.args(vs, &x, &w, &b); err != nil {
			return nil, err
		}
		if b.Shape().TotalSize() != w.Shape()[0] {
			return nil, fmt.Errorf("%s: bias %v for %d channels", o.name, b.Shape(), w.Shape()[0])
		}
	}
	g := o.geom(x.Shape(), w.Shape()[0])
	switch xd := x.Data().(type) {
	case []float32:
		var bd []float32
		if b != nil {
			bd = b.Data().([]float32)
		}
		convForward(g, y.Data().([]float32), xd, w.Data().([]float32), bd, o.relu)
	case []float64:
		var bd []float64
		if b != nil {
			bd = b.Data().([]float64)
		}
		convForward(g, y.Data().([]float64), xd, w.Data().([]float64), bd, o.relu)
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, x.Dtype())
	}
	o.out.last = y
	return y, nil
}

// convGeom is everything the kernels need about one convolution.
type convGeom struct {
	n, c, h, w, o, k, pad, dil, ho, wo int
}

func (o convOp) geom(xs tensor.Shape, out int) convGeom {
	ho, wo := o.outSize(xs[2], xs[3])
	return convGeom{xs[0], xs[1], xs[2], xs[3], out, o.k, o.pad, o.dil, ho, wo}
}

// direct reports whether the patch matrix of an image is the image itself
// (1×1 kernel, no padding), so im2col can be skipped.
func (g convGeom) direct() bool { return g.k == 1 && g.pad == 0 }

func (g convGeom) ckk() int { return g.c * g.k * g.k }

// gemm is C = op(A)·op(B), or C += op(A)·op(B) with acc, on row-major
// matrices (see sgemm): the float32 kernel of gemm.go, gonum for float64
// (gradient checks only).
func gemm[T float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, acc bool, c []T, ldc int, workers int) {
	switch a := any(a).(type) {
	case []float32:
		sgemm(tA, tB, m, n, k, a, lda, any(b).([]float32), ldb, acc, any(c).([]float32), ldc, workers)
	case []float64:
		beta := 0.0
		if acc {
			beta = 1
		}
		gonum.Implementation{}.Dgemm(blasT(tA), blasT(tB), m, n, k, 1, a, lda, any(b).([]float64), ldb, beta, any(c).([]float64), ldc)
	}
}

func blasT(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// scratch32 recycles the float32 scratch of the convolutions (patch
// matrices, transposed gradients), one pool per power-of-two size so that
// a buffer too small for one request is never dropped for another.
var scratch32 [64]sync.Pool

// getScratch returns a buffer of n elements and the function that gives it
// back.
func getScratch[T float](n int) ([]T, func()) {
	var z T
	if _, ok := any(z).(float32); !ok {
		return make([]T, n), func() {}
	}
	class := bits.Len(uint(max(n, 1) - 1))
	p, _ := scratch32[class].Get().(*[]float32)
	if p == nil {
		p = new([]float32)
		*p = make([]float32, 1<<class)
	}
	return any((*p)[:n]).([]T), func() { scratch32[class].Put(p) }
}

// transpose writes src [rows, cols] as dst [cols, rows] (transpose32 for
// float32).
func transpose[T float](dst, src []T, rows, cols int) {
	if d32, ok := any(dst).([]float32); ok {
		transpose32(d32, any(src).([]float32), rows, cols)
		return
	}
	transposeGo(dst, src, rows, cols)
}

// transposeGo is transpose in blocks of 64 columns: each source row is read
// in runs, and the block's writes stay in the first-level cache.
func transposeGo[T float](dst, src []T, rows, cols int) {
	const blk = 64
	for j0 := 0; j0 < cols; j0 += blk {
		j1 := min(j0+blk, cols)
		d := dst[j0*rows : j1*rows]
		for i := 0; i < rows; i++ {
			for j, v := range src[i*cols+j0 : i*cols+j1] {
				d[j*rows+i] = v
			}
		}
	}
}

// transposeImages returns gy [n, o, hw] as n matrices [hw, o], in a buffer
// from the scratch pool, and the function that gives it back: the filter
// gradients' B operand, transposed once per image instead of packed
// transposed by every product that reads it.
func transposeImages[T float](gy []T, n, o, hw int) ([]T, func()) {
	gyT, done := getScratch[T](n * o * hw)
	chunks(n, o*hw, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			transpose(gyT[i*o*hw:(i+1)*o*hw], gy[i*o*hw:(i+1)*o*hw], o, hw)
		}
	})
	return gyT, done
}

// chunks runs f(i0, i1) on contiguous ranges covering [0, n) of items of
// size elements each, on up to GOMAXPROCS goroutines when there is enough
// work to pay for them. Each item must be independent of the others.
func chunks(n, size int, f func(i0, i1 int)) {
	workers := min(n, runtime.GOMAXPROCS(0), max(1, n*size/(1<<15)))
	if workers <= 1 {
		f(0, n)
		return
	}
	parallel(workers, func(w int) { f(n*w/workers, n*(w+1)/workers) })
}

// parallel runs f(0), …, f(workers−1) on their own goroutines and waits.
func parallel(workers int, f func(w int)) {
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	f(0)
	wg.Wait()
}

// perImage runs f(i) for every image i < n on up to GOMAXPROCS goroutines,
// each with its own scratch from newScratch. Results must not depend on
// which goroutine ran which image (every image writes only its own output),
// so they do not depend on the number of cores.
func perImage[S any](n int, newScratch func() (S, func()), f func(i int, s S)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		s, done := newScratch()
		defer done()
		for i := 0; i < n; i++ {
			f(i, s)
		}
		return
	}
	var next atomic.Int64
	parallel(workers, func(int) {
		s, done := newScratch()
		defer done()
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			f(i, s)
		}
	})
}

// im2col writes the patches of one image x [C, H, W] as col [C·k·k, Ho·Wo].
func im2col[T float](g convGeom, col, x []T) {
	if g.ho == g.h && g.wo == g.w {
		im2colSame(g, col, x)
		return
	}
	im2colGeneral(g, col, x)
}

// im2colGeneral is im2col row by row, for any geometry.
func im2colGeneral[T float](g convGeom, col, x []T) {
	hw := g.ho * g.wo
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := col[((c*g.k+ky)*g.k+kx)*hw:][:hw]
				dx := kx*g.dil - g.pad
				// Output columns whose input column ox+dx lies inside.
				lo, hi := max(0, -dx), min(g.wo, g.w-dx)
				for oy := 0; oy < g.ho; oy++ {
					r := row[oy*g.wo : (oy+1)*g.wo]
					iy := oy + ky*g.dil - g.pad
					if iy < 0 || iy >= g.h || lo >= hi {
						clear(r)
						continue
					}
					clear(r[:lo])
					copy(r[lo:hi], plane[iy*g.w+lo+dx:iy*g.w+hi+dx])
					clear(r[hi:])
				}
			}
		}
	}
}

// im2colSame is im2col for a size-keeping convolution: each patch row is
// the plane shifted by (dy, dx), i.e. one copy of the flattened plane at
// offset dy·W+dx, after which the columns that wrapped around a row edge
// are zeroed (a few stores per row instead of three calls per row).
func im2colSame[T float](g convGeom, col, x []T) {
	h, w, hw := g.h, g.w, g.h*g.w
	for c := 0; c < g.c; c++ {
		plane := x[c*hw : (c+1)*hw]
		for ky := 0; ky < g.k; ky++ {
			dy := ky*g.dil - g.pad
			for kx := 0; kx < g.k; kx++ {
				dx := kx*g.dil - g.pad
				row := col[((c*g.k+ky)*g.k+kx)*hw:][:hw]
				if dy <= -h || dy >= h || dx <= -w || dx >= w {
					clear(row)
					continue
				}
				off := dy*w + dx
				// Rows oy with 0 ≤ oy+dy < h, and within them the flat
				// range whose source index stays inside the plane.
				lo, hi := max(0, -dy)*w, min(h, h-dy)*w
				lo, hi = max(lo, -off), min(hi, hw-off)
				clear(row[:lo])
				copy(row[lo:hi], plane[lo+off:hi+off])
				clear(row[hi:])
				// Columns ox with ox+dx outside [0, w) took a neighbouring
				// row's pixel: zero them.
				zeroWrapped(row, w, dx)
			}
		}
	}
}

// zeroAddGo is dst[i] = 0 + src[i] for i < len(src): src's values with −0
// turned to +0, by the addition itself (zero is a variable, which the
// compiler does not fold away).
func zeroAddGo[T float](dst, src []T) {
	dst = dst[:len(src)]
	var zero T
	for i, v := range src {
		dst[i] = zero + v
	}
}

// zeroAddRow is zeroAdd for either element type.
func zeroAddRow[T float](dst, src []T) {
	if d, ok := any(dst).([]float32); ok {
		zeroAdd(d, any(src).([]float32))
		return
	}
	zeroAddGo(dst, src)
}

// zeroWrapped zeroes, in a patch row of planes w wide shifted by dx
// columns, the columns ox with ox+dx outside [0, w): the last dx of every
// row when dx > 0, the first −dx when dx < 0. The shifts are a pixel or
// two, so the zeros are stored one by one (a clear call per image row cost
// more than the stores).
func zeroWrapped[T float](row []T, w, dx int) {
	start, n := w-dx, dx
	if dx < 0 {
		start, n = 0, -dx
	}
	if n == 0 {
		return
	}
	// Not `for q := range r { r[q] = 0 }`: the compiler turns that back
	// into a clear call.
	for p := start; p+n <= len(row); p += w {
		for q := p; q < p+n; q++ {
			row[q] = 0
		}
	}
}

// addRow is dst[j] += src[j], vectorized for float32 (the sums are the
// same: each is rounded once).
func addRow[T float](dst, src []T) {
	if d, ok := any(dst).([]float32); ok {
		addTo(d, any(src).([]float32))
		return
	}
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] += v
	}
}

// col2im writes into dx [C, H, W] the sums of the patch gradients col
// [C·k·k, Ho·Wo] (the adjoint of im2col): each element of dx is 0 plus its
// patch gradients added one by one in the order of the rows of col.
func col2im[T float](g convGeom, dx, col []T) {
	if g.ho == g.h && g.wo == g.w {
		col2imSame(g, dx, col)
		return
	}
	clear(dx)
	col2imGeneral(g, dx, col)
}

// col2imSame is col2im for a size-keeping convolution, the adjoint of
// im2colSame: each patch row is added to the plane shifted by (dy, dx) in
// one flat run, after the row's columns that would wrap around a row edge
// are set to zero in col (which it thus overwrites). Those zeros are added
// to elements of dx that col2imGeneral leaves alone; the sum is the same
// bits, because x + 0 = x for every x but −0, and no partial sum is −0
// (dx starts at +0, and a sum is −0 only when both terms are). The first
// row that reaches a plane is not added but written as 0 + row (zeroAdd),
// and the rest of the plane cleared: the bits of clearing the plane first,
// without the pass over it.
func col2imSame[T float](g convGeom, dx, col []T) {
	h, w, hw := g.h, g.w, g.h*g.w
	for c := 0; c < g.c; c++ {
		plane := dx[c*hw : (c+1)*hw]
		set := true // nothing has reached the plane yet
		for ky := 0; ky < g.k; ky++ {
			dy := ky*g.dil - g.pad
			for kx := 0; kx < g.k; kx++ {
				ddx := kx*g.dil - g.pad
				if dy <= -h || dy >= h || ddx <= -w || ddx >= w {
					continue
				}
				row := col[((c*g.k+ky)*g.k+kx)*hw:][:hw]
				off := dy*w + ddx
				lo, hi := max(0, -dy)*w, min(h, h-dy)*w
				lo, hi = max(lo, -off), min(hi, hw-off)
				zeroWrapped(row, w, ddx)
				switch {
				case lo >= hi:
				case set:
					clear(plane[:lo+off])
					zeroAddRow(plane[lo+off:hi+off], row[lo:hi])
					clear(plane[hi+off:])
					set = false
				default:
					addRow(plane[lo+off:hi+off], row[lo:hi])
				}
			}
		}
		if set {
			clear(plane)
		}
	}
}

// col2imGeneral is col2im row by row, for any geometry.
func col2imGeneral[T float](g convGeom, dx, col []T) {
	hw := g.ho * g.wo
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := col[((c*g.k+ky)*g.k+kx)*hw:][:hw]
				dxo := kx*g.dil - g.pad
				lo, hi := max(0, -dxo), min(g.wo, g.w-dxo)
				if lo >= hi {
					continue
				}
				for oy := 0; oy < g.ho; oy++ {
					iy := oy + ky*g.dil - g.pad
					if iy < 0 || iy >= g.h {
						continue
					}
					addRow(plane[iy*g.w+lo+dxo:iy*g.w+hi+dxo], row[oy*g.wo+lo:oy*g.wo+hi])
				}
			}
		}
	}
}

// convForward computes y = conv(x, w), then when b is not nil y = y + b
// (and with relu max(y, 0)) image by image, each right after its product.
func convForward[T float](g convGeom, y, x, w, b []T, relu bool) {
	hw, chw, ckk := g.ho*g.wo, g.c*g.h*g.w, g.ckk()
	perImage(g.n, func() ([]T, func()) {
		if g.direct() {
			return nil, func() {}
		}
		return getScratch[T](ckk * hw)
	}, func(i int, col []T) {
		xi := x[i*chw : (i+1)*chw]
		if g.direct() {
			col = xi
		} else {
			im2col(g, col, xi)
		}
		gemm(false, false, g.o, hw, ckk, w, ckk, col, hw, false, y[i*g.o*hw:(i+1)*g.o*hw], hw, 1)
		if b != nil {
			biasImages(y, y, b, i, i+1, g.o, hw, relu)
		}
	})
}

// convGradFilterOp is dL/dw = Σ_images gy[O, Ho·Wo] × col[C·k·k, Ho·Wo]ᵀ;
// of a split batch it sums images [0, r) here and [r, N) into its side
// buffer.
type convGradFilterOp struct {
	opBase
	conv convOp
	side *sideBuf
	out  *sideBuf // the output, reused across steps
}

func (o convGradFilterOp) sideBuffer() *sideBuf { return o.side }
func (o convGradFilterOp) skipKey() *sideBuf    { return o.out }
func (o convGradInputOp) skipKey() *sideBuf     { return o.out }

func (o convGradFilterOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o convGradFilterOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ok1 := in[0].(tensor.Shape)
	gs, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(xs) != 4 || len(gs) != 4 {
		return nil, fmt.Errorf("%s: bad shapes %v, %v", o.name, in[0], in[1])
	}
	return tensor.Shape{gs[1], xs[1], o.conv.k, o.conv.k}, nil
}

func (o convGradFilterOp) Do(vs ...G.Value) (G.Value, error) {
	var x, gy *tensor.Dense
	if err := o.args(vs, &x, &gy); err != nil {
		return nil, err
	}
	g := o.conv.geom(x.Shape(), gy.Shape()[1])
	dw := o.out.fresh(x.Dtype(), g.o, g.c, g.k, g.k)
	if o.conv.split.skips(o.out) {
		return dw, nil
	}
	r := o.conv.split.at(g.n)
	ga, gb := g, g
	ga.n, gb.n = r, g.n-r
	xa, ya := r*g.c*g.h*g.w, r*g.o*g.ho*g.wo // where the second part starts
	skip := o.conv.split.skipA()             // a replay pass wants the second part only
	switch xd := x.Data().(type) {
	case []float32:
		gyd := gy.Data().([]float32)
		if !skip {
			convFilterGrad(ga, dw.Data().([]float32), xd[:xa], gyd[:ya])
		}
		if gb.n > 0 {
			convFilterGrad(gb, o.side.like(dw).Data().([]float32), xd[xa:], gyd[ya:])
		}
	case []float64:
		gyd := gy.Data().([]float64)
		if !skip {
			convFilterGrad(ga, dw.Data().([]float64), xd[:xa], gyd[:ya])
		}
		if gb.n > 0 {
			convFilterGrad(gb, o.side.like(dw).Data().([]float64), xd[xa:], gyd[ya:])
		}
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, x.Dtype())
	}
	return dw, nil
}

// convFilterGrad computes dw[O, C·k·k] = Σ_images gy[O, Ho·Wo] ×
// col[C·k·k, Ho·Wo]ᵀ as one chain per weight over the images in order
// (each image's product continues the previous one's sums). It is computed
// transposed, dwᵀ = col × gyᵀ (the same chains: a product's factors
// commute), so that the large operand, col, is read in place, and gy is
// transposed once per image. The goroutines share the input channels, i.e. the rows of dwᵀ,
// never the images, so the result is the same whatever their number.
func convFilterGrad[T float](g convGeom, dw, x, gy []T) {
	hw, chw, ckk, kk := g.ho*g.wo, g.c*g.h*g.w, g.ckk(), g.k*g.k
	if g.n == 0 {
		clear(dw)
		return
	}
	dwT, done := getScratch[T](ckk * g.o)
	defer done()
	gyT, doneT := transposeImages(gy, g.n, g.o, hw)
	defer doneT()
	workers := min(g.c, runtime.GOMAXPROCS(0))
	parallel(workers, func(w int) {
		c0, c1 := g.c*w/workers, g.c*(w+1)/workers
		if c0 == c1 {
			return
		}
		sub := g
		sub.c = c1 - c0
		var col []T
		if !g.direct() {
			var done func()
			col, done = getScratch[T](sub.ckk() * hw)
			defer done()
		}
		for i := 0; i < g.n; i++ {
			xi := x[i*chw+c0*g.h*g.w : i*chw+c1*g.h*g.w]
			if g.direct() {
				col = xi
			} else {
				im2col(sub, col, xi)
			}
			gemm(false, false, sub.ckk(), g.o, hw, col, hw, gyT[i*g.o*hw:(i+1)*g.o*hw], g.o, i > 0, dwT[c0*kk*g.o:], g.o, 1)
		}
	})
	for j := 0; j < ckk; j++ {
		for o := 0; o < g.o; o++ {
			dw[o*ckk+j] = dwT[j*g.o+o]
		}
	}
}

// convGradInputOp is dL/dx = col2im(wᵀ[C·k·k, O] × gy[O, Ho·Wo]) per image.
type convGradInputOp struct {
	opBase
	conv   convOp
	xShape tensor.Shape
	out    *sideBuf // the output, reused across steps
}

func (o convGradInputOp) Type() hm.Type {
	p := hm.TypeVariable('p')
	return hm.NewFnType(p, p, p)
}

func (o convGradInputOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return o.xShape.Clone(), nil
}

func (o convGradInputOp) Do(vs ...G.Value) (G.Value, error) {
	var w, gy *tensor.Dense
	if err := o.args(vs, &w, &gy); err != nil {
		return nil, err
	}
	g := o.conv.geom(o.xShape, w.Shape()[0])
	dx := o.out.fresh(w.Dtype(), o.xShape...)
	if o.conv.split.skips(o.out) {
		return dx, nil
	}
	// In a replay pass the first part's images are skipped (splitState).
	f := o.conv.split.from(g.n)
	xo, yo := f*g.c*g.h*g.w, f*g.o*g.ho*g.wo
	g.n -= f
	switch wd := w.Data().(type) {
	case []float32:
		convInputGrad(g, dx.Data().([]float32)[xo:], wd, gy.Data().([]float32)[yo:])
	case []float64:
		convInputGrad(g, dx.Data().([]float64)[xo:], wd, gy.Data().([]float64)[yo:])
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", o.name, w.Dtype())
	}
	return dx, nil
}

func convInputGrad[T float](g convGeom, dx, w, gy []T) {
	hw, chw, ckk := g.ho*g.wo, g.c*g.h*g.w, g.ckk()
	perImage(g.n, func() ([]T, func()) {
		if g.direct() {
			return nil, func() {}
		}
		return getScratch[T](ckk * hw)
	}, func(i int, col []T) {
		dxi := dx[i*chw : (i+1)*chw]
		gyi := gy[i*g.o*hw : (i+1)*g.o*hw]
		// dcol[C·k·k, Ho·Wo] = wᵀ × gy
		if g.direct() {
			gemm(true, false, ckk, hw, g.o, w, ckk, gyi, hw, false, dxi, hw, 1)
			return
		}
		gemm(true, false, ckk, hw, g.o, w, ckk, gyi, hw, false, col, hw, 1)
		col2im(g, dxi, col)
	})
}
