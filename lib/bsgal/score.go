package bsgal

import (
	"fmt"
	"math"
)

// CosineEps is added to the product of the norms in the cosine score
// (docs/architecture.md, Contribution and its first-order estimate):
// ⟨a,b⟩/(‖a‖‖b‖+1e-8). It also makes the cosine of a zero vector 0 instead
// of NaN.
const CosineEps = 1e-8

// Score returns the BSGAL contribution score of a generated-batch gradient b
// against the cached real gradient a: the dot product ⟨a,b⟩ when normalize is
// false, the cosine ⟨a,b⟩/(‖a‖‖b‖+CosineEps) when it is true. It panics if
// the lengths differ, which is a programming error (two gradients over
// different parameter sets).
func Score(a, b []float32, normalize bool) float64 {
	dot, aa, bb := fused(a, b)
	return scoreOf(dot, aa, bb, normalize)
}

// scoreOf is the score from ⟨a,b⟩, ‖a‖² and ‖b‖².
func scoreOf(dot, aa, bb float64, normalize bool) float64 {
	if !normalize {
		return dot
	}
	return dot / (float64(math.Sqrt(aa)*math.Sqrt(bb)) + CosineEps)
}

// Dot returns ⟨a,b⟩ accumulated in float64; it panics if the lengths differ.
func Dot(a, b []float32) float64 { return Score(a, b, false) }

// Cosine returns ⟨a,b⟩/(‖a‖‖b‖+CosineEps); it panics if the lengths differ.
func Cosine(a, b []float32) float64 { return Score(a, b, true) }

// fused computes ⟨a,b⟩, ‖a‖² and ‖b‖² in one pass over memory.
func fused(a, b []float32) (dot, aa, bb float64) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("bsgal: score: vector lengths differ: %d and %d", len(a), len(b)))
	}
	var l lanes
	n := len(a) &^ 3
	b = b[:len(a)] // one bounds check for the loop below
	for i := 0; i < n; i += 4 {
		l.add4(float64(a[i]), float64(a[i+1]), float64(a[i+2]), float64(a[i+3]),
			float64(b[i]), float64(b[i+1]), float64(b[i+2]), float64(b[i+3]))
	}
	for i := n; i < len(a); i++ {
		l.add1(float64(a[i]), float64(b[i]))
	}
	return l.sums()
}

// lanes accumulates ⟨x,y⟩, ‖x‖² and ‖y‖² in four independent float64
// lanes per quantity, which break the add dependency chain: element i of a
// block of four goes to lane i, elements after the last full block to lane
// 0, and the lanes are combined in a fixed order, so the result is
// deterministic. Score and GradCache.UpdateScore both sum through it, which
// keeps their bits equal.
type lanes struct{ d0, d1, d2, d3, a0, a1, a2, a3, b0, b1, b2, b3 float64 }

func (l *lanes) add4(x0, x1, x2, x3, y0, y1, y2, y3 float64) {
	l.d0 += float64(x0 * y0)
	l.d1 += float64(x1 * y1)
	l.d2 += float64(x2 * y2)
	l.d3 += float64(x3 * y3)
	l.a0 += float64(x0 * x0)
	l.a1 += float64(x1 * x1)
	l.a2 += float64(x2 * x2)
	l.a3 += float64(x3 * x3)
	l.b0 += float64(y0 * y0)
	l.b1 += float64(y1 * y1)
	l.b2 += float64(y2 * y2)
	l.b3 += float64(y3 * y3)
}

func (l *lanes) add1(x, y float64) {
	l.d0 += float64(x * y)
	l.a0 += float64(x * x)
	l.b0 += float64(y * y)
}

func (l *lanes) sums() (dot, xx, yy float64) {
	return (l.d0 + l.d1) + (l.d2 + l.d3), (l.a0 + l.a1) + (l.a2 + l.a3), (l.b0 + l.b1) + (l.b2 + l.b3)
}
