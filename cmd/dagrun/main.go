// Command dagrun runs declarative experiment graphs with a content-addressed
// cache. See README.md for the spec format, the cache semantics and the exit
// codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/spec"

	"github.com/spf13/cobra"
)

// Exit codes (README.md; docs/architecture.md, Exit codes).
const (
	exitOK          = 0
	exitNodeFailed  = 1
	exitInvalid     = 2
	exitCacheIO     = 3
	exitInterrupted = 130
)

// exitError carries an exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// app holds what every command shares: flags, streams and the logger.
type app struct {
	stdout, stderr io.Writer
	sets           []string
	profile        string
	jobs           int
	cacheDir       string
	verbose        int
	failFast       bool
	expectCached   bool
	quiet          bool
	plain          bool
	executor       string
	partition      string
	remote         remoteFlags
	log            *slog.Logger
}

func main() {
	if err := checkBuild(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(exitInvalid)
	}
	tuneGC()
	ctx, stop := signalNotify()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// checkBuild refuses a binary built for amd64 at GOAMD64=v3 or above: from
// v3 on the Go compiler may fuse a*b+c into one FMA instruction
// (rounded once instead of twice) anywhere outside lib/nn's own kernels, so
// train, score and evaluate outputs would differ in their last bits from a
// v1 build's under the same cache keys: a shared or reused cache would mix
// two arithmetics.
func checkBuild() error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return checkSettings(bi.Settings)
}

func checkSettings(settings []debug.BuildSetting) error {
	for _, s := range settings {
		if s.Key == "GOAMD64" && s.Value >= "v3" {
			return fmt.Errorf("dagrun: this binary was built with GOAMD64=%s; from v3 on the Go compiler may fuse multiply-adds, which changes output bits under unchanged cache keys; rebuild with GOAMD64=v1 (make build does)", s.Value)
		}
	}
	return nil
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code == exitInterrupted {
		fmt.Fprintln(stderr, "dagrun: interrupted; nothing partial was kept")
	} else {
		fmt.Fprintln(stderr, err.Error())
	}
	return code
}

// exitCode maps an error to the exit code README.md documents. Node
// failures come first (a node may fail with any error inside, even a
// cancelled context of its own); then an interrupt wins over the code a
// command gave its error, since a command interrupted in the middle of its
// cache work (verify, gc, plan) sees its I/O fail with the cancellation.
func exitCode(err error) int {
	var ee *exitError
	var el spec.ErrorList
	var fe *dag.FailedError
	var ce *cache.Error
	switch {
	case errors.As(err, &fe):
		if fe.CacheIO {
			return exitCacheIO
		}
		return exitNodeFailed
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &el):
		return exitInvalid
	case errors.As(err, &ce):
		return exitCacheIO
	}
	// cobra's own flag and argument errors.
	return exitInvalid
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "dagrun [SPEC]",
		Short: "run declarative experiment graphs with a content-addressed cache",
		Long: `dagrun runs a YAML spec: a graph of typed nodes whose outputs are cached by
content in SQLite, so reruns, grid cells and other specs reuse identical results.

  dagrun SPEC            run the spec (same as dagrun run SPEC)
  dagrun plan SPEC       what would run, and why
  dagrun show SPEC       the spec's report, from the cache alone

Exit codes: 0 ok, 1 a node failed, 2 invalid spec or usage, 3 cache or I/O
error, 130 interrupted.`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return a.runSpec(cmd.Context(), args[0])
		},
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			switch {
			case a.verbose == 1:
				level = slog.LevelInfo
			case a.verbose >= 2:
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return withCode(exitInvalid, fmt.Errorf("dagrun: %v (see %s --help)", err, cmd.CommandPath()))
	})
	pf := root.PersistentFlags()
	pf.StringArrayVar(&a.sets, "set", nil, "override a var: --set name=value (repeatable)")
	pf.StringVar(&a.profile, "profile", "", "apply a named profile of the spec (e.g. ci)")
	pf.IntVarP(&a.jobs, "jobs", "j", defaultJobs(), "CPU budget: how many node weights run at once")
	pf.StringVar(&a.cacheDir, "cache", "", "cache folder (default $DAGRUN_CACHE, else .dagrun/ at the project root)")
	pf.CountVarP(&a.verbose, "verbose", "v", "more logs (-v, -vv)")
	pf.StringVar(&a.executor, "executor", "", "where nodes run: local or slurm (default: the spec's executor:, else local)")
	pf.StringVar(&a.partition, "slurm-partition", "", "Slurm partition for the slurm executor (default: the cluster's)")
	a.addRemoteFlags(root)
	root.Flags().BoolVar(&a.failFast, "fail-fast", false, "stop everything at the first failure")
	root.Flags().BoolVar(&a.expectCached, "expect-cached", false, "fail, listing the misses, if anything would run")
	root.Flags().BoolVarP(&a.quiet, "quiet", "q", false, "print no per-node lines and no command output")
	root.Flags().BoolVar(&a.plain, "plain", false, "plain progress lines even on a terminal")
	root.AddCommand(a.runCommand(), a.validateCommand(), a.planCommand(), a.showCommand(),
		a.graphCommand(), a.kindsCommand(), a.cacheCommand(), a.auditCommand(), a.execCommand(), a.logCommand(), a.remoteCommand())
	return root
}

// tuneGC trades memory for time where the user has not chosen: a plan or
// cached run of 10,000 nodes allocates many small short-lived objects, and
// the default GOGC=100 spends a fifth of its CPU in the collector. A soft
// limit keeps in-process training from growing the heap unboundedly.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(4 << 30)
	}
}

// signalNotify returns a context cancelled by SIGINT or SIGTERM.
func signalNotify() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func defaultJobs() int {
	return maxInt(1, numCPU())
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
