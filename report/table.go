package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"dagrun/spec"
)

// Observation is one instance of the report node: its axis values and,
// when it is cached, its metrics.
type Observation struct {
	Node    string
	Cell    []spec.AxisValue
	Cached  bool
	Metrics map[string]float64
}

// Table is a report table: one row per combination of the report's row
// axes, one cell per metric aggregated over every other axis (the `over`
// axes, usually seed), and, with a baseline, the paired difference of each
// row against its baseline row.
type Table struct {
	Axes    []string
	Over    []string
	Metrics []string
	// Sources names the nodes the metrics are read from, as the spec writes
	// them ("eval", "train_${gen}"); From gives, parallel to Metrics, the
	// index in Sources of each metric's node. The text and HTML views show
	// one table per source.
	Sources []string
	From    []int
	// Baseline is the report's baseline label ("method=none"), or "".
	Baseline string
	Rows     []Row
}

// Row is one row of a table.
type Row struct {
	Labels []string
	// IsBaseline is true for a row that is its own baseline.
	IsBaseline bool
	// BaselineLabels are the labels of the row this one is compared with
	// (nil without a baseline, or when that row does not exist).
	BaselineLabels []string
	Cells          []Cell
}

// Cell is one metric of one row.
type Cell struct {
	Stat
	// Diff is the paired difference against the baseline row; nil without
	// a baseline and on the baseline row itself.
	Diff *Diff
	// Values maps the pairing label (the values of every non-row axis, e.g.
	// "seed=2") to the value observed there.
	Values map[string]float64
}

// Tabulate builds the table of rep from the report node's instances, in
// the order given (spec order). A metric that is missing or NaN in an
// instance counts as not observed. Baseline axes not named by rep.Baseline
// keep the row's own value, so "method=none" compares each row with the
// method=none row of the same other row axes.
func Tabulate(rep *spec.Report, obs []Observation) (*Table, error) {
	t := &Table{Axes: rep.Rows, Over: rep.Over, Metrics: rep.Metrics, Baseline: rep.Baseline,
		Sources: []string{rep.Node}, From: make([]int, len(rep.Metrics))}
	if len(rep.Sources) > 0 && len(rep.From) == len(rep.Metrics) {
		t.Sources, t.From = nil, rep.From
		for _, s := range rep.Sources {
			t.Sources = append(t.Sources, s.Ref)
		}
	}
	base := map[string]string{}
	if rep.Baseline != "" {
		for _, part := range strings.Split(rep.Baseline, ",") {
			axis, value, ok := strings.Cut(part, "=")
			if !ok || indexOf(rep.Rows, axis) < 0 {
				return nil, fmt.Errorf("report baseline %q: %q is not axis=value with a row axis", rep.Baseline, part)
			}
			base[axis] = value
		}
	}
	type group struct {
		row  Row
		want int
	}
	var order []string
	groups := map[string]*group{}
	for _, o := range obs {
		cell := map[string]string{}
		for _, av := range o.Cell {
			cell[av.Axis] = av.Value
		}
		labels := make([]string, len(rep.Rows))
		for i, ax := range rep.Rows {
			labels[i] = cell[ax]
		}
		var pair []string
		for _, av := range o.Cell {
			if indexOf(rep.Rows, av.Axis) < 0 {
				pair = append(pair, av.Axis+"="+av.Value)
			}
		}
		id := strings.Join(labels, "\x00")
		gr := groups[id]
		if gr == nil {
			gr = &group{row: Row{Labels: labels, Cells: make([]Cell, len(rep.Metrics))}}
			for i := range gr.row.Cells {
				gr.row.Cells[i].Values = map[string]float64{}
			}
			groups[id] = gr
			order = append(order, id)
		}
		gr.want++
		if !o.Cached {
			continue
		}
		for i, name := range rep.Metrics {
			if v, ok := o.Metrics[name]; ok && !math.IsNaN(v) {
				gr.row.Cells[i].Values[strings.Join(pair, ",")] = v
			}
		}
	}
	for _, id := range order {
		gr := groups[id]
		for i := range gr.row.Cells {
			c := &gr.row.Cells[i]
			c.Stat = Summarize(valuesOf(c.Values, sortedKeys(c.Values)), gr.want)
		}
	}
	if len(base) > 0 {
		for _, id := range order {
			r := &groups[id].row
			bl := make([]string, len(rep.Rows))
			for i, ax := range rep.Rows {
				bl[i] = r.Labels[i]
				if v, ok := base[ax]; ok {
					bl[i] = v
				}
			}
			bid := strings.Join(bl, "\x00")
			if bid == id {
				r.IsBaseline = true
				continue
			}
			b, ok := groups[bid]
			if !ok {
				continue
			}
			r.BaselineLabels = bl
			for i := range r.Cells {
				var xs, bs []float64
				for _, k := range sortedKeys(r.Cells[i].Values) {
					if bv, ok := b.row.Cells[i].Values[k]; ok {
						xs, bs = append(xs, r.Cells[i].Values[k]), append(bs, bv)
					}
				}
				d := Paired(xs, bs)
				r.Cells[i].Diff = &d
			}
		}
	}
	for _, id := range order {
		t.Rows = append(t.Rows, groups[id].row)
	}
	return t, nil
}

