package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"dagrun/cache"
	"dagrun/dag"

	"github.com/spf13/cobra"
)

var errNoReport = errors.New("spec has no report section")

func (a *app) showCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show SPEC",
		Short: "print the spec's report from the cache alone (Markdown or CSV)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "csv" {
				return withCode(exitInvalid, fmt.Errorf("dagrun: show --format %q: want md or csv", format))
			}
			g, err := a.load(args[0])
			if err != nil {
				return err
			}
			if g.Spec.Report == nil {
				return withCode(exitInvalid, fmt.Errorf("dagrun: show: %s: %w", args[0], errNoReport))
			}
			c, err := a.openCache(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			return a.printReport(cmd.Context(), g, c, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or csv")
	return cmd
}

// Table is a report: one row per combination of the report's row axes,
// one column per metric, each cell aggregated over the other axes.
type Table struct {
	Axes    []string
	Metrics []string
	Rows    []TableRow
}

// TableRow is one row of a report table.
type TableRow struct {
	Labels []string
	Cells  []Stat
}

// Stat is mean ± sample standard deviation over N values, out of Want
// expected (the missing ones are not cached yet).
type Stat struct {
	Mean, Std float64
	N, Want   int
}

func (s Stat) String() string {
	switch {
	case s.N == 0:
		return "—"
	case s.N == 1:
		return fmt.Sprintf("%.4g", s.Mean)
	}
	out := fmt.Sprintf("%.4g ± %.2g", s.Mean, s.Std)
	if s.N < s.Want {
		out += fmt.Sprintf(" (%d/%d)", s.N, s.Want)
	}
	return out
}

// buildTable tabulates the metrics of the report node's instances, reading
// only the cache.
func buildTable(ctx context.Context, g *dag.Graph, c *cache.Cache) (*Table, error) {
	rep := g.Spec.Report
	p, err := dag.MakePlan(ctx, g, c, "")
	if err != nil {
		return nil, err
	}
	t := &Table{Axes: rep.Rows, Metrics: rep.Metrics}
	type group struct {
		labels []string
		values [][]float64
		want   int
	}
	var order []string
	groups := map[string]*group{}
	for _, it := range p.Items {
		if it.Node.Spec.Base != rep.Node {
			continue
		}
		cell := map[string]string{}
		for _, av := range it.Node.Spec.Cell {
			cell[av.Axis] = av.Value
		}
		labels := make([]string, len(rep.Rows))
		for i, ax := range rep.Rows {
			labels[i] = cell[ax]
		}
		id := strings.Join(labels, "\x00")
		gr := groups[id]
		if gr == nil {
			gr = &group{labels: labels, values: make([][]float64, len(rep.Metrics))}
			groups[id] = gr
			order = append(order, id)
		}
		gr.want++
		if it.Status != dag.WillHit {
			continue
		}
		m, err := c.Metrics(ctx, it.Key)
		if err != nil {
			return nil, err
		}
		for i, name := range rep.Metrics {
			if v, ok := m[name]; ok {
				gr.values[i] = append(gr.values[i], v)
			}
		}
	}
	for _, id := range order {
		gr := groups[id]
		row := TableRow{Labels: gr.labels}
		for _, vs := range gr.values {
			row.Cells = append(row.Cells, stat(vs, gr.want))
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func stat(vs []float64, want int) Stat {
	s := Stat{N: len(vs), Want: want}
	if len(vs) == 0 {
		return s
	}
	for _, v := range vs {
		s.Mean += v
	}
	s.Mean /= float64(len(vs))
	if len(vs) > 1 {
		var ss float64
		for _, v := range vs {
			ss += (v - s.Mean) * (v - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(vs)-1))
	}
	return s
}

func (a *app) printReport(ctx context.Context, g *dag.Graph, c *cache.Cache, format string) error {
	if g.Spec.Report == nil {
		return errNoReport
	}
	t, err := buildTable(ctx, g, c)
	if err != nil {
		return withCode(exitCacheIO, err)
	}
	if format == "csv" {
		return writeCSV(a.stdout, t)
	}
	writeMarkdown(a.stdout, t)
	return nil
}

func writeMarkdown(w io.Writer, t *Table) {
	head := append(append([]string{}, t.Axes...), t.Metrics...)
	if len(t.Axes) == 0 {
		head = append([]string{"run"}, t.Metrics...)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, r := range t.Rows {
		cols := append([]string{}, r.Labels...)
		if len(t.Axes) == 0 {
			cols = []string{"all"}
		}
		for _, c := range r.Cells {
			cols = append(cols, c.String())
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cols, " | "))
	}
}

func writeCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	head := append([]string{}, t.Axes...)
	for _, m := range t.Metrics {
		head = append(head, m+"_mean", m+"_std", m+"_n")
	}
	cw.Write(head)
	for _, r := range t.Rows {
		rec := append([]string{}, r.Labels...)
		for _, c := range r.Cells {
			if c.N == 0 {
				rec = append(rec, "", "", "0")
				continue
			}
			rec = append(rec, strconv.FormatFloat(c.Mean, 'g', -1, 64), strconv.FormatFloat(c.Std, 'g', -1, 64), strconv.Itoa(c.N))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}
