package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the dagrun binary: with DAGRUN_TEST_AS_CLI set
// it runs the CLI, so end-to-end tests exercise real processes (signals,
// concurrent processes on one cache) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("DAGRUN_TEST_AS_CLI") == "1" {
		os.Exit(run(signalContext(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func signalContext() context.Context {
	ctx, _ := signalNotify()
	return ctx
}

// cli runs dagrun as a child process.
type result struct {
	code           int
	stdout, stderr string
}

func dagrunCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DAGRUN_TEST_AS_CLI=1", "DAGRUN_CACHE=")
	return cmd
}

func cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := dagrunCmd(t, dir, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

type planRow struct {
	Node, Status, Key, Digest string
}

func planJSONOf(t *testing.T, dir, specPath, cacheDir string) []planRow {
	t.Helper()
	r := cli(t, dir, "plan", "--json", "--cache", cacheDir, specPath)
	if r.code != 0 {
		t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
	}
	var rows []planRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.stdout)
	}
	return rows
}

func digests(rows []planRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s=%s %s\n", r.Node, r.Status, r.Digest)
	}
	return b.String()
}

// workSpec is a multi-node run: a fan-out of 4 cells × 3 stages plus a
// join; every node writes several files and takes a little time.
const workSpec = `name: work
matrix:
  cell: [a, b, c, d]
nodes:
  seed:
    kind: command
    params:
      argv: [sh, -c, "echo seed > {out}/seed.txt"]
  stage1:
    kind: command
    inputs: {in: seed}
    params:
      argv: [sh, -c, "sleep 0.03; for i in 1 2 3; do echo ${cell}-$i-$(cat {in.in}/seed.txt) > {out}/f$i.txt; done; echo stage1 ${cell} done"]
  stage2:
    kind: command
    inputs: {in: stage1}
    params:
      argv: [sh, -c, "sleep 0.03; mkdir {out}/sub; cat {in.in}/f*.txt > {out}/sub/all.txt; seq 1 200 > {out}/big.txt"]
  stage3:
    kind: command
    inputs: {in: stage2}
    params:
      argv: [sh, -c, "sleep 0.02; wc -l < {in.in}/big.txt > {out}/n.txt"]
`

func TestCrashAtRandomMoments(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 60 processes")
	}
	dir := t.TempDir()
	specPath := filepath.Join(dir, "work.yaml")
	write(t, specPath, workSpec)
	ref := filepath.Join(dir, "ref-cache")
	if r := cli(t, dir, "--cache", ref, "-j", "2", specPath); r.code != 0 {
		t.Fatalf("reference run: exit %d\n%s", r.code, r.stderr)
	}
	want := digests(planJSONOf(t, dir, specPath, ref))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		c := filepath.Join(dir, fmt.Sprintf("cache-%d", i))
		cmd := dagrunCmd(t, dir, "--cache", c, "-j", "2", "--quiet", specPath)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if r := cli(t, dir, "cache", "verify", "--cache", c); r.code != 0 && !strings.Contains(r.stderr, "no cache") {
			// A kill before the cache was created leaves nothing to verify.
			if _, err := os.Stat(c); err == nil {
				t.Fatalf("kill %d: cache verify: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
			}
		}
		if r := cli(t, dir, "--cache", c, "-j", "2", "--quiet", specPath); r.code != 0 {
			t.Fatalf("kill %d: rerun: exit %d\n%s", i, r.code, r.stderr)
		}
		if got := digests(planJSONOf(t, dir, specPath, c)); got != want {
			t.Fatalf("kill %d: outputs differ from an uninterrupted run:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestTwoProcessesOneCache(t *testing.T) {
	dir := t.TempDir()
	counts := filepath.Join(dir, "counts.txt")
	// pass_env values enter the key: every child, plan included, sees it.
	t.Setenv("COUNTS", counts)
	specPath := filepath.Join(dir, "conc.yaml")
	write(t, specPath, `name: conc
matrix:
  i: [1, 2, 3, 4, 5, 6]
nodes:
  work:
    kind: command
    params:
      argv: [sh, -c, 'echo ${i} >> "$COUNTS"; sleep 0.2; echo out-${i} > {out}/o.txt']
      pass_env: [COUNTS]
  join:
    kind: command
    inputs: {in: work}
    params:
      argv: [sh, -c, 'echo join-${i} >> "$COUNTS"; cat {in.in}/o.txt > {out}/j.txt']
      pass_env: [COUNTS]
`)
	c := filepath.Join(dir, "cache")
	// Create the cache first so both processes race on nodes, not on
	// the creation of the folder.
	if r := cli(t, dir, "cache", "stats", "--cache", c); r.code != 0 {
		t.Fatalf("stats: %d %s", r.code, r.stderr)
	}
	var cmds [2]*exec.Cmd
	var errs [2]bytes.Buffer
	for i := range cmds {
		cmds[i] = dagrunCmd(t, dir, "--cache", c, "-j", "3", specPath)
		cmds[i].Stderr = &errs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, errs[i].String())
		}
	}
	data, _ := os.ReadFile(counts)
	seen := map[string]int{}
	for _, l := range strings.Fields(string(data)) {
		seen[l]++
	}
	if len(seen) != 12 {
		t.Errorf("ran %d distinct nodes, want 12: %q", len(seen), data)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("node %s ran %d times in total, want once", k, n)
		}
	}
	rows := planJSONOf(t, dir, specPath, c)
	for _, r := range rows {
		if r.Status != "cached" {
			t.Errorf("%s: %s after both runs", r.Node, r.Status)
		}
	}
}

