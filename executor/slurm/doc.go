// Package slurm runs dagrun nodes as Slurm batch jobs.
//
// The driver (the dagrun process that owns the cache) keeps everything it
// does locally: it computes keys, materializes a node's inputs into a
// scratch folder under the cache's tmp/, and verifies and registers the
// outputs. Executor only replaces the call of the node: it writes a job file
// into the scratch folder, submits `dagrun exec JOBFILE` with sbatch, and
// polls slurmctld until the job has ended. On the cluster, RunJob rebinds
// the node from the registry and runs it against the same folders.
//
// Invariants:
//   - The cache folder is on a filesystem every cluster node sees at the
//     same path: job files, inputs, outputs and logs are plain paths there.
//   - A job binds its node with dag.Bind, the function dag.Build binds the
//     driver's nodes with, from the params YAML the spec gave; it refuses a
//     kind or version this binary lacks and params that encode otherwise
//     than the driver keyed them.
//   - Jobs never touch SQLite; only the driver does, after a job ended
//     COMPLETED.
//   - Execute returns only once its job is gone from the queue: after a
//     cancel it has run scancel and waited until slurmctld reports the job
//     ended, so the caller may remove the scratch folder at once.
//   - A job that did not complete is an error naming Slurm's state and
//     reason (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, FAILED with its exit code);
//     the job's log is copied to the node's Output either way.
//   - Jobs are submitted with --no-requeue: retries are dagrun's (the
//     node's `retries:`), so each attempt gets a fresh output folder.
package slurm
