package report

import (
	"math"
	"testing"
)

// TestTQuantile checks the t quantiles against a printed table of
// two-sided 95% critical values.
func TestTQuantile(t *testing.T) {
	for _, tc := range []struct {
		dof  int
		want float64
	}{
		{1, 12.7062}, {2, 4.3027}, {3, 3.1824}, {4, 2.7764}, {9, 2.2622}, {29, 2.0452}, {1000, 1.9623},
	} {
		if got := TQuantile(0.975, tc.dof); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("TQuantile(0.975, %d) = %.5f, want %.4f", tc.dof, got, tc.want)
		}
	}
	if got := TQuantile(0.975, 0); !math.IsNaN(got) {
		t.Errorf("TQuantile(0.975, 0) = %v, want NaN", got)
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name      string
		vs        []float64
		mean, std float64
		str       string
	}{
		{"none", nil, 0, 0, "—"},
		{"one", []float64{2.5}, 2.5, 0, "2.5"},
		// mean 2, squares 1+0+1 over n-1 = 2 → std 1
		{"three", []float64{1, 2, 3}, 2, 1, "2 ± 1"},
		{"two", []float64{1, 2}, 1.5, math.Sqrt(0.5), "1.5 ± 0.71"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.vs, len(tc.vs))
			if math.Abs(s.Mean-tc.mean) > 1e-12 || math.Abs(s.Std-tc.std) > 1e-12 {
				t.Errorf("Summarize(%v) = %v ± %v, want %v ± %v", tc.vs, s.Mean, s.Std, tc.mean, tc.std)
			}
			if got := s.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
		})
	}
	if got := Summarize([]float64{1, 3}, 3).String(); got != "2 ± 1.4 (2/3)" {
		t.Errorf("partial String() = %q, want %q", got, "2 ± 1.4 (2/3)")
	}
}

// TestPairedHandComputed checks a paired difference worked by hand:
// row 0.55, 0.56, 0.50 against baseline 0.50, 0.52, 0.48 gives
// d = 0.05, 0.04, 0.02; mean 0.11/3; deviations 1/75, 1/300, -1/60 give
// sum of squares 0.00046667, s² = 0.00023333, s = 0.0152753; standard
// error s/√3 = 0.0088192; t(0.975, 2) = 4.302653 from the table, so the
// half-width is 0.0379458 and the interval [-0.0012792, 0.0746125].
func TestPairedHandComputed(t *testing.T) {
	d := Paired([]float64{0.55, 0.56, 0.50}, []float64{0.50, 0.52, 0.48})
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"mean", d.Mean, 0.0366667},
		{"std", d.Std, 0.0152753},
		{"lo", d.Lo, -0.0012792},
		{"hi", d.Hi, 0.0746125},
	} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s = %.7f, want %.7f", c.name, c.got, c.want)
		}
	}
	if d.N != 3 {
		t.Errorf("N = %d, want 3", d.N)
	}
	if got, want := d.String(), "+0.0367 [-0.00128, +0.0746]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	one := Paired([]float64{2}, []float64{1.5})
	if one.Mean != 0.5 || !math.IsNaN(one.Lo) || !math.IsNaN(one.Hi) {
		t.Errorf("one pair: %+v, want mean 0.5 and no interval", one)
	}
	if none := Paired(nil, nil); none.N != 0 || none.String() != "—" {
		t.Errorf("no pairs: %+v %q", none, none.String())
	}
}
