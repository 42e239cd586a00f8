package main

// End-to-end regression tests for issue 12 (cache integrity): each failed
// before its fix.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFile waits (boundedly) until path exists and is not empty.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

// procGone waits (boundedly) until pid has exited (or is a zombie) and
// reports whether it did; a killed process is gone within milliseconds.
func procGone(pid int) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, fs.ErrNotExist) {
			return true
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
	}
	return false
}

// Item 7: SIGKILL of dagrun kills its command (PR_SET_PDEATHSIG), and the
// restarted run ends the command's orphaned process group before it
// reclaims the dead run's lease and runs the node again.
func TestKilledDagrunTakesItsCommandsAlong(t *testing.T) {
	dir := t.TempDir()
	mark, bgPid, shPid := filepath.Join(dir, "MARK"), filepath.Join(dir, "BGPID"), filepath.Join(dir, "SHPID")
	specPath := filepath.Join(dir, "orphan.yaml")
	write(t, specPath, fmt.Sprintf(`name: orphan
nodes:
  n:
    kind: command
    params:
      argv: [sh, -c, 'if [ -e %[1]s ]; then echo second > {out}/x; exit 0; fi; touch %[1]s; sleep 300 </dev/null >/dev/null 2>&1 & echo $! > %[2]s; echo $$ > %[3]s; wait']
`, mark, bgPid, shPid))
	c := filepath.Join(dir, "cache")
	cmd := dagrunCmd(t, dir, "--cache", c, "--plain", specPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sh, _ := strconv.Atoi(waitFile(t, shPid))
	bg, _ := strconv.Atoi(waitFile(t, bgPid))
	t.Cleanup(func() {
		syscall.Kill(sh, syscall.SIGKILL)
		syscall.Kill(bg, syscall.SIGKILL)
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !procGone(sh) {
		t.Errorf("the command (pid %d) outlived the dagrun that ran it", sh)
	}
	r := cli(t, dir, "--cache", c, "--plain", specPath)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "left running by a dead dagrun") || !strings.Contains(r.stderr, "pid="+strconv.Itoa(bg)) {
		t.Errorf("the rerun did not say it ended the orphan %d:\n%s", bg, r.stderr)
	}
	if !procGone(bg) {
		t.Errorf("the orphaned background process (pid %d) of the killed run still runs after the rerun took over its node", bg)
	}
}

// Item 8: damage in the blob store of one node (its shard is a file, its
// blob is a folder) is a miss with a warning for that node alone: the
// other node of the same lookup batch stays cached and the run succeeds.
func TestDamagedBlobStoreIsolatedPerNode(t *testing.T) {
	for _, damage := range []string{"shard is a file", "blob is a folder"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			specPath := filepath.Join(dir, "two.yaml")
			write(t, specPath, `name: two
nodes:
  a: {kind: command, params: {argv: [sh, -c, "echo ay > {out}/a.txt"]}}
  b: {kind: command, params: {argv: [sh, -c, "echo bee > {out}/b.txt"]}}
`)
			c := filepath.Join(dir, "cache")
			if r := cli(t, dir, "--cache", c, specPath); r.code != 0 {
				t.Fatal(r.stderr)
			}
			blob := findBlob(t, c, "bee\n")
			switch damage {
			case "shard is a file":
				shard := filepath.Dir(blob)
				os.RemoveAll(shard)
				write(t, shard, "junk")
			case "blob is a folder":
				os.Remove(blob)
				os.MkdirAll(filepath.Join(blob, "x"), 0o755)
			}
			r := cli(t, dir, "--cache", c, "--plain", specPath)
			if r.code != 0 {
				t.Fatalf("rerun: exit %d, want 0\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "cached  a") || !strings.Contains(r.stderr, "done    b") || !strings.Contains(r.stderr, "WARN") {
				t.Errorf("want a cached, b recomputed with a warning:\n%s", r.stderr)
			}
		})
	}
}

// Item 8: a cache failure in the middle of a run (here the blob store is
// replaced by a file while a node runs) exits 3, not 1.
func TestCacheFailureMidRunExits3(t *testing.T) {
	dir := t.TempDir()
	c := filepath.Join(dir, "cache")
	specPath := filepath.Join(dir, "sab.yaml")
	write(t, specPath, fmt.Sprintf(`name: sab
nodes:
  a: {kind: command, params: {argv: [sh, -c, "rm -rf %[1]s/objects && echo junk > %[1]s/objects; echo a > {out}/a"]}}
`, c))
	r := cli(t, dir, "--cache", c, specPath)
	if r.code != 3 {
		t.Errorf("exit %d, want 3 (cache or I/O error)\n%s", r.code, r.stderr)
	}
}

func findBlob(t *testing.T, cacheDir, content string) string {
	t.Helper()
	var blob string
	filepath.Walk(filepath.Join(cacheDir, "objects"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); string(b) == content {
				blob = p
			}
		}
		return nil
	})
	if blob == "" {
		t.Fatalf("no blob holds %q", content)
	}
	return blob
}

