package nn

import "math"

// Optimizer updates a flat parameter vector in place from its gradient.
// Implementations keep their own state (momentum, moments) sized on the
// first call, so one optimizer serves one parameter vector.
type Optimizer interface {
	Step(params, grad []float32, lr float64)
}

// SGD is stochastic gradient descent with heavy-ball momentum and L2 weight
// decay, as PyTorch's torch.optim.SGD (dampening 0, not Nesterov):
//
//	g ← g + wd·p;  v ← μ·v + g;  p ← p − lr·v
//
// With Momentum 0 it is plain SGD: p ← p − lr·(g + wd·p).
type SGD struct {
	Momentum    float64
	WeightDecay float64
	v           []float64
}

// Step implements Optimizer.
func (o *SGD) Step(params, grad []float32, lr float64) {
	if o.v == nil && o.Momentum != 0 {
		o.v = make([]float64, len(params))
	}
	for i, p := range params {
		g := float64(grad[i]) + o.WeightDecay*float64(p)
		if o.Momentum != 0 {
			o.v[i] = o.Momentum*o.v[i] + g
			g = o.v[i]
		}
		params[i] = float32(float64(p) - lr*g)
	}
}

// AdamW is Adam with decoupled weight decay, as PyTorch's torch.optim.AdamW:
//
//	p ← p − lr·wd·p
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//
// Zero Beta1, Beta2 and Eps take PyTorch's defaults 0.9, 0.999 and 1e-8.
type AdamW struct {
	Beta1, Beta2, Eps float64
	WeightDecay       float64
	m, v              []float64
	t                 int
}

// Step implements Optimizer.
func (o *AdamW) Step(params, grad []float32, lr float64) {
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	if o.m == nil {
		o.m = make([]float64, len(params))
		o.v = make([]float64, len(params))
	}
	o.t++
	c1 := 1 - math.Pow(b1, float64(o.t))
	c2 := 1 - math.Pow(b2, float64(o.t))
	for i, p := range params {
		g := float64(grad[i])
		x := float64(p) * (1 - lr*o.WeightDecay)
		o.m[i] = b1*o.m[i] + (1-b1)*g
		o.v[i] = b2*o.v[i] + (1-b2)*g*g
		x -= lr * (o.m[i] / c1) / (math.Sqrt(o.v[i]/c2) + eps)
		params[i] = float32(x)
	}
}

// CosineLR is the learning rate at iteration it (0-based) of total: a linear
// warm-up from base/warmup to base over the first warmup iterations, then a
// half cosine from base down to 0 at iteration total.
func CosineLR(base float64, warmup, total, it int) float64 {
	if it < warmup {
		return base * float64(it+1) / float64(warmup)
	}
	span := total - warmup
	if span <= 0 {
		return base
	}
	prog := math.Min(1, float64(it-warmup)/float64(span))
	return base * 0.5 * (1 + math.Cos(math.Pi*prog))
}
