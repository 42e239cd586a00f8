package bsgal

import (
	"math"
	"slices"
	"testing"
)

func TestLookAhead(t *testing.T) {
	tests := []struct {
		pasted, plain float64
		want          Decision
	}{
		{1.0, 1.25, Decision{0.25, 0, true}},
		{1.25, 1.0, Decision{-0.25, 0, false}},
		{1.0, 1.0, Decision{0, 0, false}},
	}
	for _, tt := range tests {
		if got := LookAhead(tt.pasted, tt.plain); got != tt.want {
			t.Errorf("LookAhead(%v, %v) = %+v, want %+v", tt.pasted, tt.plain, got, tt.want)
		}
	}
}

func TestOfflineSelection(t *testing.T) {
	scores := []float64{0.5, 0.9, 0.5, math.NaN(), 0.1}
	tests := []struct {
		name string
		got  []int
		want []int
	}{
		{"top 0", TopFraction(scores, 0), []int{}},
		{"top 0.2", TopFraction(scores, 0.2), []int{1}},
		{"top 0.4 tie to lower index", TopFraction(scores, 0.4), []int{0, 1}},
		{"top 0.6", TopFraction(scores, 0.6), []int{0, 1, 2}},
		{"top 0.8 NaN last", TopFraction(scores, 0.8), []int{0, 1, 2, 4}},
		{"top 1", TopFraction(scores, 1), []int{0, 1, 2, 3, 4}},
		{"top 2 clamps", TopFraction(scores, 2), []int{0, 1, 2, 3, 4}},
		{"top of 10 at 0.3 rounds", TopFraction(make([]float64, 10), 0.3), []int{0, 1, 2}},
		{"above 0.5", AboveThreshold(scores, 0.5), []int{0, 1, 2}},
		{"above 1", AboveThreshold(scores, 1), []int{}},
		{"above -inf", AboveThreshold(scores, math.Inf(-1)), []int{0, 1, 2, 4}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
