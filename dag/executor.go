package dag

import (
	"context"

	"dagrun/nodes"
)

// Job is one node run handed to an executor: the bound node, its key, and
// the directories it reads and writes.
type Job struct {
	Node *Node
	Key  string
	Env  *nodes.Env
}

// Executor runs one job to completion. The local executor calls the node in
// this process; a cluster executor may run `dagrun exec` elsewhere as long as
// the job's directories are visible there.
type Executor interface {
	Execute(ctx context.Context, job *Job) error
}

// Local runs nodes in this process.
type Local struct{}

// Execute implements Executor.
func (Local) Execute(ctx context.Context, job *Job) error {
	return job.Node.Impl.Run(ctx, job.Env)
}
