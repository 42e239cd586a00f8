package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// view is one table of the views people read (text and HTML): the columns
// of the metrics of one source node that hold a value in at least one row.
type view struct {
	Source string
	Cols   []viewCol
}

// viewCol is one column of a view: metric Metric's mean ± std, or (Diff)
// its paired difference against the baseline.
type viewCol struct {
	Metric int
	Diff   bool
}

// header returns the column's name: the metric, or "Δ metric".
func (c viewCol) header(t *Table) string {
	if c.Diff {
		return "Δ " + t.Metrics[c.Metric]
	}
	return t.Metrics[c.Metric]
}

// views splits t into one view per source node (the report node's metrics,
// then, e.g., train's acceptance rates), in the order the spec names them,
// leaving out the columns that are "—" in every row (a metric never
// observed, or a difference never computed: acceptance rates against a
// baseline without generated data). dropped lists the headers left out.
func (t *Table) views() (vs []view, dropped []string) {
	for si, src := range t.Sources {
		v := view{Source: src}
		for i := range t.Metrics {
			if i < len(t.From) && t.From[i] != si || i >= len(t.From) && si != 0 {
				continue
			}
			observed, diffed := false, false
			for _, r := range t.Rows {
				c := r.Cells[i]
				observed = observed || c.N > 0
				diffed = diffed || c.Diff != nil && c.Diff.N > 0
			}
			cols := []viewCol{{Metric: i}}
			keep := []bool{observed}
			if t.Baseline != "" {
				cols, keep = append(cols, viewCol{Metric: i, Diff: true}), append(keep, diffed)
			}
			for k, c := range cols {
				if keep[k] {
					v.Cols = append(v.Cols, c)
				} else {
					dropped = append(dropped, c.header(t))
				}
			}
		}
		if len(v.Cols) > 0 {
			vs = append(vs, v)
		}
	}
	return vs, dropped
}

// DefaultWidth is the width of the text table when the output is not a
// terminal.
const DefaultWidth = 100

// WriteText writes t as aligned plain-text tables for a terminal width
// columns wide: one table per node the metrics come from (views), each
// split into several tables, repeating the row labels, where its columns do
// not fit; mean ± std and the paired difference with its interval, every
// number of a metric printed with the same decimals (columnFormat); dotted
// metric names ("accept_by_source.vae") share their prefix in a header line
// above. Columns that are "—" in every row are left out and named in the
// legend; WriteMarkdown, WriteCSV and WriteJSON keep them. A single column
// wider than width is printed whole.
func WriteText(w io.Writer, t *Table, width int) error {
	if width <= 0 {
		width = DefaultWidth
	}
	fs := t.formats()
	vs, dropped := t.views()
	var b strings.Builder
	labelHead := t.Axes
	if len(t.Axes) == 0 {
		labelHead = []string{"run"}
	}
	var labels []*textColumn
	for i, h := range labelHead {
		c := &textColumn{leaf: h}
		for _, r := range t.Rows {
			c.cells = append(c.cells, cellText{Word: t.labels(r)[i]})
		}
		c.measure()
		labels = append(labels, c)
	}
	if len(vs) == 0 {
		vs = []view{{}} // the labels alone
	}
	first := true
	for _, v := range vs {
		// Units: a metric's mean and its difference stay side by side.
		var units [][]*textColumn
		for k, vc := range v.Cols {
			c := &textColumn{}
			name := t.Metrics[vc.Metric]
			if dot := strings.LastIndex(name, "."); dot > 0 && dot < len(name)-1 {
				c.prefix, c.leaf = name[:dot], name[dot+1:]
			} else {
				c.leaf = name
			}
			if vc.Diff {
				c.leaf = "Δ " + c.leaf
			}
			for _, r := range t.Rows {
				if vc.Diff {
					c.cells = append(c.cells, diffText(r, r.Cells[vc.Metric], fs[vc.Metric]))
				} else {
					c.cells = append(c.cells, statText(r.Cells[vc.Metric].Stat, fs[vc.Metric]))
				}
			}
			c.measure()
			if k > 0 && vc.Diff && v.Cols[k-1].Metric == vc.Metric {
				units[len(units)-1] = append(units[len(units)-1], c)
			} else {
				units = append(units, []*textColumn{c})
			}
		}
		if len(vs) > 1 {
			if !first {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "metrics of %s\n", v.Source)
		} else if !first {
			b.WriteString("\n")
		}
		first = false
		for i, chunk := range splitUnits(labels, units, width) {
			if i > 0 {
				b.WriteString("\n")
			}
			writeTextTable(&b, labels, chunk, len(t.Rows))
		}
	}
	b.WriteString("\n")
	note := t.Note()
	if len(dropped) > 0 {
		note += " Left out, — in every row: " + strings.Join(dropped, ", ") + " (--format md, csv or json has every column)."
	}
	b.WriteString(wrap(note, width))
	_, err := io.WriteString(w, b.String())
	return err
}

