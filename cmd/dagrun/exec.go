package main

import (
	"fmt"

	"dagrun/dag"
	"dagrun/executor/slurm"

	"github.com/spf13/cobra"
)

// execCommand is `dagrun exec JOBFILE`: what a Slurm job runs. It rebuilds
// one node from the job file, runs it, and exits non-zero when it fails; it
// never opens the cache.
func (a *app) execCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "exec JOBFILE",
		Short: "run one node from a job file (what the slurm executor's jobs run)",
		Long: `exec runs the node a job file describes: its kind, params, spec folder,
input folders and output folder, all on the shared filesystem. The node's
console output is appended to the job's log; the driver that submitted the
job verifies and registers the outputs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A job file that cannot be read is a usage error, not a
			// failed node.
			if _, err := slurm.ReadJobFile(args[0]); err != nil {
				return withCode(exitInvalid, fmt.Errorf("dagrun exec: %w", err))
			}
			if err := slurm.RunJob(cmd.Context(), args[0], registry()); err != nil {
				if cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				return withCode(exitNodeFailed, fmt.Errorf("dagrun exec: %w", err))
			}
			return nil
		},
	}
}

// executorFor picks where g's nodes run: --executor, else the spec's
// `executor:`, else local.
func (a *app) executorFor(g *dag.Graph) (dag.Executor, error) {
	name := a.executor
	if name == "" {
		name = g.Spec.Executor
	}
	switch name {
	case "", "local":
		return dag.Local{}, nil
	case "slurm":
		ex, err := slurm.New(slurm.Config{Partition: a.partition, Log: a.log})
		if err != nil {
			return nil, withCode(exitInvalid, fmt.Errorf("dagrun: %w", err))
		}
		return ex, nil
	}
	return nil, withCode(exitInvalid, fmt.Errorf("dagrun: executor %q: want local or slurm", name))
}
