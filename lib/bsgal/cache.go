package bsgal

import (
	"fmt"
	"math"
)

// CacheMode selects how GradCache folds a new real-data gradient into its
// running estimate of ∇L_R.
type CacheMode string

const (
	// Momentum is the exponential moving average c ← m·c + (1−m)·g.
	Momentum CacheMode = "momentum"
	// Average is the running mean c ← (t·c + g)/(t+1) over all t+1 updates.
	Average CacheMode = "average"
)

// ReferenceMomentum is the momentum of the reference configuration.
const ReferenceMomentum = 0.1

// GradCache is the running estimate c of the real-data gradient ∇L_R,
// updated once per iteration from the current real batch's gradient before
// the generated batch is scored.
//
// The first Update sets c = g in both modes. For Average this is what the
// formula gives (t = 0). For Momentum it is a deliberate choice: starting
// from c = 0 would make the first estimates (1−m)·g, (1−m)(1+m)·g, …, which
// leaves the cosine unchanged but shrinks the dot-product score by a factor
// that depends on the step, so a fixed dot-product threshold would mean
// something different early in training. From the second update on, both
// modes follow their formulas exactly.
//
// The state is kept in float64 so that a long Average does not drift from
// float32 rounding; Vector returns a float32 copy maintained alongside it.
type GradCache struct {
	mode  CacheMode
	m     float64
	steps int
	c     []float64
	out   []float32
	stale bool // out lags c (after UpdateScore); Vector refreshes it
}

// NewGradCache returns an empty cache. momentum is used only in Momentum mode
// and must lie in [0, 1).
func NewGradCache(mode CacheMode, momentum float64) (*GradCache, error) {
	switch mode {
	case Momentum:
		if !(momentum >= 0 && momentum < 1) {
			return nil, fmt.Errorf("new gradient cache: momentum %v out of range [0, 1)", momentum)
		}
	case Average:
	default:
		return nil, fmt.Errorf("new gradient cache: unknown mode %q (want %q or %q)", mode, Momentum, Average)
	}
	return &GradCache{mode: mode, m: momentum}, nil
}

// Mode returns the update rule.
func (c *GradCache) Mode() CacheMode { return c.mode }

// Momentum returns m (meaningful in Momentum mode only).
func (c *GradCache) Momentum() float64 { return c.m }

// Steps returns how many gradients have been folded in.
func (c *GradCache) Steps() int { return c.steps }

// Update folds the real-batch gradient g into the cache. Every g must have the
// length of the first one; a non-finite entry is rejected so that one bad
// batch cannot poison every later score.
func (c *GradCache) Update(g []float32) error {
	first, err := c.begin(g)
	if err != nil || first {
		return err
	}
	switch c.mode {
	case Momentum:
		m, k := c.m, 1-c.m
		for i, v := range g {
			c.c[i] = float64(m*c.c[i]) + float64(k*float64(v))
			c.out[i] = float32(c.c[i])
		}
	case Average:
		t := float64(c.steps)
		for i, v := range g {
			c.c[i] = (float64(t*c.c[i]) + float64(v)) / (t + 1)
			c.out[i] = float32(c.c[i])
		}
	}
	c.steps++
	c.stale = false
	return nil
}

// begin checks g and, on the first update, sets the cache to it (first is
// then true and the update is done).
func (c *GradCache) begin(g []float32) (first bool, err error) {
	if c.steps > 0 && len(g) != len(c.c) {
		return false, fmt.Errorf("update gradient cache: gradient has %d entries, cache has %d", len(g), len(c.c))
	}
	// An entry is ±Inf or NaN when its exponent bits are all ones: one
	// pass over the bits (nonFinite), then the first such entry is found.
	if nonFinite(g) {
		for i, v := range g {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
				return false, fmt.Errorf("update gradient cache: gradient entry %d is %v", i, v)
			}
		}
	}
	if c.steps > 0 {
		return false, nil
	}
	c.c = make([]float64, len(g))
	c.out = make([]float32, len(g))
	for i, v := range g {
		c.c[i] = float64(v)
		c.out[i] = v
	}
	c.steps, c.stale = 1, false
	return true, nil
}

