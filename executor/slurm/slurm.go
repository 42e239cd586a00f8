package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"dagrun/dag"

	"gopkg.in/yaml.v3"
)

// Config configures an Executor.
type Config struct {
	// Binary is the dagrun binary that jobs run as `BINARY exec JOBFILE`;
	// "" means this process's own executable. It must be reachable at the
	// same path on every cluster node.
	Binary string
	// Partition is the partition jobs go to ("" = the cluster's default).
	Partition string
	// Poll is how often a job's state is read (0 = 500ms).
	Poll time.Duration
	// JobName prefixes every job's name ("" = "dagrun"); the node's name
	// follows after a slash.
	JobName string
	// Log receives diagnostics (submissions, cancels); nil discards them.
	Log *slog.Logger
}

// Executor submits each node as one Slurm batch job. It is safe for
// concurrent use; each Execute watches its own job.
type Executor struct {
	cfg       Config
	submitted atomic.Int64
}

// New returns an Executor for cfg, resolving the binary and checking that
// sbatch, scontrol and scancel are on PATH.
func New(cfg Config) (*Executor, error) {
	if cfg.Binary == "" {
		bin, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("slurm executor: find own binary: %w", err)
		}
		cfg.Binary = bin
	}
	abs, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("slurm executor: binary %q: %w", cfg.Binary, err)
	}
	cfg.Binary = abs
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.JobName == "" {
		cfg.JobName = "dagrun"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, tool := range []string{"sbatch", "scontrol", "scancel"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("slurm executor: %s not found on PATH (is this a Slurm submit host?): %w", tool, err)
		}
	}
	return &Executor{cfg: cfg}, nil
}

// Submitted returns how many jobs this executor has submitted.
func (e *Executor) Submitted() int { return int(e.submitted.Load()) }

// Resource names a spec's `resources:` may use with this executor, and the
// sbatch option each becomes.
var resourceOptions = map[string]string{
	"cpu":       "--cpus-per-task=%d",
	"cpus":      "--cpus-per-task=%d",
	"memory_mb": "--mem=%dM",
	"gpus":      "--gres=gpu:%d",
	"time_min":  "--time=%d",
}

