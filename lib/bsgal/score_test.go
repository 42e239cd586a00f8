package bsgal

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestScoreHandWorked(t *testing.T) {
	tests := []struct {
		name      string
		a, b      []float32
		normalize bool
		want      float64
	}{
		// 1·4 + 2·5 + 3·6 = 32
		{"dot", []float32{1, 2, 3}, []float32{4, 5, 6}, false, 32},
		// 32 / (√14·√77 + 1e-8) = 32/√1078
		{"cosine", []float32{1, 2, 3}, []float32{4, 5, 6}, true, 32 / (math.Sqrt(14)*math.Sqrt(77) + 1e-8)},
		// five entries: one unrolled block plus a tail of one.
		// dot = 1·-1 + 2·1 + -1·2 + 0·5 + 3·1 = 2, ‖a‖² = 15, ‖b‖² = 32
		{"dot tail", []float32{1, 2, -1, 0, 3}, []float32{-1, 1, 2, 5, 1}, false, 2},
		{"cosine tail", []float32{1, 2, -1, 0, 3}, []float32{-1, 1, 2, 5, 1}, true, 2 / (math.Sqrt(15)*math.Sqrt(32) + 1e-8)},
		{"orthogonal", []float32{1, 0}, []float32{0, 1}, true, 0},
		{"parallel", []float32{3, 4}, []float32{6, 8}, true, 50 / (50 + 1e-8)},
		{"antiparallel", []float32{0, 0, 0, 2}, []float32{0, 0, 0, -2}, true, -4 / (4 + 1e-8)},
		{"zero a cosine", []float32{0, 0, 0}, []float32{1, 2, 3}, true, 0},
		{"zero both cosine", []float32{0, 0}, []float32{0, 0}, true, 0},
		{"zero dot", []float32{0, 0}, []float32{5, 7}, false, 0},
		{"empty dot", nil, nil, false, 0},
		{"empty cosine", nil, nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(tt.a, tt.b, tt.normalize)
			if math.Abs(got-tt.want) > 1e-15*math.Max(1, math.Abs(tt.want)) {
				t.Errorf("Score(%v, %v, %v) = %.17g, want %.17g", tt.a, tt.b, tt.normalize, got, tt.want)
			}
		})
	}
}

// naive is the textbook three-loop computation, kept independent of fused.
func naive(a, b []float32, normalize bool) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	if !normalize {
		return dot
	}
	var aa, bb float64
	for i := range a {
		aa += float64(a[i]) * float64(a[i])
	}
	for i := range b {
		bb += float64(b[i]) * float64(b[i])
	}
	return dot / (math.Sqrt(aa)*math.Sqrt(bb) + 1e-8)
}

func TestScoreMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 40; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
			b[i] = float32(r.NormFloat64()*3 + 0.5)
		}
		for _, norm := range []bool{false, true} {
			got, want := Score(a, b, norm), naive(a, b, norm)
			if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("n=%d normalize=%v: Score = %.17g, naive = %.17g", n, norm, got, want)
			}
		}
		if c := Cosine(a, b); c < -1 || c > 1 {
			t.Errorf("n=%d: cosine %v outside [-1, 1]", n, c)
		}
	}
}

func TestScoreLengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Score with lengths 2 and 3 did not panic")
		}
	}()
	Score([]float32{1, 2}, []float32{1, 2, 3}, true)
}

func benchVectors(n int) (a, b []float32) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b = make([]float32, n), make([]float32, n)
	for i := range a {
		a[i] = float32(r.NormFloat64())
		b[i] = float32(r.NormFloat64())
	}
	return a, b
}

var sink float64

// BenchmarkScore measures the fused, unrolled cosine on a 1e6-entry gradient.
func BenchmarkScore(b *testing.B) {
	x, y := benchVectors(1_000_000)
	b.SetBytes(8_000_000)
	for b.Loop() {
		sink = Score(x, y, true)
	}
}

// BenchmarkScoreNaive is the three-pass reference, for comparison.
func BenchmarkScoreNaive(b *testing.B) {
	x, y := benchVectors(1_000_000)
	b.SetBytes(8_000_000)
	for b.Loop() {
		sink = naive(x, y, true)
	}
}
