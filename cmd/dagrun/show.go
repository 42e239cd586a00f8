package main

import (
	"context"
	"errors"
	"fmt"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/report"

	"github.com/spf13/cobra"
)

var errNoReport = errors.New("spec has no report section")

func (a *app) showCommand() *cobra.Command {
	var format, htmlDir, plotsDir string
	cmd := &cobra.Command{
		Use:   "show SPEC",
		Short: "print the spec's report from the cache alone (Markdown, CSV or JSON); --html writes a page with plots",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "csv" && format != "json" {
				return withCode(exitInvalid, fmt.Errorf("dagrun: show --format %q: want md, csv or json", format))
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
				if err := writeTable(a, r.Table, format); err != nil {
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
	cmd.Flags().StringVar(&format, "format", "md", "table format: md, csv or json")
	cmd.Flags().StringVar(&htmlDir, "html", "", "write a static HTML report (tables, plots, spec, nodes, artifacts) into `DIR`")
	cmd.Flags().StringVar(&plotsDir, "plots", "", "write the report's plots as PNG into `DIR`")
	return cmd
}

func writeTable(a *app, t *report.Table, format string) error {
	switch format {
	case "csv":
		return report.WriteCSV(a.stdout, t)
	case "json":
		return report.WriteJSON(a.stdout, t)
	}
	return report.WriteMarkdown(a.stdout, t)
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
	return writeTable(a, r.Table, format)
}
