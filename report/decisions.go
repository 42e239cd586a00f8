package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
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
			Sources: d.Sources, Category: d.Categories}
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

// readCSV returns the records after the header and the header's column
// index by name.
func readCSV(b []byte) ([][]string, map[string]int, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err == io.EOF {
		return nil, map[string]int{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	recs, err := r.ReadAll()
	return recs, col, err
}

func parseFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// ParseCurve reads a CSV whose first column is x (e.g. iteration) and
// whose column named y (or, when absent, the second column) is the value.
// Rows whose values do not parse are skipped.
func ParseCurve(b []byte, y string) (xs, ys []float64, err error) {
	recs, col, err := readCSV(b)
	if err != nil {
		return nil, nil, err
	}
	j, ok := col[y]
	if !ok {
		j = 1
	}
	for _, rec := range recs {
		if j >= len(rec) {
			continue
		}
		x, v := parseFloat(rec[0]), parseFloat(rec[j])
		if math.IsNaN(x) || math.IsNaN(v) {
			continue
		}
		xs, ys = append(xs, x), append(ys, v)
	}
	return xs, ys, nil
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
