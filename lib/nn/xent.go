package nn

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

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
// The forward pass leaves the gradient in a cache shared with its gradient
// op, which takes the loss node as an input so that it always runs after the
// forward pass of the same run.
type xentOp struct {
	opBase
	dt    tensor.Dtype
	cache *xentCache
	split *splitState
}

// xentCache holds the gradient of the last forward pass, softmax(z)·Σt − t
// ([]float32 or []float64, z's shape), and the forward pass's buffers. p is
// the data of grad, which is also the gradient op's output buffer: for the
// loss itself (an upstream gradient of 1) that op's output is p as it
// stands, without a copy of the logits' size.
type xentCache struct {
	p      any
	grad   *sideBuf
	losses []float64
	mu     sync.Mutex
	free   []*xentScratch
}

// lossBuf returns a buffer for n images' losses.
func (cc *xentCache) lossBuf(n int) []float64 {
	if cap(cc.losses) < n {
		cc.losses = make([]float64, n)
	}
	return cc.losses[:n]
}

// scratch lends one goroutine a scratch of xentForward32 until done.
func (cc *xentCache) scratch() (*xentScratch, func()) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var sc *xentScratch
	if k := len(cc.free); k > 0 {
		sc, cc.free = cc.free[k-1], cc.free[:k-1]
	} else {
		sc = new(xentScratch)
	}
	return sc, func() {
		cc.mu.Lock()
		cc.free = append(cc.free, sc)
		cc.mu.Unlock()
	}
}

// gradBuf returns the buffer the forward pass writes the gradient into,
// z's shape and type, and makes it p. Its contents are the previous
// pass's where this pass leaves images out (a replay pass), as before.
func (cc *xentCache) gradBuf(z *tensor.Dense) *tensor.Dense {
	g := cc.grad.fresh(z.Dtype(), z.Shape()...)
	cc.p = g.Data()
	return g
}

func newXent(dt tensor.Dtype, sp *splitState) xentOp {
	return xentOp{opBase{"SoftmaxXent", 2}, dt, &xentCache{grad: &sideBuf{}}, sp}
}

