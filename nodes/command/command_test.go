package command

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dagrun/nodes"
)

// runArgv runs a command node with argv in fresh folders and returns its
// error and console output.
func runArgv(t *testing.T, argv ...string) (*nodes.Env, string, error) {
	t.Helper()
	dir := t.TempDir()
	env := &nodes.Env{Inputs: map[string][]string{}, OutDir: filepath.Join(dir, "out"), TempDir: filepath.Join(dir, "tmp")}
	for _, d := range []string{env.OutDir, env.TempDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	env.Output = &out
	n, err := Kind().New(nodes.Build{Dir: dir}, &Params{Argv: argv})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Run(context.Background(), env)
	return env, out.String(), err
}

// gone waits (boundedly) until pid has exited, and reports whether it did.
// A process killed with SIGKILL is gone within milliseconds; the bound only
// keeps a failing test from hanging.
func gone(pid int) bool {
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

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// Item 5: a background process that the command left behind is killed when
// the command's main process exits, before its outputs are hashed: it can
// no longer write into them.
func TestBackgroundProcessesDieWithTheCommand(t *testing.T) {
	env, _, err := runArgv(t, "sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {tmp}/bg.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, filepath.Join(env.TempDir, "bg.pid"))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if !gone(pid) {
		t.Errorf("background process %d still runs after the command exited", pid)
	}
}

// Item 5: a background process holding the command's stdout does not make
// the node wait for it (it used to fail after 5 s with "WaitDelay expired").
func TestBackgroundHoldingStdoutDoesNotFailTheNode(t *testing.T) {
	env, out, err := runArgv(t, "sh", "-c", "sleep 60 & echo $! > {tmp}/bg.pid; echo hi")
	if err != nil {
		t.Errorf("Run = %v, want success", err)
	}
	if out != "hi\n" {
		t.Errorf("output = %q, want \"hi\\n\"", out)
	}
	pid := readPid(t, filepath.Join(env.TempDir, "bg.pid"))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if !gone(pid) {
		t.Errorf("background process %d still runs after the command exited", pid)
	}
}
