package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dagrun/nodes"

	"golang.org/x/sys/unix"
)

// Params configure a command node.
type Params struct {
	// Argv is the program and its arguments. Placeholders: {out} is the
	// output folder, {tmp} a scratch folder, {in.SLOT} the path of input
	// SLOT, {in.SLOT.N} the N-th path of a list input.
	Argv []string `yaml:"argv" json:"argv" doc:"program and arguments (required); {out}, {tmp}, {in.SLOT}, {in.SLOT.N} are replaced by paths; a program with a slash is relative to the spec, one without is looked up on PATH, and its content enters the key"`
	// Env sets variables for the child; values are templated like Argv.
	Env map[string]string `yaml:"env" json:"env,omitempty" doc:"variables set for the program (templated like argv)"`
	// PassEnv names variables copied from dagrun's environment; their
	// values enter the key.
	PassEnv []string `yaml:"pass_env" json:"pass_env,omitempty" doc:"variables passed through from the environment; their values enter the key"`
	// Stdout, when set, is a file name in the output folder that receives
	// the program's standard output instead of the log.
	Stdout string `yaml:"stdout" json:"stdout,omitempty" doc:"file in the output folder that receives stdout (default: stdout goes to the log)"`
}

// Kind returns the command kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:       "command",
		Doc:        "run an external program with its inputs and output folder as paths",
		Version:    1,
		FreeInputs: true,
	}, nil, newNode)
}

var placeholder = regexp.MustCompile(`\{(out|tmp|in\.[A-Za-z_][A-Za-z0-9_-]*(?:\.[0-9]+)?)\}`)

type node struct {
	p       Params
	program string // resolved path of argv[0]
}

// Validate implements nodes.Validator.
func (p Params) Validate() error {
	if len(p.Argv) == 0 || p.Argv[0] == "" {
		return errors.New("argv must name a program")
	}
	if p.Stdout != "" && (filepath.Base(p.Stdout) != p.Stdout || p.Stdout == ".." || p.Stdout == ".") {
		return fmt.Errorf("stdout %q must be a plain file name", p.Stdout)
	}
	for _, name := range p.PassEnv {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return fmt.Errorf("pass_env: bad variable name %q", name)
		}
	}
	if placeholder.MatchString(p.Argv[0]) {
		return fmt.Errorf("argv[0] %q must be a program, not a placeholder", p.Argv[0])
	}
	return nil
}

// newNode resolves the program: relative to the spec when argv[0] has a
// slash, on PATH otherwise.
func newNode(b nodes.Build, p Params) (nodes.Node, error) {
	prog := p.Argv[0]
	if strings.Contains(prog, "/") {
		if !filepath.IsAbs(prog) {
			prog = filepath.Join(b.Dir, prog)
		}
	} else {
		look := b.LookPath
		if look == nil {
			look = exec.LookPath
		}
		lp, err := look(prog)
		if err != nil {
			return nil, fmt.Errorf("program %q not found on PATH", prog)
		}
		prog = lp
	}
	return &node{p: p, program: prog}, nil
}

// Fingerprint implements nodes.Fingerprinter: the program's bytes and the
// passed-through environment enter the key.
func (n *node) Fingerprint(ctx context.Context, h nodes.FileHasher) (map[string]string, error) {
	// FileDigest follows symlinks: the digest is the program's content.
	d, err := h.FileDigest(n.program)
	if err != nil {
		return nil, fmt.Errorf("program %q: %w", n.p.Argv[0], err)
	}
	out := map[string]string{"program": d}
	for _, name := range n.p.PassEnv {
		v, ok := os.LookupEnv(name)
		if !ok {
			out["env:"+name] = "(unset)"
			continue
		}
		out["env:"+name] = "=" + v
	}
	return out, nil
}

func expand(s string, env *nodes.Env) (string, error) {
	var err error
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		switch name {
		case "out":
			return env.OutDir
		case "tmp":
			return env.TempDir
		}
		parts := strings.Split(name, ".")
		paths := env.Inputs[parts[1]]
		idx := 0
		if len(parts) == 3 {
			idx, _ = strconv.Atoi(parts[2])
		}
		if idx >= len(paths) {
			if err == nil {
				err = fmt.Errorf("placeholder %s: no such input", m)
			}
			return m
		}
		return paths[idx]
	})
	return out, err
}

// Run implements nodes.Node.
func (n *node) Run(ctx context.Context, env *nodes.Env) error {
	args := make([]string, len(n.p.Argv))
	for i, a := range n.p.Argv {
		s, err := expand(a, env)
		if err != nil {
			return fmt.Errorf("argv[%d]: %w", i, err)
		}
		args[i] = s
	}
	cmd := exec.CommandContext(ctx, n.program, args[1:]...)
	cmd.Args[0] = n.p.Argv[0]
	cmd.Dir = env.TempDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + env.TempDir,
		"TMPDIR=" + env.TempDir,
		"LC_ALL=C",
		"DAGRUN_OUT=" + env.OutDir,
	}
	for _, name := range n.p.PassEnv {
		if v, ok := os.LookupEnv(name); ok {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	keys := make([]string, 0, len(n.p.Env))
	for k := range n.p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := expand(n.p.Env[k], env)
		if err != nil {
			return fmt.Errorf("env %s: %w", k, err)
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// An *os.File (what the engine passes) is handed to the child as is:
	// the output streams to it and is never held here, and no copying
	// goroutine waits for a background process that inherited it.
	cmd.Stderr = env.Output
	cmd.Stdout = env.Output
	if n.p.Stdout != "" {
		f, err := os.Create(filepath.Join(env.OutDir, n.p.Stdout))
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	// Its own process group, so that the whole group can be killed; and
	// SIGKILL when dagrun dies (see startPinned).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// Kill the whole group: a shell's children must not outlive us.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := startPinned(cmd); err != nil {
		return fmt.Errorf("%s: %w", n.p.Argv[0], err)
	}
	pgid := cmd.Process.Pid
	if env.ProcessGroup != nil {
		env.ProcessGroup(pgid)
	}
	// Once the main process has exited, kill what is left of its group
	// (background processes, which could otherwise write into the outputs
	// after they are stored, or hold a pipe open) before reaping it: until
	// it is reaped its pid, the group's id, cannot be reused.
	waitExited(pgid)
	syscall.Kill(-pgid, syscall.SIGKILL)
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return fmt.Errorf("%s exited with status %d", n.p.Argv[0], ee.ExitCode())
		}
		return fmt.Errorf("%s: %w", n.p.Argv[0], err)
	}
	return nil
}

// waitExited blocks until the child pid has exited, without reaping it
// (WNOWAIT): cmd.Wait reaps it afterwards.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// spawn requests are served by one goroutine locked to its OS thread for
// the life of the process. PR_SET_PDEATHSIG (SysProcAttr.Pdeathsig) fires
// when the thread that forked the child exits, not the process, and Go
// ends a thread whose goroutine exits while locked to it: a child forked
// from an arbitrary thread could be killed at a random moment. Forking
// only from a thread that never ends leaves the signal to dagrun's death.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// startPinned starts cmd from the spawner thread.
func startPinned(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawnReqs <- r
	return <-r.done
}
