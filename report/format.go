package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The tables people read (text, Markdown, HTML) print every number of one
// metric column (means, stds, paired differences and their intervals) with
// the same number of decimals, chosen from the column's spread: two
// significant digits of the median sample std of its rows (so the last
// digit printed is about a tenth of the noise). Without any std (one seed,
// or identical values): none for a column of whole numbers (counts), else
// three significant digits of the median nonzero mean. A column that would
// need more than maxDecimals decimals is printed in scientific notation
// with two significant digits instead. CSV and JSON keep full precision.

// maxDecimals is the most decimals a fixed-point column gets.
const maxDecimals = 6

// numFormat prints the numbers of one column.
type numFormat struct {
	// decimals is the number of digits after the point; sci means scientific
	// notation with two significant digits instead.
	decimals int
	sci      bool
}

// columnFormat returns the format of metric column i of t.
func columnFormat(t *Table, i int) numFormat {
	var stds, means []float64
	whole := true
	for _, r := range t.Rows {
		c := r.Cells[i]
		if c.N > 1 && c.Std > 0 && !math.IsInf(c.Std, 0) && !math.IsNaN(c.Std) {
			stds = append(stds, c.Std)
		}
		if c.N > 0 && c.Mean != 0 && !math.IsNaN(c.Mean) && !math.IsInf(c.Mean, 0) {
			means = append(means, math.Abs(c.Mean))
			whole = whole && c.Mean == math.Trunc(c.Mean)
		}
	}
	var d int
	switch {
	case len(stds) > 0:
		d = 1 - int(math.Floor(math.Log10(lowerMedian(stds))))
	case len(means) > 0 && !whole:
		d = 2 - int(math.Floor(math.Log10(lowerMedian(means))))
	}
	if d > maxDecimals {
		return numFormat{sci: true}
	}
	return numFormat{decimals: max(d, 0)}
}

// lowerMedian returns the lower median of vs (sorting it).
func lowerMedian(vs []float64) float64 {
	sort.Float64s(vs)
	return vs[(len(vs)-1)/2]
}

// num formats v; a value that rounds to zero loses its minus sign.
func (f numFormat) num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	var s string
	if f.sci {
		s = strconv.FormatFloat(v, 'e', 1, 64)
	} else {
		s = strconv.FormatFloat(v, 'f', f.decimals, 64)
	}
	if strings.HasPrefix(s, "-") && strings.Trim(s, "-0.e+") == "" {
		s = s[1:]
	}
	return s
}

// signed formats v with its sign always shown.
func (f numFormat) signed(v float64) string {
	s := f.num(v)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// cellText is one rendered table cell: a word (Word: "—", "baseline") or a
// number in parts, aligned part by part in the text table. For a mean:
// Main ± Std, then Note ("(2/3)"). For a paired difference: Main [Lo, Hi],
// or Main and Note ("(n=1)") without an interval.
type cellText struct {
	Word        string
	Main, Std   string
	Lo, Hi      string
	Note        string
	hasInterval bool
}

// statText renders a mean ± std cell.
func statText(s Stat, f numFormat) cellText {
	if s.N == 0 {
		return cellText{Word: "—"}
	}
	c := cellText{Main: f.num(s.Mean)}
	if s.N > 1 {
		c.Std = f.num(s.Std)
	}
	if s.N < s.Want {
		c.Note = fmt.Sprintf("(%d/%d)", s.N, s.Want)
	}
	return c
}

// diffText renders the paired-difference cell of a row.
func diffText(r Row, c Cell, f numFormat) cellText {
	switch {
	case r.IsBaseline:
		return cellText{Word: "baseline"}
	case c.Diff == nil || c.Diff.N == 0:
		return cellText{Word: "—"}
	}
	out := cellText{Main: f.signed(c.Diff.Mean)}
	if math.IsNaN(c.Diff.Lo) {
		out.Note = fmt.Sprintf("(n=%d)", c.Diff.N)
		return out
	}
	out.Lo, out.Hi, out.hasInterval = f.signed(c.Diff.Lo), f.signed(c.Diff.Hi), true
	return out
}

// String renders the cell on its own, without alignment (Markdown, HTML).
func (c cellText) String() string {
	if c.Word != "" {
		return c.Word
	}
	s := c.Main
	if c.Std != "" {
		s += " ± " + c.Std
	}
	if c.hasInterval {
		s += " [" + c.Lo + ", " + c.Hi + "]"
	}
	if c.Note != "" {
		s += " " + c.Note
	}
	return s
}
