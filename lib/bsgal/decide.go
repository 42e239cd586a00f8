package bsgal

import (
	"cmp"
	"math"
	"slices"
)

// Decision is one iteration's verdict on a generated batch, as logged.
type Decision struct {
	Score    float64 `json:"score"`
	Tau      float64 `json:"tau"`
	Accepted bool    `json:"accepted"`
}

// Decide reads τ for step from th, accepts iff score >= τ (NaN never is), and
// then lets th observe the score, in that order, so a dynamic threshold
// compares the score with the window before it.
func Decide(th Threshold, step int, score float64) Decision {
	tau := th.Tau(step)
	d := Decision{Score: score, Tau: tau, Accepted: score >= tau}
	th.Observe(score)
	return d
}

// LookAhead is the memory-saving rule: realLossPasted and realLossPlain are
// the real-data losses after one SGD step on the pasted and on the un-pasted
// batch from the same weights. The score is the measured contribution
// φ = realLossPlain − realLossPasted, τ is 0, and the batch is accepted iff
// the pasted step gives strictly the lower real loss (a tie keeps the real
// batch alone).
func LookAhead(realLossPasted, realLossPlain float64) Decision {
	phi := realLossPlain - realLossPasted
	return Decision{Score: phi, Tau: 0, Accepted: phi > 0}
}

// AboveThreshold returns, in ascending order, the indices of the scores
// s >= tau (the same rule as the online decision). NaN scores are never kept.
func AboveThreshold(scores []float64, tau float64) []int {
	keep := []int{}
	for i, s := range scores {
		if s >= tau {
			keep = append(keep, i)
		}
	}
	return keep
}

// TopFraction returns, in ascending order, the indices of the round(f·n)
// highest scores (f is clamped to [0, 1]). Ties are broken by the lower index
// and NaN scores rank below every number, so the result is deterministic.
func TopFraction(scores []float64, f float64) []int {
	f = math.Max(0, math.Min(1, f))
	if math.IsNaN(f) {
		f = 0
	}
	k := int(math.Round(f * float64(len(scores))))
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		a, b := scores[i], scores[j]
		an, bn := math.IsNaN(a), math.IsNaN(b)
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		case bn:
			return -1
		}
		return cmp.Compare(b, a) // descending; equal keeps index order
	})
	keep := idx[:k]
	slices.Sort(keep)
	return keep
}
