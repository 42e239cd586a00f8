package main

import (
	"fmt"

	"dagrun/dag"

	"github.com/spf13/cobra"
)

func (a *app) auditCommand() *cobra.Command {
	var sample int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "audit SPEC",
		Short: "recompute a random sample of cached nodes and compare output digests",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, c, err := a.loadWithCache(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := dag.Audit(cmd.Context(), g, c, sample, seed, nil)
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			bad := 0
			for _, r := range res {
				switch {
				case r.Err != nil:
					bad++
					fmt.Fprintf(a.stdout, "FAILED            %s: %v\n", r.Node.Name(), r.Err)
				case !r.Deterministic():
					bad++
					fmt.Fprintf(a.stdout, "NONDETERMINISTIC  %s\n  key        %s\n  cached     %s\n  recomputed %s\n  kind       %s v%d\n  params     %s\n",
						r.Node.Name(), r.Key, r.Cached, r.Recomputed, r.Parts.Kind, r.Parts.Version, r.Parts.Params)
					for _, f := range r.Parts.Files {
						fmt.Fprintf(a.stdout, "  file       %s %s\n", f.Name, f.Digest)
					}
					for _, in := range r.Parts.Inputs {
						fmt.Fprintf(a.stdout, "  input      %s[%d] %s (from %s)\n", in.Slot, in.Index, in.Digest, in.From)
					}
				default:
					fmt.Fprintf(a.stdout, "ok                %s %s\n", r.Node.Name(), short(r.Cached))
				}
			}
			fmt.Fprintf(a.stdout, "audited %d cached node(s): %d reproduced, %d not\n", len(res), len(res)-bad, bad)
			if bad > 0 {
				return withCode(exitNodeFailed, fmt.Errorf("dagrun: audit: %d node(s) did not reproduce their cached output", bad))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&sample, "sample", 5, "how many cached nodes to recompute")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the random choice")
	return cmd
}
