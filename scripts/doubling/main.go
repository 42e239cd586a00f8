// Command doubling applies the budget rule of the learning-curve specs
// (experiments/curves.yaml, toycurves.yaml) to a report: for each group of
// rows (a mode) and each budget B whose double 2B is also a row, it prints
// the metric's mean at B and at 2B, the relative change, and the paired
// change 2B − B over the seeds (same seed at both budgets) with its 95 %
// Student-t interval; then, for each of two rules, the smallest B that
// meets it in every group:
//
//	rel   |mean(2B) − mean(B)| < -tol × mean(B)
//	noise rel, or the paired interval of 2B − B contains 0 (within seed noise)
//
// It reads `dagrun show --format json SPEC` on standard input:
//
//	bin/dagrun show --format json experiments/curves.yaml | go run ./scripts/doubling -metric val_AP
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"dagrun/report"
)

// Step is one doubling B → 2B of one group.
type Step struct {
	Group         string
	B             int
	At, At2       float64 // means at B and 2B
	Rel           float64 // (At2 − At) / At
	Diff          report.Diff
	MeetsRel      bool
	WithinNoise   bool
	MissingValues bool // a seed lacks one of the two budgets
}

func main() {
	metric := flag.String("metric", "val_AP", "the report metric the rule reads")
	axis := flag.String("axis", "budget", "the budget axis")
	by := flag.String("by", "mode", "the axis whose values are the groups (each must meet the rule)")
	tol := flag.Float64("tol", 0.05, "relative tolerance of the rule")
	flag.Parse()
	steps, err := analyze(os.Stdin, *metric, *axis, *by, *tol)
	if err != nil {
		fmt.Fprintln(os.Stderr, "doubling:", err)
		os.Exit(2)
	}
	print(os.Stdout, steps, *metric, *tol)
}

func analyze(r io.Reader, metric, axis, by string, tol float64) ([]Step, error) {
	d, err := report.ReadJSON(r)
	if err != nil {
		return nil, fmt.Errorf("reading the report: %w", err)
	}
	type key struct {
		group string
		b     int
	}
	cells := map[key]report.JSONCell{}
	var groups []string
	for _, rw := range d.Rows {
		bs, ok := rw.Labels[axis]
		if !ok {
			return nil, fmt.Errorf("row %v has no axis %q", rw.Labels, axis)
		}
		b, err := strconv.Atoi(bs)
		if err != nil {
			return nil, fmt.Errorf("row %v: budget %q is not an integer", rw.Labels, bs)
		}
		g := rw.Labels[by]
		c, ok := rw.Cells[metric]
		if !ok {
			return nil, fmt.Errorf("row %v has no metric %q", rw.Labels, metric)
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
		cells[key{g, b}] = c
	}
	var steps []Step
	for _, g := range groups {
		var budgets []int
		for k := range cells {
			if k.group == g {
				budgets = append(budgets, k.b)
			}
		}
		slices.Sort(budgets)
		for _, b := range budgets {
			c, c2 := cells[key{g, b}], cells[key{g, 2 * b}]
			if c.Mean == nil || c2.Mean == nil {
				continue // 2B is not a row, or a mean is unknown
			}
			st := Step{Group: g, B: b, At: *c.Mean, At2: *c2.Mean}
			st.Rel = (st.At2 - st.At) / st.At
			var x, base []float64
			seeds := make([]string, 0, len(c.Values))
			for s := range c.Values {
				seeds = append(seeds, s)
			}
			slices.Sort(seeds)
			for _, s := range seeds {
				v2, ok := c2.Values[s]
				if !ok {
					st.MissingValues = true
					continue
				}
				x, base = append(x, v2), append(base, c.Values[s])
			}
			if len(c2.Values) != len(x) {
				st.MissingValues = true
			}
			st.Diff = report.Paired(x, base)
			st.MeetsRel = math.Abs(st.Rel) < tol
			st.WithinNoise = st.MeetsRel || st.Diff.Lo <= 0 && 0 <= st.Diff.Hi
			steps = append(steps, st)
		}
	}
	return steps, nil
}

// Smallest returns the smallest B at which every group's step meets the
// rule (rel, or rel-or-noise), and whether there is one.
func Smallest(steps []Step, noise bool) (int, bool) {
	groups := map[string]bool{}
	byB := map[int][]Step{}
	for _, s := range steps {
		groups[s.Group] = true
		byB[s.B] = append(byB[s.B], s)
	}
	var bs []int
	for b := range byB {
		bs = append(bs, b)
	}
	slices.Sort(bs)
	for _, b := range bs {
		ok := len(byB[b]) == len(groups)
		for _, s := range byB[b] {
			meets := s.MeetsRel
			if noise {
				meets = s.WithinNoise
			}
			ok = ok && meets && !s.MissingValues
		}
		if ok {
			return b, true
		}
	}
	return 0, false
}

func print(w io.Writer, steps []Step, metric string, tol float64) {
	fmt.Fprintf(w, "%-8s %8s %10s %10s %8s  %-28s %s\n", "group", "B", metric+"(B)", metric+"(2B)", "change", "paired 2B-B [95%]", "rule")
	for _, s := range steps {
		rule := "no"
		switch {
		case s.MissingValues:
			rule = "incomplete"
		case s.MeetsRel:
			rule = "rel"
		case s.WithinNoise:
			rule = "noise"
		}
		fmt.Fprintf(w, "%-8s %8d %10.4f %10.4f %+7.1f%%  %-28s %s\n", s.Group, s.B, s.At, s.At2, 100*s.Rel, s.Diff.String(), rule)
	}
	for _, noise := range []bool{false, true} {
		name := fmt.Sprintf("|change| < %g %%", 100*tol)
		if noise {
			name += " or within seed noise"
		}
		if b, ok := Smallest(steps, noise); ok {
			fmt.Fprintf(w, "smallest B with %s in every group: %d\n", name, b)
		} else {
			fmt.Fprintf(w, "smallest B with %s in every group: none among these budgets\n", name)
		}
	}
}