// UpdateScore is Update(g) followed by Score(Vector(), gen, normalize), bit
// for bit, in one pass over memory: the new estimate is scored as it is
// formed, without writing and rereading its float32 copy
// (BenchmarkUpdateScore compares it with the two passes).
func (c *GradCache) UpdateScore(g, gen []float32, normalize bool) (float64, error) {
	if len(gen) != len(g) {
		return 0, fmt.Errorf("update and score: real gradient has %d entries, generated %d", len(g), len(gen))
	}
	first, err := c.begin(g)
	if err != nil {
		return 0, err
	}
	if first {
		return Score(c.out, gen, normalize), nil
	}
	// Summed through fused's lanes, in its order.
	var l lanes
	n := len(g) &^ 3
	cc, y := c.c[:len(g)], gen[:len(g)]
	next := func(i int) float64 { // the new estimate at i, as Vector gives it
		if c.mode == Momentum {
			cc[i] = float64(c.m*cc[i]) + float64((1-c.m)*float64(g[i]))
		} else {
			t := float64(c.steps)
			cc[i] = (float64(t*cc[i]) + float64(g[i])) / (t + 1)
		}
		return float64(float32(cc[i]))
	}
	if c.mode == Momentum { // the common case, without a call per entry
		momentumScore(cc[:n], g[:n], y[:n], c.m, 1-c.m, &l)
	} else {
		for i := 0; i < n; i += 4 {
			l.add4(next(i), next(i+1), next(i+2), next(i+3), float64(y[i]), float64(y[i+1]), float64(y[i+2]), float64(y[i+3]))
		}
	}
	for i := n; i < len(g); i++ {
		l.add1(next(i), float64(y[i]))
	}
	c.steps++
	c.stale = true
	dot, xx, yy := l.sums()
	return scoreOf(dot, xx, yy, normalize), nil
}

// nonFiniteGo reports whether an entry of x is ±Inf or NaN: its exponent
// bits all ones, which is when adding 1 to the exponent field carries
// into the sign bit; the carries are or-ed without a branch.
func nonFiniteGo(x []float32) bool {
	var acc uint32
	for _, v := range x {
		acc |= math.Float32bits(v)&0x7f800000 + 0x00800000
	}
	return acc&0x80000000 != 0
}

// momentumScoreGo is UpdateScore's loop in momentum mode over entries
// [0, len(cc)), a multiple of 4: the momentum update of each entry, then
// its new estimate (rounded to float32, as Vector gives it) and y's added
// to the lanes' sums.
func momentumScoreGo(cc []float64, g, y []float32, m, k float64, l *lanes) {
	g, y = g[:len(cc)], y[:len(cc)]
	for i := 0; i+4 <= len(cc); i += 4 {
		cc[i] = float64(m*cc[i]) + float64(k*float64(g[i]))
		cc[i+1] = float64(m*cc[i+1]) + float64(k*float64(g[i+1]))
		cc[i+2] = float64(m*cc[i+2]) + float64(k*float64(g[i+2]))
		cc[i+3] = float64(m*cc[i+3]) + float64(k*float64(g[i+3]))
		l.add4(float64(float32(cc[i])), float64(float32(cc[i+1])), float64(float32(cc[i+2])), float64(float32(cc[i+3])),
			float64(y[i]), float64(y[i+1]), float64(y[i+2]), float64(y[i+3]))
	}
}

// Vector returns the current estimate as float32 (nil before the first
// Update). The slice is owned by the cache and overwritten by the next Update;
// copy it to keep it.
func (c *GradCache) Vector() []float32 {
	if c.stale {
		for i, v := range c.c {
			c.out[i] = float32(v)
		}
		c.stale = false
	}
	return c.out
}
