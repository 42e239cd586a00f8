package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Slurm tests run dagrun (this test binary, see TestMain) as a driver
// with --executor slurm; its jobs run the same binary as `dagrun exec`,
// since sbatch passes DAGRUN_TEST_AS_CLI on to them.

// needSlurm skips unless DAGRUN_SLURM=1; with it set, a cluster that does
// not answer is a failure, not a skip.
func needSlurm(t *testing.T) {
	t.Helper()
	if os.Getenv("DAGRUN_SLURM") != "1" {
		t.Skip("Slurm tests skipped: start a test cluster with scripts/slurm/start.sh and set DAGRUN_SLURM=1")
	}
	if out, err := exec.Command("sinfo", "-h").CombinedOutput(); err != nil {
		t.Fatalf("DAGRUN_SLURM=1 but sinfo fails (run scripts/slurm/start.sh): %v: %s", err, out)
	}
}

// slurmJobs lists queued or running jobs whose name contains s.
func slurmJobs(t *testing.T, s string) []string {
	t.Helper()
	out, err := exec.Command("squeue", "-h", "-o", "%i %j %T").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	var mine []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, s) {
			mine = append(mine, line)
		}
	}
	return mine
}

// 1. The same spec through the local and the slurm executor: identical
// output digests; a second Slurm run submits no job.
func TestSlurmCLIMatchesLocal(t *testing.T) {
	needSlurm(t)
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "work.yaml"), workSpec)
	local, remote := filepath.Join(dir, "local"), filepath.Join(dir, "slurm")
	if r := cli(t, dir, "--plain", "-j", "8", "--cache", local, "work.yaml"); r.code != 0 {
		t.Fatalf("local run: exit %d: %s", r.code, r.stderr)
	}
	start := time.Now()
	r := cli(t, dir, "--plain", "-v", "-j", "8", "--executor", "slurm", "--cache", remote, "work.yaml")
	t.Logf("slurm run of 13 nodes: %s", time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("slurm run: exit %d: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "msg=submitted"); n != 13 {
		t.Errorf("slurm run submitted %d jobs, want 13:\n%s", n, r.stderr)
	}
	want, got := planJSONOf(t, dir, "work.yaml", local), planJSONOf(t, dir, "work.yaml", remote)
	if len(want) != 13 || digests(got) != digests(want) {
		t.Errorf("slurm digests:\n%s\nlocal:\n%s", digests(got), digests(want))
	}
	again := cli(t, dir, "--plain", "-v", "-j", "8", "--executor", "slurm", "--cache", remote, "work.yaml")
	if again.code != 0 || strings.Contains(again.stderr, "msg=submitted") || !strings.Contains(again.stderr, "13 cached, 0 ran") {
		t.Errorf("second slurm run: exit %d, want 13 cached and no job:\n%s", again.code, again.stderr)
	}
}

// 3. SIGINT to the driver cancels the jobs in flight: squeue is empty of
// them, their processes are gone, and the cache verifies clean.
func TestSlurmCLIInterrupt(t *testing.T) {
	needSlurm(t)
	t.Parallel()
	dir := t.TempDir()
	marks := filepath.Join(dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	// Node names unique to this test process find its jobs in squeue.
	tag := fmt.Sprintf("sleeper%d", os.Getpid())
	spec := fmt.Sprintf(`name: interrupt
nodes:
  %[1]s_a:
    kind: command
    params: {argv: [sh, -c, "echo partial > {out}/p.txt; echo $$ > %[2]s/a; exec sleep 300"]}
  %[1]s_b:
    kind: command
    params: {argv: [sh, -c, "echo partial > {out}/p.txt; echo $$ > %[2]s/b; exec sleep 300"]}
  after:
    kind: command
    inputs: {x: %[1]s_a}
    params: {argv: [sh, -c, "cp {in.x}/p.txt {out}/"]}
`, tag, marks)
	write(t, filepath.Join(dir, "spec.yaml"), spec)
	cacheDir := filepath.Join(dir, "cache")
	cmd := dagrunCmd(t, dir, "--plain", "-j", "4", "--executor", "slurm", "--cache", cacheDir, "spec.yaml")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// On a failed check, leave neither the driver nor its jobs behind.
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		for _, line := range slurmJobs(t, tag) {
			exec.Command("scancel", strings.Fields(line)[0]).Run()
		}
	})
	// Wait until both jobs run their node.
	var pids []int
	deadline := time.Now().Add(60 * time.Second)
	for len(pids) < 2 && time.Now().Before(deadline) {
		pids = pids[:0]
		for _, f := range []string{"a", "b"} {
			b, err := os.ReadFile(filepath.Join(marks, f))
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
				pids = append(pids, pid)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(pids) < 2 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the jobs did not start within a minute; driver said:\n%s", stderr.String())
	}
	if q := slurmJobs(t, tag); len(q) != 2 {
		t.Fatalf("squeue shows %q, want the two sleepers", q)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	t.Logf("driver exited %s after SIGINT", time.Since(start).Round(time.Millisecond))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Errorf("driver: %v, want exit %d; stderr:\n%s", err, exitInterrupted, stderr.String())
	}
	if q := slurmJobs(t, tag); len(q) != 0 {
		t.Errorf("squeue after SIGINT: %q", q)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("node process %d still alive after the driver exited", pid)
		}
	}
	if r := cli(t, dir, "cache", "verify", "--cache", cacheDir); r.code != 0 {
		t.Errorf("cache verify: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, dir, "cache", "ls", "--cache", cacheDir); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("cache ls after SIGINT: exit %d, want no entries:\n%s", r.code, r.stdout)
	}
	if left, _ := os.ReadDir(filepath.Join(cacheDir, "tmp")); len(left) != 0 {
		t.Errorf("scratch folders left in the cache: %d", len(left))
	}
}
