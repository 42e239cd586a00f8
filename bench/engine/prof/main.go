// Command prof profiles dagrun's engine on a benchmark spec: it does what
// `dagrun plan` or `dagrun --quiet SPEC` does (load, build, open the cache,
// plan or run) through the same packages, under a CPU profile, and prints
// the wall time of each phase so the profile can be read against them.
//
//	go run ./bench/engine/prof -op run -cache DIR -cpuprofile cpu.out spec.yaml
//	go tool pprof -top -cum cpu.out
//
// It is a measuring aid for bench/engine/run.sh (PROFILE=1), not part of
// dagrun; the node kinds it registers are the ones the benchmark spec uses.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/command"
	"dagrun/spec"
)

func main() {
	op := flag.String("op", "plan", "plan or run")
	dir := flag.String("cache", "", "cache folder (required)")
	jobs := flag.Int("j", 2, "parallelism of -op run")
	out := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if flag.NArg() != 1 || *dir == "" || (*op != "plan" && *op != "run") {
		fmt.Fprintln(os.Stderr, "usage: prof -op plan|run -cache DIR [-j N] [-cpuprofile FILE] SPEC")
		os.Exit(2)
	}
	if err := profile(*op, *dir, *jobs, *out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func profile(op, dir string, jobs int, out, path string) error {
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("prof: create profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("prof: start profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	t0 := time.Now()
	lap := func(what string) {
		fmt.Fprintf(os.Stderr, "prof: %-10s %8.3f s\n", what, time.Since(t0).Seconds())
		t0 = time.Now()
	}

	s, err := spec.Load(path, spec.Options{})
	if err != nil {
		return fmt.Errorf("prof: load %q: %w", path, err)
	}
	lap("load")
	g, err := dag.Build(s, nodes.NewRegistry(command.Kind()))
	if err != nil {
		return fmt.Errorf("prof: build graph: %w", err)
	}
	lap("build")
	c, err := cache.Open(dir, cache.Options{})
	if err != nil {
		return fmt.Errorf("prof: open cache %q: %w", dir, err)
	}
	defer c.Close()
	lap("open")

	switch op {
	case "plan":
		p, err := dag.MakePlan(ctx, g, c, "")
		if err != nil {
			return fmt.Errorf("prof: plan: %w", err)
		}
		lap("plan")
		fmt.Fprintf(os.Stderr, "prof: %d nodes, %d cached\n", len(p.Items), p.Count(dag.WillHit))
	case "run":
		sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: jobs}}).Run(ctx, g)
		if err != nil {
			return fmt.Errorf("prof: run: %w", err)
		}
		lap("run")
		fmt.Fprintf(os.Stderr, "prof: %d nodes, %d cached, %d ran\n",
			len(sum.Results), sum.Count(dag.Cached), sum.Count(dag.Done))
		if err := sum.Err(); err != nil {
			return fmt.Errorf("prof: run: %w", err)
		}
	}
	return nil
}
