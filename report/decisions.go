package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"dagrun/dag"
	"dagrun/format"
)

// Decision is one row of a train node's decisions.csv: the iteration, the
// score of the generated part and the threshold (NaN when the select mode
// has none), whether it was accepted, and how many generated items of each
// source and category it held.
type Decision struct {
	Iteration         int
	Score, Threshold  float64
	Accepted          bool
	Sources, Category map[string]int
	// Items are the pool items the decision covered (format.Decision).
	Items []int
}

// ParseDecisions reads decisions.csv (format.ParseDecisions): an empty
// file holds no rows; a header without a column of format.DecisionsHeader
// or a cell that does not parse is an error.
func ParseDecisions(b []byte) ([]Decision, error) {
	rows, err := format.ParseDecisions(b)
	if err != nil {
		return nil, err
	}
	out := make([]Decision, len(rows))
	for i, d := range rows {
		out[i] = Decision{Iteration: d.Iteration, Score: d.Score, Threshold: d.Threshold, Accepted: d.Accepted,
			Sources: d.Sources, Category: d.Categories, Items: d.Items}
	}
	return out, nil
}

// readDecisions returns the decisions of a cached train node: none when it
// is not cached or wrote no decisions.csv, an error naming the node and
// the file when the file is malformed.
func (r *Report) readDecisions(it *dag.PlanItem) ([]Decision, error) {
	b, ok := r.readFile(it, format.DecisionsFile)
	if !ok {
		return nil, nil
	}
	ds, err := ParseDecisions(b)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", it.Node.Name(), err)
	}
	return ds, nil
}

// ParseCurve reads column y against the iteration from a train node's
// learning curve: file format.LossFile (y "loss"; format.ParseLoss) or
// format.ValFile (y a column of its header, e.g. "val_AP";
// format.ParseVal). A malformed file, another file or a column the file
// does not have is an error: no row is ever skipped.
func ParseCurve(file string, b []byte, y string) (xs, ys []float64, err error) {
	switch file {
	case format.LossFile:
		if y != "loss" {
			return nil, nil, fmt.Errorf("%s has no column %q", file, y)
		}
		rows, err := format.ParseLoss(b)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			xs, ys = append(xs, float64(r.Iteration)), append(ys, r.Loss)
		}
		return xs, ys, nil
	case format.ValFile:
		rows, seg, err := format.ParseVal(b)
		if err != nil {
			return nil, nil, err
		}
		head := format.ValHeader
		if seg {
			head = format.ValSegHeader
		}
		if y == "iteration" || !slices.Contains(head, y) {
			return nil, nil, fmt.Errorf("%s has no column %q (header %q)", file, y, strings.Join(head, ","))
		}
		for _, r := range rows {
			xs, ys = append(xs, float64(r.Iteration)), append(ys, r.Metric(y))
		}
		return xs, ys, nil
	}
	return nil, nil, fmt.Errorf("%q is not a learning curve (want %s or %s)", file, format.LossFile, format.ValFile)
}

// AcceptanceOverTime splits the iteration range of runs (several seeds of
// one configuration, pooled) into at most bins equal bins and returns, per
// key (a source, a frequency group), the fraction of the items of that key
// offered in each bin that were accepted, at the bin centres. key maps a
// decision to its item counts per key. Bins where a key was not offered
// have no point.
func AcceptanceOverTime(runs [][]Decision, key func(Decision) map[string]int, bins int) []Series {
	lo, hi := math.MaxInt, math.MinInt
	for _, ds := range runs {
		for _, d := range ds {
			lo, hi = min(lo, d.Iteration), max(hi, d.Iteration)
		}
	}
	if lo > hi || bins < 1 {
		return nil
	}
	span := hi - lo + 1
	bins = min(bins, span)
	width := float64(span) / float64(bins)
	seen, acc := map[string][]float64{}, map[string][]float64{}
	for _, ds := range runs {
		for _, d := range ds {
			b := min(int(float64(d.Iteration-lo)/width), bins-1)
			for k, n := range key(d) {
				if seen[k] == nil {
					seen[k], acc[k] = make([]float64, bins), make([]float64, bins)
				}
				seen[k][b] += float64(n)
				if d.Accepted {
					acc[k][b] += float64(n)
				}
			}
		}
	}
	var out []Series
	for _, k := range sortedKeys(seen) {
		s := Series{Name: k}
		for b := range bins {
			if seen[k][b] > 0 {
				s.X = append(s.X, float64(lo)+(float64(b)+0.5)*width-0.5)
				s.Y = append(s.Y, acc[k][b]/seen[k][b])
			}
		}
		out = append(out, s)
	}
	return out
}

// BySource is the key of AcceptanceOverTime for generator sources.
func BySource(d Decision) map[string]int { return d.Sources }

// ByGroup returns the key of AcceptanceOverTime that maps categories to
// frequency groups (rare, common, frequent) through groups; categories
// without a group are left out.
func ByGroup(groups map[string]string) func(Decision) map[string]int {
	return func(d Decision) map[string]int {
		m := map[string]int{}
		for c, n := range d.Category {
			if g, ok := groups[c]; ok {
				m[g] += n
			}
		}
		return m
	}
}

// Scores splits the finite scores of runs into accepted and rejected.
func Scores(runs [][]Decision) (accepted, rejected []float64) {
	for _, ds := range runs {
		for _, d := range ds {
			switch {
			case math.IsNaN(d.Score) || math.IsInf(d.Score, 0):
			case d.Accepted:
				accepted = append(accepted, d.Score)
			default:
				rejected = append(rejected, d.Score)
			}
		}
	}
	sort.Float64s(accepted)
	sort.Float64s(rejected)
	return accepted, rejected
}