// SbatchOptions maps a node's resources to sbatch options, sorted by
// resource name; a zero amount asks for nothing. Unknown names are an error
// listing the known ones.
func SbatchOptions(res map[string]int) ([]string, error) {
	names := make([]string, 0, len(res))
	for name := range res {
		names = append(names, name)
	}
	sort.Strings(names)
	var opts []string
	for _, name := range names {
		format, ok := resourceOptions[name]
		if !ok {
			known := make([]string, 0, len(resourceOptions))
			for k := range resourceOptions {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("resource %q means nothing to Slurm (known: %s)", name, strings.Join(known, ", "))
		}
		if res[name] > 0 {
			opts = append(opts, fmt.Sprintf(format, res[name]))
		}
	}
	if res["cpu"] > 0 && res["cpus"] > 0 && res["cpu"] != res["cpus"] {
		return nil, fmt.Errorf("resources cpu (%d) and cpus (%d) disagree", res["cpu"], res["cpus"])
	}
	return opts, nil
}

// NewJobFile describes job for `dagrun exec`, with its console output
// going to log.
func NewJobFile(job *dag.Job, log string) (*JobFile, error) {
	n := job.Node
	paramsYAML := ""
	if n.Spec.Params != nil {
		b, err := yaml.Marshal(n.Spec.Params)
		if err != nil {
			return nil, fmt.Errorf("encode params: %w", err)
		}
		paramsYAML = string(b)
	}
	jf := &JobFile{
		Format: JobFormat, Node: n.Name(), Key: job.Key,
		Kind: n.Kind.Name, Version: n.Kind.Version, Arith: dag.Arith(), ParamsYAML: paramsYAML, Params: n.ParamsJSON,
		Dir: n.Spec.Dir, Inputs: job.Env.Inputs, OutDir: job.Env.OutDir, TempDir: job.Env.TempDir,
		Log: log, Fingerprint: job.Env.Fingerprint,
	}
	if jf.Inputs == nil {
		jf.Inputs = map[string][]string{}
	}
	return jf, nil
}

// Execute implements dag.Executor: it submits job's node, waits for the job
// to end, and copies the job's log to job.Env.Output. A cancelled ctx
// cancels the job and waits until Slurm has ended it.
func (e *Executor) Execute(ctx context.Context, job *dag.Job) error {
	n := job.Node
	scratch := filepath.Dir(job.Env.OutDir)
	res, err := SbatchOptions(n.Spec.Resources)
	if err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	jf, err := NewJobFile(job, filepath.Join(scratch, "job.log"))
	if err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	jobPath := filepath.Join(scratch, "job.json")
	if err := WriteJobFile(jobPath, jf); err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	// Each attempt starts a fresh log.
	if err := os.WriteFile(jf.Log, nil, 0o644); err != nil {
		return fmt.Errorf("slurm: create job log: %w", err)
	}
	script := filepath.Join(scratch, "job.sh")
	body := fmt.Sprintf("#!/bin/sh\n# dagrun node %s, key %s\nexec %s exec %s\n", shellQuote(n.Name()), job.Key, shellQuote(e.cfg.Binary), shellQuote(jobPath))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		return fmt.Errorf("slurm: write job script: %w", err)
	}
	args := []string{"--parsable", "--no-requeue",
		"--job-name=" + e.cfg.JobName + "/" + n.Name(),
		"--output=" + jf.Log, "--open-mode=append",
		"--chdir=" + scratch, "--nodes=1", "--ntasks=1"}
	// The node's own partition wins over the run's --slurm-partition.
	if p := n.Spec.Partition; p != "" {
		args = append(args, "--partition="+p)
	} else if e.cfg.Partition != "" {
		args = append(args, "--partition="+e.cfg.Partition)
	}
	args = append(args, res...)
	args = append(args, script)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// sbatch is not interrupted by ctx: a job submitted without its id
	// known here could not be cancelled.
	out, err := command(context.WithoutCancel(ctx), 60*time.Second, "sbatch", args...)
	if err != nil {
		return fmt.Errorf("slurm: submit: %w", err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return fmt.Errorf("slurm: submit: sbatch printed %q, not a job id", out)
	}
	e.submitted.Add(1)
	e.cfg.Log.Info("submitted", "node", n.Name(), "job", id)

	st, err := e.wait(ctx, id)
	// Stream the job's log into the node's output: it may be large.
	if log, rerr := os.Open(jf.Log); rerr == nil {
		if job.Env.Output != nil {
			io.Copy(job.Env.Output, log)
		}
		log.Close()
	}
	if err != nil {
		return err
	}
	return st.err(id)
}

// wait polls the job until it ended; on cancel it scancels the job and
// waits for its end before returning ctx's error.
func (e *Executor) wait(ctx context.Context, id string) (*jobState, error) {
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			e.cancel(id)
			return nil, ctx.Err()
		case <-t.C:
		}
		st, err := queryJob(ctx, id)
		switch {
		case err == nil && st.ended():
			return st, nil
		case err == nil:
			misses = 0
		case ctx.Err() != nil:
			// Handled at the top of the loop.
		case errors.Is(err, errUnknownJob):
			return nil, fmt.Errorf("slurm: job %s: %w", id, err)
		default:
			// slurmctld may be busy for a moment; give up after ~30 tries.
			misses++
			if misses >= 30 {
				return nil, fmt.Errorf("slurm: job %s: %w", id, err)
			}
		}
	}
}