// Item 10: an interrupt during `cache verify`, `cache gc` or `plan` exits
// 130, like an interrupted run, not 3.
func TestInterruptedCacheCommandsExit130(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "one.yaml")
	write(t, specPath, `name: one
nodes:
  a: {kind: command, params: {argv: [sh, -c, "echo a > {out}/a"]}}
`)
	c := filepath.Join(dir, "cache")
	if r := cli(t, dir, "--cache", c, specPath); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"cache", "verify", "--cache", c},
		{"cache", "gc", "--cache", c},
		{"plan", "--cache", c, specPath},
	} {
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 130 {
			t.Errorf("%v: exit %d, want 130\n%s", args, code, errb.String())
		}
	}
}

// Item 11: a long command output is shown as its tail with a hint, on the
// run and on the cached rerun, and `dagrun log SPEC NODE` prints it whole.
func TestLongLogTailAndDagrunLog(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "loud.yaml")
	write(t, specPath, `name: loud
nodes:
  n: {kind: command, params: {argv: [sh, -c, "seq 1 500; echo x > {out}/x"]}}
`)
	c := filepath.Join(dir, "cache")
	for i, want := range []string{"done    n", "cached  n"} {
		r := cli(t, dir, "--cache", c, "--plain", specPath)
		if r.code != 0 || !strings.Contains(r.stderr, want) {
			t.Fatalf("run %d: exit %d\n%s", i, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "  n | 500\n") || strings.Contains(r.stderr, "  n | 1\n") {
			t.Errorf("run %d: want the tail of the log only:\n%s", i, r.stderr)
		}
		if !strings.Contains(r.stderr, "dagrun log") {
			t.Errorf("run %d: no hint how to see the whole log:\n%s", i, r.stderr)
		}
	}
	r := cli(t, dir, "log", "--cache", c, specPath, "n")
	var want strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	if r.code != 0 || r.stdout != want.String() {
		t.Errorf("dagrun log: exit %d, %d bytes (want %d)\n%s", r.code, len(r.stdout), want.Len(), r.stderr)
	}
	if r := cli(t, dir, "log", "--cache", c, specPath, "nope"); r.code != 2 {
		t.Errorf("dagrun log of an unknown node: exit %d, want 2", r.code)
	}
}

// Item 12: the small CLI ones.
func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "one.yaml")
	write(t, specPath, `name: one
nodes:
  a: {kind: command, params: {argv: [sh, -c, "echo a > {out}/a"]}}
`)
	c := filepath.Join(dir, "cache")
	if r := cli(t, dir, "--cache", c, specPath); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// A negative --keep-runs is refused and deletes nothing.
	if r := cli(t, dir, "cache", "gc", "--keep-runs", "-5", "--cache", c); r.code != 2 {
		t.Errorf("gc --keep-runs -5: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, dir, "--cache", c, "--expect-cached", specPath); r.code != 0 {
		t.Errorf("after a refused gc: exit %d, want everything still cached\n%s", r.code, r.stderr)
	}
	// A job file that is not there is a usage error.
	if r := cli(t, dir, "exec", filepath.Join(dir, "nonexistent.json")); r.code != 2 {
		t.Errorf("exec of a missing job file: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// Flag errors name the command once.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "see dagrun --help"},
		{[]string{"cache", "gc", "--bogus"}, "see dagrun cache gc --help"},
	} {
		r := cli(t, dir, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "dagrun dagrun") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
