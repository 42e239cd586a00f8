package bsgal

import (
	"fmt"
	"math"
	"sort"
)

// DefaultWindow is W, the number of recent scores a dynamic threshold keeps.
const DefaultWindow = 1000

// ReferenceFixedTau is the reference fixed threshold for the cosine score.
const ReferenceFixedTau = -0.05

// Threshold yields τ for a training step and learns from the scores it sees.
// The caller reads Tau(step) first, decides score >= τ, then calls Observe
// with the score (Decide does exactly this).
type Threshold interface {
	// Tau returns the threshold for step (0-based) given the scores observed
	// so far.
	Tau(step int) float64
	// Observe records the score of the current step.
	Observe(score float64)
}

// Fixed is a constant threshold τ; it ignores observed scores.
type Fixed float64

// Tau returns τ whatever the step.
func (f Fixed) Tau(int) float64 { return float64(f) }

// Observe does nothing: a fixed threshold does not adapt.
func (Fixed) Observe(float64) {}

// Quantile returns the q-quantile (0 <= q <= 1) of sorted, ascending values
// with numpy's default ("linear") rule: h = (n−1)·q, and the result is
// x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). It returns NaN for an empty slice.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * q
	lo := int(math.Floor(h))
	if lo < 0 {
		return sorted[0]
	}
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := h - float64(lo)
	return sorted[lo] + float64(frac*(sorted[lo+1]-sorted[lo]))
}

// window keeps the last cap scores twice: in arrival order (a ring, to know
// which one leaves) and sorted (for quantiles). Insert and delete are a binary
// search plus a copy, O(W) per step.
type window struct {
	ring   []float64
	next   int
	full   bool
	sorted []float64
}

func newWindow(size int) *window {
	return &window{ring: make([]float64, size), sorted: make([]float64, 0, size)}
}

func (w *window) add(s float64) {
	if w.full {
		old := w.ring[w.next]
		i := sort.SearchFloat64s(w.sorted, old) // finds an entry equal to old: it is present
		w.sorted = append(w.sorted[:i], w.sorted[i+1:]...)
	}
	w.ring[w.next] = s
	w.next++
	if w.next == len(w.ring) {
		w.next, w.full = 0, true
	}
	i := sort.SearchFloat64s(w.sorted, s)
	w.sorted = append(w.sorted, 0)
	copy(w.sorted[i+1:], w.sorted[i:])
	w.sorted[i] = s
}

// tau is the (1−rate) quantile of the window, or 0 while it is empty.
func (w *window) tau(rate float64) float64 {
	if len(w.sorted) == 0 {
		return 0
	}
	return Quantile(w.sorted, 1-rate)
}

// Dynamic accepts about a fraction r of the scores whatever their scale:
// τ_t is the (1−r) quantile of the last W observed scores (before the current
// one is added), and 0 while no score has been observed.
type Dynamic struct {
	rate float64
	w    *window
}

// NewDynamic returns a dynamic threshold with acceptance rate r in [0, 1]
// over a window of size W >= 1 (DefaultWindow in the reference setting).
func NewDynamic(rate float64, size int) (*Dynamic, error) {
	if !(rate >= 0 && rate <= 1) {
		return nil, fmt.Errorf("new dynamic threshold: rate %v out of range [0, 1]", rate)
	}
	if size < 1 {
		return nil, fmt.Errorf("new dynamic threshold: window %d must be at least 1", size)
	}
	return &Dynamic{rate: rate, w: newWindow(size)}, nil
}

// Rate returns r.
func (d *Dynamic) Rate() float64 { return d.rate }

// Tau returns the (1−r) quantile of the window, or 0 if it is empty.
func (d *Dynamic) Tau(int) float64 { return d.w.tau(d.rate) }

// Observe adds score to the window, evicting the oldest once it holds W
// scores. NaN scores are ignored.
func (d *Dynamic) Observe(score float64) {
	if !math.IsNaN(score) {
		d.w.add(score)
	}
}

// Linear is a dynamic threshold whose acceptance rate grows linearly from r0
// at step 0 to r1 at step total−1 (and stays r1 afterwards).
type Linear struct {
	r0, r1 float64
	total  int
	w      *window
}

// NewLinear returns a linear-schedule threshold. Rates lie in [0, 1] (r1 < r0
// is allowed: the rate then falls), total >= 1 is the number of training
// steps, size >= 1 the window W.
func NewLinear(r0, r1 float64, total, size int) (*Linear, error) {
	for _, r := range []float64{r0, r1} {
		if !(r >= 0 && r <= 1) {
			return nil, fmt.Errorf("new linear threshold: rate %v out of range [0, 1]", r)
		}
	}
	if total < 1 {
		return nil, fmt.Errorf("new linear threshold: total steps %d must be at least 1", total)
	}
	if size < 1 {
		return nil, fmt.Errorf("new linear threshold: window %d must be at least 1", size)
	}
	return &Linear{r0: r0, r1: r1, total: total, w: newWindow(size)}, nil
}

// Rate returns the scheduled acceptance rate at step:
// r0·(1−f) + r1·f with f = clamp(step/(total−1), 0, 1) (r1 when total is 1);
// this form hits r0 and r1 exactly at the ends.
func (l *Linear) Rate(step int) float64 {
	if l.total <= 1 {
		return l.r1
	}
	f := float64(step) / float64(l.total-1)
	f = math.Max(0, math.Min(1, f))
	return float64(l.r0*(1-f)) + float64(l.r1*f)
}

// Tau returns the (1−Rate(step)) quantile of the window, or 0 if it is empty.
func (l *Linear) Tau(step int) float64 { return l.w.tau(l.Rate(step)) }

// Observe adds score to the window; NaN scores are ignored.
func (l *Linear) Observe(score float64) {
	if !math.IsNaN(score) {
		l.w.add(score)
	}
}
