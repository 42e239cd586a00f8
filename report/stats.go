package report

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Stat is mean ± sample standard deviation over N values, out of Want
// expected (the missing ones are not cached yet).
type Stat struct {
	Mean, Std float64
	N, Want   int
}

// Summarize returns the mean and sample standard deviation (n−1 in the
// denominator; 0 for a single value) of vs, out of want expected values.
func Summarize(vs []float64, want int) Stat {
	s := Stat{N: len(vs), Want: want}
	if len(vs) == 0 {
		return s
	}
	s.Mean = mean(vs)
	if len(vs) > 1 {
		var ss float64
		for _, v := range vs {
			ss += (v - s.Mean) * (v - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(vs)-1))
	}
	return s
}

func mean(vs []float64) float64 {
	var sum float64
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs))
}

// String renders "mean ± std", "mean" for one value, "—" for none, and adds
// "(n/want)" when values are missing.
func (s Stat) String() string {
	switch {
	case s.N == 0:
		return "—"
	case s.N == 1 && s.Want <= 1:
		return fmt.Sprintf("%.4g", s.Mean)
	}
	out := fmt.Sprintf("%.4g", s.Mean)
	if s.N > 1 {
		out += fmt.Sprintf(" ± %.2g", s.Std)
	}
	if s.N < s.Want {
		out += fmt.Sprintf(" (%d/%d)", s.N, s.Want)
	}
	return out
}

// Diff is the paired difference of a row against the baseline row: the mean
// over the N pairs (same values of the aggregated axes) of row − baseline,
// and its 95% confidence interval [Lo, Hi] from Student's t with N−1 degrees
// of freedom. With fewer than two pairs the interval is unknown (NaN).
type Diff struct {
	Mean, Std float64
	Lo, Hi    float64
	N         int
}

// Level is the confidence level of every Diff interval.
const Level = 0.95

// TQuantile returns the p-quantile of Student's t distribution with dof
// degrees of freedom (NaN for dof < 1).
func TQuantile(p float64, dof int) float64 {
	if dof < 1 {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(dof)}.Quantile(p)
}

// Paired returns the paired difference of x against base, pair by pair
// (x[i] − base[i]); both must have the same length.
func Paired(x, base []float64) Diff {
	if len(x) != len(base) {
		panic(fmt.Sprintf("report: paired difference of %d and %d values", len(x), len(base)))
	}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - base[i]
	}
	s := Summarize(d, len(d))
	out := Diff{Mean: s.Mean, Std: s.Std, N: s.N, Lo: math.NaN(), Hi: math.NaN()}
	if s.N == 0 {
		out.Mean = math.NaN()
		return out
	}
	if s.N > 1 {
		half := TQuantile(1-(1-Level)/2, s.N-1) * s.Std / math.Sqrt(float64(s.N))
		out.Lo, out.Hi = s.Mean-half, s.Mean+half
	}
	return out
}

// String renders "+mean [lo, hi]", or "+mean" without an interval.
func (d Diff) String() string {
	switch {
	case d.N == 0:
		return "—"
	case math.IsNaN(d.Lo):
		return fmt.Sprintf("%+.3g (n=1)", d.Mean)
	}
	return fmt.Sprintf("%+.3g [%+.3g, %+.3g]", d.Mean, d.Lo, d.Hi)
}