func (o xentOp) Type() hm.Type {
	a := hm.TypeVariable('p')
	return hm.NewFnType(a, a, o.dt)
}
func (o xentOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (o xentOp) DiffWRT(int) []bool                             { return []bool{true, false} }
func (o xentOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(xentGradOp{opBase{"SoftmaxXentGrad", 4}, o.cache, o.split, o.cache.grad}, in[0], in[1], out, grad)
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
		p := o.cache.gradBuf(z).Data().([]float32)
		l := o.keep(xentForward(p, zd, t.Data().([]float32), n, c, s, o.split.at(n), o.split.from(n), o.cache))
		return tensor.New(tensor.FromScalar(float32(l))), nil
	case []float64:
		p := o.cache.gradBuf(z).Data().([]float64)
		l := o.keep(xentForward(p, zd, t.Data().([]float64), n, c, s, o.split.at(n), o.split.from(n), o.cache))
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
// in float64 whatever the element type, and writes the gradient of the
// loss, softmax(z)·Σt − t, into q (zero where the targets are all zero).
// Images run in parallel; each image's loss is one sum in a fixed order
// and the images' losses are added in image order, so the bits do not
// depend on the number of threads. Images before from are left out (a
// replay pass, see splitState): their losses count as 0 and their part of
// q is left as it was. float32 runs xentForward32.
func xentForward[T float](q, z, t []T, n, c, s, r, from int, cc *xentCache) (float64, float64) {
	if q32, ok := any(q).([]float32); ok {
		return xentForward32(q32, any(z).([]float32), any(t).([]float32), n, c, s, r, from, cc)
	}
	losses := cc.lossBuf(n)
	clear(losses[:from])
	type scratch struct {
		tsum, se []float64
		mx       []T
	}
	perImage(n-from, func() (scratch, func()) {
		return scratch{make([]float64, s), make([]float64, s), make([]T, s)}, func() {}
	}, func(i int, sc scratch) {
		i += from
		base := i * c * s
		zi, ti, qi := z[base:base+c*s], t[base:base+c*s], q[base:base+c*s]
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
			zk, qk := zi[k*s:(k+1)*s], qi[k*s:(k+1)*s]
			for p, v := range zk {
				if sc.tsum[p] != 0 {
					e := math.Exp(float64(v - sc.mx[p]))
					qk[p] = T(e)
					sc.se[p] += e
				}
			}
		}
		var loss float64
		for k := 0; k < c; k++ {
			zk, tk, qk := zi[k*s:(k+1)*s], ti[k*s:(k+1)*s], qi[k*s:(k+1)*s]
			for p, v := range zk {
				if sc.tsum[p] == 0 {
					qk[p] = 0
					continue
				}
				qk[p] = T(float64(qk[p])/sc.se[p]*sc.tsum[p] - float64(tk[p]))
				if tk[p] != 0 {
					loss -= float64(tk[p]) * (float64(v-sc.mx[p]) - math.Log(sc.se[p]))
				}
			}
		}
		losses[i] = loss
	})
	return sumParts(losses, r)
}

// sumParts returns the sums of l[:r] and l[r:], each in index order.
func sumParts(l []float64, r int) (a, b float64) {
	for _, v := range l[:r] {
		a += v
	}
	for _, v := range l[r:] {
		b += v
	}
	return a, b
}

// xentBlock is how many pixels xentForward32 takes at a time: its rows of
// all classes stay in the first-level cache between the passes.
const xentBlock = 256

// xentScratch is one goroutine's scratch of xentForward32, per pixel of a
// block: the maximum logit, the target mass, the sum of exponentials (then
// mass / sum) and its logarithm.
type xentScratch struct {
	mx     [xentBlock]float32
	ts, se [xentBlock]float64
	logse  [xentBlock]float64
	nz     [xentBlock / 8]uint8 // nonzeroMasks of one class's targets
}

// xentForward32 is xentForward for float32 in one fused pass per block of
// pixels: the maxima and target masses, then the exponentials (exp32)
// written straight into q and summed per pixel in class order, then per
// class q and the loss terms. The per-pixel loops of blocks of 8 pixels or
// more run eight pixels at a time where the CPU has AVX2 (maxInto, widenAdd, expSub, xentGrad: one
// lane per pixel, so each pixel's chain keeps its order); the loss is one
// scalar sum over classes, then pixels. It allocates nothing once cc has
// its buffers.
func xentForward32(q, z, t []float32, n, c, s, r, from int, cc *xentCache) (float64, float64) {
	losses := cc.lossBuf(n)
	clear(losses[:from])
	perImage(n-from, cc.scratch, func(i int, sc *xentScratch) {
		i += from
		base := i * c * s
		zi, ti, qi := z[base:base+c*s], t[base:base+c*s], q[base:base+c*s]
		var loss float64
		for p0 := 0; p0 < s; p0 += xentBlock {
			b := min(xentBlock, s-p0)
			mx, ts, se, logse := sc.mx[:b], sc.ts[:b], sc.se[:b], sc.logse[:b]
			copy(mx, zi[p0:p0+b])
			clear(ts)
			clear(se)
			if b < 8 {
				loss = xentBlockGo(loss, zi, ti, qi, c, s, p0, mx, ts, se, logse)
				continue
			}
			for k := 0; k < c; k++ {
				maxInto(mx, zi[k*s+p0:][:b])
				widenAdd(ts, ti[k*s+p0:][:b])
			}
			for k := 0; k < c; k++ {
				qk := qi[k*s+p0:][:b]
				expSub(qk, zi[k*s+p0:][:b], mx)
				widenAdd(se, qk)
			}
			xentLogs(ts, se, logse)
			for k := 0; k < c; k++ {
				zk, tk, qk := zi[k*s+p0:][:b], ti[k*s+p0:][:b], qi[k*s+p0:][:b]
				xentGrad(qk, tk, se, ts)
				loss = xentLossRow(loss, zk, tk, mx, ts, logse, sc.nz[:b/8])
			}
		}
		losses[i] = loss
	})
	return sumParts(losses, r)
}

// xentLogs sets, for the pixels with a target mass ts, logse to the
// logarithm of their sum of exponentials se and se to ts/se.
func xentLogs(ts, se, logse []float64) {
	for p, m := range ts {
		if m != 0 {
			logse[p] = math.Log(se[p])
			se[p] = m / se[p]
		}
	}
}

// xentBlockGo is one block of xentForward32 in scalar loops, for blocks
// narrower than the vectors (a classifier's one pixel per image), where
// the calls of the vector path would cost more than they save. It does
// the same operations in the same order, and mx, ts and se start as
// there.
func xentBlockGo(loss float64, zi, ti, qi []float32, c, s, p0 int, mx []float32, ts, se, logse []float64) float64 {
	b := len(mx)
	for k := 0; k < c; k++ {
		zk, tk := zi[k*s+p0:][:b], ti[k*s+p0:][:b]
		for p, v := range zk {
			mx[p] = max(mx[p], v)
			ts[p] += float64(tk[p])
		}
	}
	for k := 0; k < c; k++ {
		qk := qi[k*s+p0:][:b]
		expSub(qk, zi[k*s+p0:][:b], mx)
		for p, e := range qk {
			se[p] += float64(e)
		}
	}
	xentLogs(ts, se, logse)
	for k := 0; k < c; k++ {
		zk, tk, qk := zi[k*s+p0:][:b], ti[k*s+p0:][:b], qi[k*s+p0:][:b]
		for p, e := range qk {
			if ts[p] == 0 {
				qk[p] = 0
				continue
			}
			tv := float64(tk[p])
			qk[p] = float32(float64(e)*se[p] - tv)
			if tv != 0 {
				loss -= tv * (float64(zk[p]-mx[p]) - logse[p])
			}
		}
	}
	return loss
}

// xentLossRow continues the loss chain with one class's pixels of a block,
// in pixel order: loss −= t·(z − mx − log Σexp) where both the target t
// and the pixel's target mass ts are nonzero. Most targets are zero (one
// class per pixel holds its weight), so eight at a time are tested with
// nonzeroMasks (into nz) and only their nonzero ones visited.
func xentLossRow(loss float64, zk, tk, mx []float32, ts, logse []float64, nz []uint8) float64 {
	term := func(p int) {
		if tv := tk[p]; tv != 0 && ts[p] != 0 {
			loss -= float64(tv) * (float64(zk[p]-mx[p]) - logse[p])
		}
	}
	nonzeroMasks(nz, tk)
	for i, m := range nz {
		for ; m != 0; m &= m - 1 {
			term(8*i + bits.TrailingZeros8(m))
		}
	}
	for p := 8 * len(nz); p < len(tk); p++ {
		term(p)
	}
	return loss
}

// nonzeroMasksGo sets bit j of m[i] where t[8i+j] ≠ 0.
func nonzeroMasksGo(m []uint8, t []float32) {
	t = t[:8*len(m)]
	for i := range m {
		var b uint8
		for j, v := range t[8*i : 8*i+8] {
			if v != 0 {
				b |= 1 << j
			}
		}
		m[i] = b
	}
}

// maxIntoGo is mx[i] = max(mx[i], z[i]) for i < len(mx).
func maxIntoGo(mx, z []float32) {
	z = z[:len(mx)]
	for i, v := range z {
		mx[i] = max(mx[i], v)
	}
}

// widenAddGo is acc[i] += float64(x[i]) for i < len(acc).
func widenAddGo(acc []float64, x []float32) {
	x = x[:len(acc)]
	for i, v := range x {
		acc[i] += float64(v)
	}
}

// xentGradGo turns the exponentials q of one class's pixels into the
// gradient: q[i] = float32(float64(q[i])·sc[i] − float64(t[i])), sc the
// pixel's target mass over its sum of exponentials, or 0 where the target
// mass ts[i] is zero.
func xentGradGo(q, t []float32, sc, ts []float64) {
	t, sc, ts = t[:len(q)], sc[:len(q)], ts[:len(q)]
	for i, e := range q {
		if ts[i] == 0 {
			q[i] = 0
			continue
		}
		q[i] = float32(float64(e)*sc[i] - float64(t[i]))
	}
}

// xentGradOp is d/dz of xentOp times the upstream scalar gradient,
// g·(softmax(z)·Σt − t), from the forward pass's cache.
// Its inputs are z, t, the loss (only to order it after the forward pass)
// and g.
type xentGradOp struct {
	opBase
	cache *xentCache
	split *splitState
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
	var z *tensor.Dense
	if err := o.args(vs, &z); err != nil {
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
	if g == 1 && out == o.cache.grad.v && o.cache.grad.v != nil {
		// The forward pass wrote the gradient here (gradBuf): nothing
		// to copy.
		if out.Dtype() != z.Dtype() || !out.Shape().Eq(z.Shape()) {
			return nil, fmt.Errorf("softmax xent grad: no forward pass to reuse")
		}
		return out, nil
	}
	switch zd := z.Data().(type) {
	case []float32:
		p, ok := o.cache.p.([]float32)
		if !ok || len(p) != len(zd) {
			return nil, fmt.Errorf("softmax xent grad: no forward pass to reuse")
		}
		at := o.split.from(z.Shape()[0]) * (len(zd) / z.Shape()[0]) // a replay pass skips the first part
		xentBackward(out.Data().([]float32)[at:], p[at:], g)
	case []float64:
		p, ok := o.cache.p.([]float64)
		if !ok || len(p) != len(zd) {
			return nil, fmt.Errorf("softmax xent grad: no forward pass to reuse")
		}
		at := o.split.from(z.Shape()[0]) * (len(zd) / z.Shape()[0])
		xentBackward(out.Data().([]float64)[at:], p[at:], g)
	default:
		return nil, fmt.Errorf("softmax xent grad: unsupported dtype %v", z.Dtype())
	}
	return out, nil
}

// xentBackward is dz = g·q, q the forward pass's gradient (a copy when g
// is 1 and dz is not q itself). dz may be q: each element is read before
// it is written.
func xentBackward[T float](dz, q []T, g float64) {
	if g == 1 {
		copy(dz, q)
		return
	}
	dz = dz[:len(q)]
	for i, v := range q {
		dz[i] = T(g * float64(v))
	}
}
