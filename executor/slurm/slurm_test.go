package slurm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/executor/slurm"
	"dagrun/nodes"
)

func TestSbatchOptions(t *testing.T) {
	tests := []struct {
		name    string
		res     map[string]int
		want    []string
		wantErr string
	}{
		{name: "none", res: nil, want: nil},
		{name: "all", res: map[string]int{"cpu": 4, "memory_mb": 2048, "gpus": 1, "time_min": 30},
			want: []string{"--cpus-per-task=4", "--gres=gpu:1", "--mem=2048M", "--time=30"}},
		{name: "cpus alias", res: map[string]int{"cpus": 2}, want: []string{"--cpus-per-task=2"}},
		{name: "zero asks for nothing", res: map[string]int{"gpus": 0, "time_min": 5}, want: []string{"--time=5"}},
		{name: "unknown", res: map[string]int{"disk_mb": 5}, wantErr: `resource "disk_mb" means nothing to Slurm (known: cpu, cpus, gpus, memory_mb, time_min)`},
		{name: "cpu and cpus disagree", res: map[string]int{"cpu": 1, "cpus": 2}, wantErr: "resources cpu (1) and cpus (2) disagree"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := slurm.SbatchOptions(tc.res)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SbatchOptions = %q, want %q", got, tc.want)
			}
		})
	}
}

const concatSpec = `name: concat
nodes:
  text:
    kind: file
    params: {path: data/words.txt}
  both:
    kind: concat
    inputs: {t: text}
    params:
      path: data/extra.txt
      sep: " + "
      repeat: 2
      tags: [x, "y z"]
      scale: {factor: 0.1}
`