func TestCorruptBlobIsRecomputed(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "c.yaml")
	write(t, specPath, `name: corrupt
nodes:
  make:
    kind: command
    params:
      argv: [sh, -c, "echo precious-bytes > {out}/data.txt"]
  use:
    kind: command
    inputs: {in: make}
    params:
      argv: [sh, -c, "tr a-z A-Z < {in.in}/data.txt > {out}/upper.txt"]
`)
	c := filepath.Join(dir, "cache")
	if r := cli(t, dir, "--cache", c, specPath); r.code != 0 {
		t.Fatal(r.stderr)
	}
	before := digests(planJSONOf(t, dir, specPath, c))
	// Find the blob holding "precious-bytes" and flip one byte.
	var blob string
	filepath.Walk(filepath.Join(c, "objects"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); string(b) == "precious-bytes\n" {
				blob = p
			}
		}
		return nil
	})
	if blob == "" {
		t.Fatal("blob not found")
	}
	os.Chmod(blob, 0o644)
	b, _ := os.ReadFile(blob)
	b[0] ^= 0x01
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, dir, "cache", "verify", "--cache", c)
	if r.code != 3 || !strings.Contains(r.stdout, "corrupt") || !strings.Contains(r.stderr, "evicted") {
		t.Errorf("verify: exit %d, want 3 naming the corrupt blob and evicting its entry\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, dir, "--cache", c, specPath)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	// verify evicted make's entry; use, computed from checked inputs,
	// stays cached once make reproduces its bytes (early cutoff).
	if !strings.Contains(r.stderr, "done    make") || !strings.Contains(r.stderr, "cached  use") {
		t.Errorf("rerun did not recompute exactly the evicted node:\n%s", r.stderr)
	}
	if after := digests(planJSONOf(t, dir, specPath, c)); after != before {
		t.Errorf("outputs changed:\n%s\nvs\n%s", after, before)
	}
	if r := cli(t, dir, "cache", "verify", "--cache", c); r.code != 0 {
		t.Errorf("verify after rerun: exit %d\n%s", r.code, r.stdout)
	}
}

func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	c := filepath.Join(dir, "cache")
	bomb := "name: bomb\nvars:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 9; i++ {
		name := fmt.Sprintf("b%d", i)
		bomb += fmt.Sprintf("  %s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	bomb += "nodes:\n  n:\n    kind: command\n    params: {argv: [echo, \"${" + prev + "}\"]}\n"
	write(t, filepath.Join(dir, "bomb.yaml"), bomb)
	big := filepath.Join(dir, "big.yaml")
	f, _ := os.Create(big)
	f.WriteString("name: big\nnodes:\n")
	line := strings.Repeat("#", 1023) + "\n"
	for i := 0; i < 100*1024; i++ {
		f.WriteString(line)
	}
	f.Close()
	write(t, filepath.Join(dir, "symlink.yaml"), `name: symlink
nodes:
  evil:
    kind: command
    params: {argv: [sh, -c, "ln -s /etc/passwd {out}/passwd"]}
  fine:
    kind: command
    params: {argv: [sh, -c, "echo ok > {out}/ok"]}
`)
	write(t, filepath.Join(dir, "dotdot.yaml"), `name: dotdot
nodes:
  evil:
    kind: command
    params: {argv: [sh, -c, "printf x > \"{out}/new\nline\""]}
`)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"alias bomb", []string{"validate", "bomb.yaml"}, 2, "alias"},
		{"100 MB spec", []string{"validate", "big.yaml"}, 2, "the limit is"},
		{"symlink output", []string{"--cache", c, "symlink.yaml"}, 1, "symbolic link"},
		{"control character in an output name", []string{"--cache", c, "dotdot.yaml"}, 1, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := cli(t, dir, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q in:\n%s", r.code, tc.code, tc.want, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("panicked:\n%s", r.stderr)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// The failed nodes registered nothing; the cache is consistent, and
	// the healthy branch of symlink.yaml was kept.
	if r := cli(t, dir, "cache", "verify", "--cache", c); r.code != 0 {
		t.Errorf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	rows := planJSONOf(t, dir, filepath.Join(dir, "symlink.yaml"), c)
	for _, r := range rows {
		want := map[string]string{"evil": "run", "fine": "cached"}[r.Node]
		if r.Status != want {
			t.Errorf("%s: %s, want %s", r.Node, r.Status, want)
		}
	}

	// Caches that are not ours, or not writable.
	trunc := filepath.Join(dir, "trunc")
	os.MkdirAll(trunc, 0o755)
	os.WriteFile(filepath.Join(trunc, "index.db"), []byte("SQLite format 3\x00\x10\x00"), 0o644)
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o755)
	db := exec.Command("sqlite3", filepath.Join(foreign, "index.db"), "create table t(x); insert into t values(1);")
	if err := db.Run(); err != nil {
		// No sqlite3 CLI: a Go-made foreign database is in the cache
		// package's own tests; use a text file here.
		os.WriteFile(filepath.Join(foreign, "index.db"), []byte("not a database at all"), 0o644)
	}
	ro := filepath.Join(dir, "ro")
	os.MkdirAll(ro, 0o555)
	os.Chmod(ro, 0o555)
	write(t, filepath.Join(dir, "ok.yaml"), "name: ok\nnodes:\n  n: {kind: command, params: {argv: [sh, -c, \"echo 1 > {out}/x\"]}}\n")
	for _, tc := range []struct{ name, cache, want string }{
		{"truncated index", trunc, "not a dagrun cache"},
		{"foreign index", foreign, "not a dagrun cache"},
		{"read-only folder", ro, "read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, dir, "--cache", tc.cache, "ok.yaml")
			if r.code != 3 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 3 with %q in:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 0 {
		t.Errorf("read-only cache folder was written to: %v", entries)
	}
}

func TestInterruptExits130(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "slow.yaml"), `name: slow
nodes:
  slow:
    kind: command
    params: {argv: [sh, -c, "echo started; sleep 30; echo never > {out}/x"]}
`)
	c := filepath.Join(dir, "cache")
	cmd := dagrunCmd(t, dir, "--cache", c, "--plain", "slow.yaml")
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), "run     slow") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit = %v, want 130\n%s", err, errb.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("interrupt took %v", d)
	}
	if r := cli(t, dir, "cache", "verify", "--cache", c); r.code != 0 {
		t.Errorf("verify: %d %s", r.code, r.stdout)
	}
	rows := planJSONOf(t, dir, filepath.Join(dir, "slow.yaml"), c)
	if rows[0].Status != "run" {
		t.Errorf("interrupted node is %s, want run (nothing partial kept)", rows[0].Status)
	}
}

func TestAuditCatchesNondeterministicCommand(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), `name: audit
nodes:
  steady:
    kind: command
    params: {argv: [sh, -c, "echo same > {out}/x"]}
  shaky:
    kind: command
    params: {argv: [sh, -c, "head -c 16 /dev/urandom > {out}/x"]}
`)
	c := filepath.Join(dir, "cache")
	if r := cli(t, dir, "--cache", c, "a.yaml"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := cli(t, dir, "audit", "--cache", c, "--sample", "5", "a.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "NONDETERMINISTIC  shaky") || !strings.Contains(r.stdout, "ok                steady") {
		t.Errorf("audit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []string{"cached     ", "recomputed ", "file       program "} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("audit report lacks %q:\n%s", s, r.stdout)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while a child process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A command whose program file is missing fails as that node (exit 1,
// naming the node and the file), not as a cache error (exit 3): the index
// is fine, the user's file is absent.
func TestMissingProgramIsANodeFailure(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "m.yaml")
	write(t, specPath, `name: missing
nodes:
  ok:
    kind: command
    params:
      argv: [sh, -c, "echo fine > {out}/a.txt"]
  gone:
    kind: command
    params:
      argv: [./missing.sh, "{out}"]
`)
	r := cli(t, dir, "--plain", "--cache", filepath.Join(dir, "cache"), specPath)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a node failed)\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `"gone"`) || !strings.Contains(r.stderr, "missing.sh") {
		t.Errorf("stderr does not name the node and the file:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "cache error") {
		t.Errorf("reported as a cache error:\n%s", r.stderr)
	}
}