// Label renders a row's labels as "axis=value,axis=value".
func (t *Table) Label(labels []string) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = t.Axes[i] + "=" + l
	}
	return strings.Join(parts, ",")
}

// header returns the column names of the Markdown and HTML tables.
func (t *Table) header() []string {
	head := append([]string{}, t.Axes...)
	if len(t.Axes) == 0 {
		head = []string{"run"}
	}
	for _, m := range t.Metrics {
		head = append(head, m)
		if t.Baseline != "" {
			head = append(head, "Δ "+m)
		}
	}
	return head
}

// formats returns the number format of every metric column.
func (t *Table) formats() []numFormat {
	out := make([]numFormat, len(t.Metrics))
	for i := range out {
		out[i] = columnFormat(t, i)
	}
	return out
}

// labels returns the label columns of row r: its axis values, or "all"
// without row axes.
func (t *Table) labels(r Row) []string {
	if len(t.Axes) == 0 {
		return []string{"all"}
	}
	return r.Labels
}

// cells returns the rendered columns of row r, parallel to header, with
// the column formats fs.
func (t *Table) cells(r Row, fs []numFormat) []string {
	cols := append([]string{}, t.labels(r)...)
	for i, c := range r.Cells {
		cols = append(cols, statText(c.Stat, fs[i]).String())
		if t.Baseline != "" {
			cols = append(cols, diffText(r, c, fs[i]).String())
		}
	}
	return cols
}

// Note is the table's legend: what ± and Δ mean.
func (t *Table) Note() string {
	over := "the other axes"
	if len(t.Over) > 0 {
		over = strings.Join(t.Over, ", ")
	}
	s := fmt.Sprintf("mean ± sample std over %s; (n/m): only n of m cells cached.", over)
	if t.Baseline != "" {
		s += fmt.Sprintf(" Δ: paired difference against %s (same %s), mean [%.0f%% interval, Student's t with n−1 dof].", t.Baseline, over, Level*100)
	}
	return s
}

// WriteMarkdown writes t as a Markdown table followed by its legend.
func WriteMarkdown(w io.Writer, t *Table) error {
	head := t.header()
	if _, err := fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head))); err != nil {
		return err
	}
	fs := t.formats()
	for _, r := range t.Rows {
		if _, err := fmt.Fprintf(w, "| %s |\n", strings.Join(t.cells(r, fs), " | ")); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", t.Note())
	return err
}