// cancel runs scancel for id and waits (up to two minutes) until Slurm
// reports the job ended and its processes gone.
func (e *Executor) cancel(id string) {
	ctx := context.Background()
	e.cfg.Log.Info("cancelling", "job", id)
	if _, err := command(ctx, 30*time.Second, "scancel", id); err != nil {
		e.cfg.Log.Warn("scancel failed", "job", id, "err", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := queryJob(ctx, id)
		if errors.Is(err, errUnknownJob) || (err == nil && st.ended()) {
			return
		}
		time.Sleep(e.cfg.Poll)
	}
	e.cfg.Log.Warn("job still in the queue two minutes after scancel", "job", id)
}

var errUnknownJob = errors.New("slurmctld no longer knows the job (raise MinJobAge?)")

// jobState is what `scontrol show job` says of an ended or running job.
type jobState struct {
	State    string // JobState: RUNNING, COMPLETED, TIMEOUT, ...
	Reason   string
	ExitCode string // "code:signal"
	Limit    string // TimeLimit
	Node     string // NodeList
}

// terminal lists the states a job ends in.
var terminal = map[string]bool{
	"COMPLETED": true, "FAILED": true, "TIMEOUT": true, "CANCELLED": true,
	"OUT_OF_MEMORY": true, "NODE_FAIL": true, "PREEMPTED": true,
	"BOOT_FAIL": true, "DEADLINE": true,
}

// ended reports whether the job is over. scontrol shows COMPLETING, not a
// terminal state, until the job's processes are gone.
func (s *jobState) ended() bool { return terminal[s.State] }

// err maps an ended job to nil (COMPLETED with exit code 0) or a *JobError.
func (s *jobState) err(id string) error {
	if s.State == "COMPLETED" && (s.ExitCode == "" || s.ExitCode == "0:0") {
		return nil
	}
	return &JobError{ID: id, State: s.State, Reason: s.Reason, ExitCode: s.ExitCode, TimeLimit: s.Limit, Node: s.Node}
}

// JobError is a Slurm job that did not complete.
type JobError struct {
	ID, State, Reason string
	// ExitCode is Slurm's "code:signal".
	ExitCode  string
	TimeLimit string
	Node      string
}

func (e *JobError) Error() string {
	what := ""
	switch e.State {
	case "TIMEOUT":
		what = "exceeded its time limit of " + e.TimeLimit
	case "OUT_OF_MEMORY":
		what = "ran out of memory"
	case "NODE_FAIL":
		what = "lost its node " + e.Node
	case "FAILED":
		code, sig, _ := strings.Cut(e.ExitCode, ":")
		if sig != "" && sig != "0" {
			what = "was killed by signal " + sig
		} else {
			what = "exited with code " + code
		}
	case "CANCELLED":
		what = "was cancelled outside dagrun"
	case "COMPLETED":
		what = "completed with exit code " + e.ExitCode
	default:
		what = "ended " + e.State
	}
	return fmt.Sprintf("slurm job %s %s (JobState=%s Reason=%s ExitCode=%s)", e.ID, what, e.State, e.Reason, e.ExitCode)
}

// queryJob reads the job's state with `scontrol show job -o`, which knows
// jobs for MinJobAge seconds after they end (no accounting daemon needed).
func queryJob(ctx context.Context, id string) (*jobState, error) {
	out, err := command(ctx, 30*time.Second, "scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return nil, errUnknownJob
		}
		return nil, err
	}
	return parseJob(string(out))
}

// parseJob reads the fields dagrun needs from one `scontrol show job -o`
// line. Values are taken up to the next space: the fields read here hold
// none.
func parseJob(line string) (*jobState, error) {
	fields := map[string]string{}
	for _, tok := range strings.Fields(line) {
		if k, v, ok := strings.Cut(tok, "="); ok {
			if _, seen := fields[k]; !seen {
				fields[k] = v
			}
		}
	}
	st := &jobState{State: fields["JobState"], Reason: fields["Reason"], ExitCode: fields["ExitCode"], Limit: fields["TimeLimit"], Node: fields["NodeList"]}
	if st.State == "" {
		return nil, fmt.Errorf("scontrol printed no JobState: %q", strings.TrimSpace(line))
	}
	return st, nil
}

// command runs a Slurm tool with a timeout; the error carries its stderr.
func command(ctx context.Context, timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		return nil, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return out, nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
