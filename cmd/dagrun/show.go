package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/report"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

var errNoReport = errors.New("spec has no report section")

func (a *app) showCommand() *cobra.Command {
	var format, htmlDir, plotsDir string
	var width int
	cmd := &cobra.Command{
		Use:   "show SPEC",
		Short: "print the spec's report from the cache alone (a text table, or Markdown, CSV or JSON); --html writes a page with plots",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "md" && format != "csv" && format != "json" {
				return withCode(exitInvalid, fmt.Errorf("dagrun: show --format %q: want text, md, csv or json", format))
			}
			if width < 0 {
				return withCode(exitInvalid, fmt.Errorf("dagrun: show --width %d: want a positive number of columns", width))
			}
			g, err := a.load(args[0])
			if err != nil {
				return err
			}
			if g.Spec.Report == nil && htmlDir == "" && plotsDir == "" {
				return withCode(exitInvalid, fmt.Errorf("dagrun: show: %s: %w", args[0], errNoReport))
			}
			c, err := a.openCache(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			r, err := report.Collect(ctx, g, c)
			if err != nil {
				return withCode(exitCacheIO, fmt.Errorf("dagrun: show: %w", err))
			}
			if r.Table != nil {
				if err := writeTable(a, r.Table, format, width); err != nil {
					return withCode(exitCacheIO, err)
				}
			}
			if plotsDir != "" {
				plots, err := r.WritePlots(ctx, plotsDir)
				if err != nil {
					return withCode(exitCacheIO, fmt.Errorf("dagrun: show --plots: %w", err))
				}
				fmt.Fprintf(a.stderr, "wrote %d plots to %s\n", len(plots), plotsDir)
			}
			if htmlDir != "" {
				if err := r.WriteHTML(ctx, htmlDir); err != nil {
					return withCode(exitCacheIO, fmt.Errorf("dagrun: show --html: %w", err))
				}
				fmt.Fprintf(a.stderr, "wrote %s\n", report.IndexPath(htmlDir))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "table format: text (aligned tables for a terminal: the views people read), md, csv or json (every column, full precision in csv and json)")
	cmd.Flags().IntVar(&width, "width", 0, "width of the text table in columns (default: the terminal's, else $COLUMNS, else 100)")
	cmd.Flags().StringVar(&htmlDir, "html", "", "write a static HTML report (tables, plots, spec, nodes, artifacts) into `DIR`")
	cmd.Flags().StringVar(&plotsDir, "plots", "", "write the report's plots as PNG into `DIR`")
	return cmd
}

// writeTable prints t in format; width (0: textWidth decides) sizes the
// text table.
func writeTable(a *app, t *report.Table, format string, width int) error {
	switch format {
	case "csv":
		return report.WriteCSV(a.stdout, t)
	case "json":
		return report.WriteJSON(a.stdout, t)
	case "md":
		return report.WriteMarkdown(a.stdout, t)
	}
	if width <= 0 {
		width = a.textWidth()
	}
	return report.WriteText(a.stdout, t, width)
}

// textWidth is the width of the text table: the terminal's (stdout), else
// $COLUMNS, else report.DefaultWidth.
func (a *app) textWidth() int {
	if w := termWidth(a.stdout); w > 0 {
		return w
	}
	if w, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && w > 0 {
		return w
	}
	return report.DefaultWidth
}

// termWidth returns the number of columns of the terminal w writes to, or
// 0 when w is not a terminal. (dagrun is Unix-only already: the cache
// locks with flock.)
func termWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// printReport prints the report table after a run.
func (a *app) printReport(ctx context.Context, g *dag.Graph, c *cache.Cache, format string) error {
	if g.Spec.Report == nil {
		return errNoReport
	}
	r, err := report.Collect(ctx, g, c)
	if err != nil {
		return withCode(exitCacheIO, err)
	}
	return writeTable(a, r.Table, format, 0)
}