// RunJob, in this process, builds the node from the job file alone (the
// path that never enters the key included) and writes what Local writes.
func TestRunJobMatchesLocal(t *testing.T) {
	f := newFixture(t, "cache")
	f.write("data/words.txt", "alpha beta\n")
	f.write("data/extra.txt", "extra\n")
	g := f.graph("spec.yaml", concatSpec)
	sum := f.run(context.Background(), g, dag.Local{})
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	both, _ := g.Node("both")
	var local *dag.Result
	for _, r := range sum.Results {
		if r.Node == both {
			local = r
		}
	}
	textEntry := sum.Results[0].Entry

	// The inputs, laid out as the runner does.
	dir := t.TempDir()
	in := filepath.Join(dir, "in", "t", "0")
	if err := f.cache.Materialize(textEntry.Manifest, in); err != nil {
		t.Fatal(err)
	}
	env := func() *dag.Job {
		out := filepath.Join(dir, "out")
		os.RemoveAll(out)
		os.MkdirAll(out, 0o755)
		return &dag.Job{Node: both, Key: local.Key, Env: envFor(map[string][]string{"t": {in}}, out, filepath.Join(dir, "tmp"))}
	}

	tests := []struct {
		name    string
		edit    func(jf *slurm.JobFile)
		wantErr string
	}{
		{name: "as written"},
		{name: "another binary's params", edit: func(jf *slurm.JobFile) { jf.Params = strings.Replace(jf.Params, `"repeat":2`, `"repeat":3`, 1) },
			wantErr: `params of kind "concat" decode here to`},
		{name: "unknown kind", edit: func(jf *slurm.JobFile) { jf.Kind = "concatt" }, wantErr: `this dagrun has no kind "concatt"`},
		{name: "other version", edit: func(jf *slurm.JobFile) { jf.Version = 9 }, wantErr: `kind "concat" is version 1 here, the driver has 9`},
		{name: "other architecture", edit: func(jf *slurm.JobFile) { jf.Arith = "riscv64" }, wantErr: `the driver keyed it for riscv64 arithmetic, this node computes with`},
		{name: "bad params", edit: func(jf *slurm.JobFile) { jf.ParamsYAML = "repeat: many\n" },
			wantErr: `bind job: params_yaml:1:9: node "both": param "repeat": cannot use "many" (string) as int`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := env()
			jf, err := slurm.NewJobFile(job, filepath.Join(dir, "job.log"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(jf)
			}
			path := filepath.Join(dir, "job.json")
			if err := slurm.WriteJobFile(path, jf); err != nil {
				t.Fatal(err)
			}
			os.Remove(jf.Log)
			err = slurm.RunJob(context.Background(), path, testRegistry())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := f.cache.HashDir(job.Env.OutDir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Digest() != local.Digest() {
				t.Errorf("RunJob output digest %s, local %s", m.Digest(), local.Digest())
			}
			log, _ := os.ReadFile(jf.Log)
			if string(log) != "concat: 3 parts\n" {
				t.Errorf("job log %q, want the node's console output", log)
			}
		})
	}
}

// 1. The same spec through Local and through Slurm gives identical output
// digests; a second Slurm run submits nothing.
func TestSlurmMatchesLocal(t *testing.T) {
	needCluster(t)
	t.Parallel()
	spec := concatSpec + `  upper:
    kind: command
    inputs: {x: both}
    resources: {cpu: 1, memory_mb: 64, time_min: 5}
    params: {argv: [sh, -c, "tr a-z A-Z < {in.x}/concat.txt > {out}/upper.txt; echo upper done"]}
  count:
    kind: command
    inputs: {x: upper, w: text}
    params: {argv: [sh, -c, "wc -c {in.x}/upper.txt {in.w}/words.txt | awk '{print $1}' > {out}/count.txt"]}
`
	local := newFixture(t, "local-cache")
	remote := newFixture(t, "slurm-cache")
	for _, f := range []*fixture{local, remote} {
		f.write("data/words.txt", "alpha beta\n")
		f.write("data/extra.txt", "extra\n")
	}
	want := local.run(context.Background(), local.graph("spec.yaml", spec), dag.Local{})
	if err := want.Err(); err != nil {
		t.Fatal(err)
	}
	ex, _ := newExecutor(t)
	start := time.Now()
	got := remote.run(context.Background(), remote.graph("spec.yaml", spec), ex)
	t.Logf("slurm run of %d nodes: %s", len(got.Results), time.Since(start).Round(time.Millisecond))
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	if d := digests(want); !reflect.DeepEqual(digests(got), d) {
		t.Errorf("slurm digests %v, local %v", digests(got), d)
	}
	if ex.Submitted() != len(got.Results) {
		t.Errorf("submitted %d jobs for %d nodes", ex.Submitted(), len(got.Results))
	}
	// The job's console output became the node's log.
	for _, r := range got.Results {
		if r.Node.Name() != "upper" {
			continue
		}
		log, err := remote.cache.ReadLog(r.Entry)
		if err != nil || string(log) != "upper done\n" {
			t.Errorf("upper's log %q (%v), want %q", log, err, "upper done\n")
		}
	}
	again := remote.run(context.Background(), remote.graph("spec.yaml", spec), ex)
	if n := again.Count(dag.Cached); n != len(again.Results) {
		t.Errorf("second run: %d of %d cached", n, len(again.Results))
	}
	if ex.Submitted() != len(got.Results) {
		t.Errorf("second run submitted %d job(s)", ex.Submitted()-len(got.Results))
	}
}

// 2. A node over its time limit and one exiting non-zero fail with Slurm's
// reason and their log's tail; descendants are skipped; nothing partial is
// registered; a transient fault is retried.
func TestSlurmFailures(t *testing.T) {
	needCluster(t)
	t.Parallel()
	f := newFixture(t, "cache")
	marks := t.TempDir() // outside the cache: survives the retry
	text := strings.ReplaceAll(`name: failures
nodes:
  slow:
    kind: command
    resources: {time_min: 1}
    params: {argv: [sh, -c, "echo slow started; echo half > {out}/half.txt; sleep 300; echo never > {out}/x.txt"]}
  after_slow:
    kind: command
    inputs: {x: slow}
    params: {argv: [sh, -c, "cp {in.x}/x.txt {out}/"]}
  bad:
    kind: command
    params: {argv: [sh, -c, "echo partial > {out}/partial.txt; echo step one; echo boom >&2; exit 7"]}
  after_bad:
    kind: command
    inputs: {x: bad}
    params: {argv: [sh, -c, "cp {in.x}/partial.txt {out}/"]}
  flaky:
    kind: command
    retries: 2
    params: {argv: [sh, -c, "echo attempt >> MARKS/attempts; if [ ! -e MARKS/failed-once ]; then touch MARKS/failed-once; echo half > {out}/half.txt; echo transient fault; exit 3; fi; echo ok > {out}/ok.txt"]}
  after_flaky:
    kind: command
    inputs: {x: flaky}
    params: {argv: [sh, -c, "cp {in.x}/ok.txt {out}/copy.txt"]}
`, "MARKS", marks)
	ex, name := newExecutor(t)
	start := time.Now()
	sum := f.run(context.Background(), f.graph("spec.yaml", text), ex)
	t.Logf("failures run: %s", time.Since(start).Round(time.Millisecond))

	wantStates := map[string]dag.State{
		"slow": dag.Failed, "after_slow": dag.Skipped,
		"bad": dag.Failed, "after_bad": dag.Skipped,
		"flaky": dag.Done, "after_flaky": dag.Done,
	}
	if got := states(sum); !reflect.DeepEqual(got, wantStates) {
		t.Errorf("states %v, want %v", got, wantStates)
	}
	wantErr := map[string][]string{
		"slow": {"exceeded its time limit of 00:01:00", "JobState=TIMEOUT", "Reason=TimeLimit", "slow started", "DUE TO TIME LIMIT"},
		// dagrun exec exits 1; the node's own exit status is in the log.
		"bad": {"exited with code 1", "JobState=FAILED", "Reason=NonZeroExitCode", "ExitCode=1:0", "step one", "boom", "sh exited with status 7"},
	}
	for _, r := range sum.Results {
		if r.State == dag.Skipped && r.Cause.Name()+"" != strings.TrimPrefix(r.Node.Name(), "after_") {
			t.Errorf("%s skipped because of %s", r.Node.Name(), r.Cause.Name())
		}
		for _, s := range wantErr[r.Node.Name()] {
			if r.Err == nil || !strings.Contains(r.Err.Error(), s) {
				t.Errorf("%s: error %v lacks %q", r.Node.Name(), r.Err, s)
			}
		}
		if r.State == dag.Failed {
			// Nothing partial: no entry under the failed node's key.
			if _, err := f.cache.Get(context.Background(), r.Key); !errors.Is(err, cache.ErrNotFound) {
				t.Errorf("%s: cache lookup of a failed node: %v, want not found", r.Node.Name(), err)
			}
		}
		if r.Node.Name() == "flaky" && r.State == dag.Done {
			if len(r.Entry.Manifest) != 1 || r.Entry.Manifest[0].Path != "ok.txt" {
				t.Errorf("flaky registered %v, want only ok.txt", r.Entry.Manifest)
			}
		}
	}
	if attempts, _ := os.ReadFile(filepath.Join(marks, "attempts")); string(attempts) != "attempt\nattempt\n" {
		t.Errorf("flaky ran %q, want two attempts", attempts)
	}
	if ex.Submitted() != 5 {
		t.Errorf("submitted %d jobs, want 5 (slow, bad, flaky twice, after_flaky)", ex.Submitted())
	}
	entries, err := f.cache.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("%d cache entries, want 2 (flaky, after_flaky)", len(entries))
	}
	if probs, err := f.cache.Verify(context.Background()); err != nil || len(probs) > 0 {
		t.Errorf("cache verify: %v %v", probs, err)
	}
	if q := queued(t, name); len(q) > 0 {
		t.Errorf("jobs left in the queue: %v", q)
	}
}

func envFor(inputs map[string][]string, out, tmp string) *nodes.Env {
	os.MkdirAll(tmp, 0o755)
	return &nodes.Env{Inputs: inputs, OutDir: out, TempDir: tmp, Output: &bytes.Buffer{}}
}