func ftoa(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// WriteCSV writes t with full precision: per metric its mean, std and n,
// and with a baseline the paired difference, its interval and pair count.
// Unknown values are empty.
func WriteCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	head := append([]string{}, t.Axes...)
	for _, m := range t.Metrics {
		head = append(head, m+"_mean", m+"_std", m+"_n")
		if t.Baseline != "" {
			head = append(head, m+"_diff", m+"_diff_lo", m+"_diff_hi", m+"_diff_n")
		}
	}
	cw.Write(head)
	for _, r := range t.Rows {
		rec := append([]string{}, r.Labels...)
		for _, c := range r.Cells {
			if c.N == 0 {
				rec = append(rec, "", "", "0")
			} else {
				rec = append(rec, ftoa(c.Mean), ftoa(c.Std), strconv.Itoa(c.N))
			}
			if t.Baseline == "" {
				continue
			}
			if c.Diff == nil || c.Diff.N == 0 {
				rec = append(rec, "", "", "", "0")
				continue
			}
			rec = append(rec, ftoa(c.Diff.Mean), ftoa(c.Diff.Lo), ftoa(c.Diff.Hi), strconv.Itoa(c.Diff.N))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// JSONTable is the JSON form of a Table (`dagrun show --format json`), for
// programs that read reports (scripts/doubling); unknown numbers are
// omitted. ReadJSON decodes it.
type JSONTable struct {
	Axes     []string  `json:"axes"`
	Over     []string  `json:"over"`
	Metrics  []string  `json:"metrics"`
	Baseline string    `json:"baseline,omitempty"`
	Level    float64   `json:"level,omitempty"`
	Rows     []JSONRow `json:"rows"`
}

// JSONRow is one row of a JSONTable: its labels by axis, cells by metric.
type JSONRow struct {
	Labels     map[string]string   `json:"labels"`
	IsBaseline bool                `json:"is_baseline,omitempty"`
	Baseline   map[string]string   `json:"baseline,omitempty"`
	Cells      map[string]JSONCell `json:"cells"`
}

// JSONCell is one metric of a row: mean and std over the pairing axis
// (nil when unknown), n of want values, the values by pairing label, and
// the paired difference to the row's baseline.
type JSONCell struct {
	Mean   *float64           `json:"mean,omitempty"`
	Std    *float64           `json:"std,omitempty"`
	N      int                `json:"n"`
	Want   int                `json:"want"`
	Values map[string]float64 `json:"values,omitempty"`
	Diff   *JSONDiff          `json:"diff,omitempty"`
}

// JSONDiff is a paired difference: mean and 95 % interval over n pairs.
type JSONDiff struct {
	Mean *float64 `json:"mean,omitempty"`
	Lo   *float64 `json:"lo,omitempty"`
	Hi   *float64 `json:"hi,omitempty"`
	N    int      `json:"n"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON writes t as indented JSON: rows with their labels by axis and
// cells by metric, each with mean, std, n, the values per pairing label
// and the paired difference.
func WriteJSON(w io.Writer, t *Table) error {
	jt := JSONTable{Axes: t.Axes, Over: t.Over, Metrics: t.Metrics, Baseline: t.Baseline, Rows: []JSONRow{}}
	if t.Baseline != "" {
		jt.Level = Level
	}
	labelMap := func(ls []string) map[string]string {
		if ls == nil {
			return nil
		}
		m := make(map[string]string, len(ls))
		for i, l := range ls {
			m[t.Axes[i]] = l
		}
		return m
	}
	for _, r := range t.Rows {
		jr := JSONRow{Labels: labelMap(r.Labels), IsBaseline: r.IsBaseline, Baseline: labelMap(r.BaselineLabels), Cells: map[string]JSONCell{}}
		if jr.Labels == nil {
			jr.Labels = map[string]string{}
		}
		for i, c := range r.Cells {
			jc := JSONCell{N: c.N, Want: c.Want, Values: c.Values}
			if c.N > 0 {
				jc.Mean = num(c.Mean)
			}
			if c.N > 1 {
				jc.Std = num(c.Std)
			}
			if c.Diff != nil {
				jc.Diff = &JSONDiff{Mean: num(c.Diff.Mean), Lo: num(c.Diff.Lo), Hi: num(c.Diff.Hi), N: c.Diff.N}
			}
			jr.Cells[t.Metrics[i]] = jc
		}
		jt.Rows = append(jt.Rows, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jt)
}

// ReadJSON decodes a table WriteJSON wrote.
func ReadJSON(r io.Reader) (*JSONTable, error) {
	var t JSONTable
	if err := json.NewDecoder(r).Decode(&t); err != nil {
		return nil, err
	}
	return &t, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