// textColumn is one column of a text table.
type textColumn struct {
	// prefix is shared with neighbouring columns in a header line above
	// leaf ("accept_by_source" above "vae"); "" for none.
	prefix, leaf string
	cells        []cellText
	// Part widths, so that means, stds and interval ends line up.
	mainW, stdW, loW, hiW int
	hasStd                bool
	width                 int
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func padLeft(s string, w int) string  { return strings.Repeat(" ", max(w-runes(s), 0)) + s }
func padRight(s string, w int) string { return s + strings.Repeat(" ", max(w-runes(s), 0)) }

// measure computes the part widths and the column width.
func (c *textColumn) measure() {
	for _, x := range c.cells {
		if x.Word != "" {
			continue
		}
		c.mainW = max(c.mainW, runes(x.Main))
		c.stdW = max(c.stdW, runes(x.Std))
		c.loW = max(c.loW, runes(x.Lo))
		c.hiW = max(c.hiW, runes(x.Hi))
		c.hasStd = c.hasStd || x.Std != ""
	}
	c.width = runes(c.leaf)
	for _, x := range c.cells {
		c.width = max(c.width, runes(c.render(x)))
	}
}

// render lays out one cell with the column's part widths (not padded to
// the column width).
func (c *textColumn) render(x cellText) string {
	if x.Word != "" {
		return x.Word
	}
	s := padLeft(x.Main, c.mainW)
	switch {
	case x.Std != "":
		s += " ± " + padLeft(x.Std, c.stdW)
	case c.hasStd:
		s += strings.Repeat(" ", 3+c.stdW)
	}
	if x.hasInterval {
		s += " [" + padLeft(x.Lo, c.loW) + ", " + padLeft(x.Hi, c.hiW) + "]"
	}
	if x.Note != "" {
		s += " " + x.Note
	}
	return strings.TrimRight(s, " ")
}

// sep is the gap between columns.
const sep = "  "

// spans returns the runs of adjacent columns that share a non-empty prefix,
// as [start, end) index pairs.
func spans(cols []*textColumn) [][2]int {
	var out [][2]int
	for i := 0; i < len(cols); {
		j := i + 1
		for j < len(cols) && cols[j].prefix == cols[i].prefix {
			j++
		}
		if cols[i].prefix != "" {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

// layout returns the widths of cols in one table: their own widths, the
// last column of a prefix run widened until the prefix fits above the run.
func layout(cols []*textColumn) []int {
	ws := make([]int, len(cols))
	for i, c := range cols {
		ws[i] = c.width
	}
	for _, sp := range spans(cols) {
		w := len(sep) * (sp[1] - sp[0] - 1)
		for i := sp[0]; i < sp[1]; i++ {
			w += ws[i]
		}
		if need := runes(cols[sp[0]].prefix); need > w {
			ws[sp[1]-1] += need - w
		}
	}
	return ws
}

// tableWidth is the width of a table of labels and cols.
func tableWidth(labels, cols []*textColumn) int {
	w := 0
	for _, c := range labels {
		w += c.width + len(sep)
	}
	for _, x := range layout(cols) {
		w += x + len(sep)
	}
	return w - len(sep)
}

// splitUnits packs units greedily, in order, into tables no wider than
// width; a unit that does not fit even alone gets a table of its own.
func splitUnits(labels []*textColumn, units [][]*textColumn, width int) [][]*textColumn {
	var out [][]*textColumn
	var cur []*textColumn
	for _, u := range units {
		next := append(append([]*textColumn{}, cur...), u...)
		if len(cur) > 0 && tableWidth(labels, next) > width {
			out = append(out, cur)
			next = append([]*textColumn{}, u...)
		}
		cur = next
	}
	return append(out, cur)
}

// writeTextTable writes one table: an optional prefix line, the header,
// a rule and n rows.
func writeTextTable(b *strings.Builder, labels, cols []*textColumn, n int) {
	all := append(append([]*textColumn{}, labels...), cols...)
	ws := make([]int, 0, len(all))
	for _, c := range labels {
		ws = append(ws, c.width)
	}
	ws = append(ws, layout(cols)...)
	line := func(cell func(i int, c *textColumn) string) {
		parts := make([]string, len(all))
		for i, c := range all {
			parts[i] = padRight(cell(i, c), ws[i])
		}
		b.WriteString(strings.TrimRight(strings.Join(parts, sep), " ") + "\n")
	}
	if sp := spans(cols); len(sp) > 0 {
		var s strings.Builder
		at := 0 // columns written
		pos := 0
		for i := range labels {
			pos += ws[i] + len(sep)
		}
		s.WriteString(strings.Repeat(" ", pos))
		for _, r := range sp {
			for ; at < r[0]; at++ {
				s.WriteString(strings.Repeat(" ", ws[len(labels)+at]+len(sep)))
			}
			w := len(sep) * (r[1] - r[0] - 1)
			for ; at < r[1]; at++ {
				w += ws[len(labels)+at]
			}
			s.WriteString(padRight(cols[r[0]].prefix, w) + sep)
		}
		b.WriteString(strings.TrimRight(s.String(), " ") + "\n")
	}
	line(func(_ int, c *textColumn) string { return c.leaf })
	line(func(i int, _ *textColumn) string { return strings.Repeat("-", ws[i]) })
	for r := 0; r < n; r++ {
		line(func(_ int, c *textColumn) string { return c.render(c.cells[r]) })
	}
}

// wrap breaks text into lines no longer than width at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+runes(word) > width:
			b.WriteString("\n")
			n = 0
		default:
			b.WriteString(" ")
			n++
		}
		b.WriteString(word)
		n += runes(word)
	}
	b.WriteString("\n")
	return b.String()
}
