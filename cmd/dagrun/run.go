package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dagrun/dag"

	"github.com/spf13/cobra"
)

func (a *app) runCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run SPEC",
		Short: "run a spec (the default command)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSpec(cmd.Context(), args[0])
		},
	}
	cmd.Flags().BoolVar(&a.failFast, "fail-fast", false, "stop everything at the first failure")
	cmd.Flags().BoolVar(&a.expectCached, "expect-cached", false, "fail, listing the misses, if anything would run")
	cmd.Flags().BoolVarP(&a.quiet, "quiet", "q", false, "print no per-node lines and no command output")
	cmd.Flags().BoolVar(&a.plain, "plain", false, "plain progress lines even on a terminal")
	return cmd
}

func (a *app) runSpec(ctx context.Context, path string) error {
	g, c, err := a.loadWithCache(path)
	if err != nil {
		return err
	}
	defer c.Close()
	tier, err := a.openRemote(c)
	if err != nil {
		return err
	}
	if tier != nil && a.expectCached {
		// What the run would fetch counts as cached: fetch it first.
		if _, err := pull(ctx, g, c, tier, nil); err != nil {
			return err
		}
		if err := remoteDown(tier); err != nil {
			return err
		}
	}
	if a.expectCached {
		p, err := dag.MakePlan(ctx, g, c, "")
		if err != nil {
			return withCode(exitCacheIO, err)
		}
		var miss []string
		for _, it := range p.Items {
			if it.Status != dag.WillHit {
				miss = append(miss, fmt.Sprintf("  %s (%s): %s", it.Node.Name(), it.Status, strings.Join(it.Reasons, "; ")))
			}
		}
		if len(miss) > 0 {
			return withCode(exitNodeFailed, fmt.Errorf("dagrun: --expect-cached: %d of %d node(s) would run:\n%s",
				len(miss), len(p.Items), strings.Join(miss, "\n")))
		}
	}
	ex, err := a.executorFor(g)
	if err != nil {
		return err
	}
	r := newRenderer(a, len(g.Nodes), path)
	runner := &dag.Runner{Cache: c, Opts: dag.Options{
		Jobs: a.jobs, FailFast: a.failFast, Events: r.event, Log: a.log, Executor: ex,
	}}
	if tier != nil {
		runner.Opts.Remote = tier
	}
	sum, err := runner.Run(ctx, g)
	r.close()
	if err != nil {
		return withCode(exitCacheIO, err)
	}
	fmt.Fprintf(a.stderr, "%d nodes: %d cached, %d ran, %d failed, %d skipped in %s\n",
		len(sum.Results), sum.Count(dag.Cached), sum.Count(dag.Done), sum.Count(dag.Failed),
		sum.Count(dag.Skipped), roundDur(sum.Elapsed))
	if sum.Interrupted {
		return context.Canceled
	}
	if err := remoteDown(tier); err != nil {
		return err
	}
	if err := sum.Err(); err != nil {
		return err
	}
	if g.Spec.Report != nil {
		if err := a.printReport(ctx, g, c, "text"); err != nil && !errors.Is(err, errNoReport) {
			return err
		}
	}
	return nil
}
