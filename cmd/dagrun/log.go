package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/spec"

	"github.com/spf13/cobra"
)

// logCommand is `dagrun log SPEC NODE`: the whole console output stored
// with a node's cache entry. Runs and cached reruns show only its tail.
func (a *app) logCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "log SPEC NODE",
		Short: "print the whole console output stored with a node's cache entry",
		Long: `log prints the console output (stdout and stderr) a node wrote when it
was computed, as stored with its cache entry; runs and cached reruns show only
its last lines. The node is the one the spec names with the given --set and
--profile; when it is not cached under its current key, the entry of the
spec's last recorded run of that node is used, if it is still in the cache.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			g, c, err := a.loadWithCache(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			var node *dag.Node
			var names []string
			for _, n := range g.Nodes {
				names = append(names, n.Name())
				if n.Name() == args[1] {
					node = n
				}
			}
			if node == nil {
				msg := fmt.Sprintf("dagrun log: spec %q has no node %q", args[0], args[1])
				if h := spec.DidYouMean(args[1], names); h != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", h)
				}
				return withCode(exitInvalid, errors.New(msg))
			}
			p, err := dag.MakePlan(ctx, g, c, "")
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			var ent *cache.Entry
			for _, it := range p.Items {
				if it.Node == node {
					ent = it.Entry
				}
			}
			if ent == nil {
				last, err := c.LastRun(ctx, g.Spec.Name)
				if err != nil {
					return withCode(exitCacheIO, err)
				}
				if rn, ok := last[node.Name()]; ok && rn.Key != "" {
					switch e, err := c.Get(ctx, rn.Key); {
					case err == nil:
						ent = e
						fmt.Fprintf(a.stderr, "dagrun log: %q is not cached under its current key; this is the log of its last recorded run\n", node.Name())
					case !errors.Is(err, cache.ErrNotFound):
						return withCode(exitCacheIO, err)
					}
				}
			}
			if ent == nil {
				return withCode(exitNodeFailed, fmt.Errorf("dagrun log: node %q is not in the cache, so there is no log to show (run the spec first)", node.Name()))
			}
			r, err := c.OpenLog(ent)
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			if r == nil {
				return nil // the node printed nothing
			}
			defer r.Close()
			if _, err := io.Copy(a.stdout, r); err != nil {
				return withCode(exitCacheIO, err)
			}
			return nil
		},
	}
}

// logHint is the command that prints the whole log of node, with the
// flags that select the same node and cache as this invocation.
func (a *app) logHint(specPath, node string) string {
	parts := []string{"dagrun log"}
	if a.profile != "" {
		parts = append(parts, "--profile", shellWord(a.profile))
	}
	for _, s := range a.sets {
		parts = append(parts, "--set", shellWord(s))
	}
	if a.cacheDir != "" {
		parts = append(parts, "--cache", shellWord(a.cacheDir))
	}
	parts = append(parts, shellWord(specPath), shellWord(node))
	return strings.Join(parts, " ")
}

// shellWord quotes s for a POSIX shell when it needs quoting.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
