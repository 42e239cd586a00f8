package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/spec"

	"github.com/spf13/cobra"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate SPEC...",
		Short: "check specs without running them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var all spec.ErrorList
			for _, p := range args {
				g, err := a.load(p)
				var el spec.ErrorList
				switch {
				case errors.As(err, &el):
					all = append(all, el...)
				case err != nil:
					return err
				default:
					fmt.Fprintf(a.stdout, "%s: ok (%d nodes)\n", p, len(g.Nodes))
				}
			}
			if len(all) > 0 {
				all.Sort()
				return all
			}
			return nil
		},
	}
}

func (a *app) planCommand() *cobra.Command {
	var explain string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan SPEC",
		Short: "show which nodes are cached and which would run, and why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, c, err := a.loadWithCache(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := dag.MakePlan(cmd.Context(), g, c, "")
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			if explain != "" {
				return a.explain(g, p, explain)
			}
			if asJSON {
				return writePlanJSON(a.stdout, p)
			}
			w := a.stdout
			for _, it := range p.Items {
				key := "-"
				if it.Key != "" {
					key = it.Key[:12]
				}
				fmt.Fprintf(w, "%-7s %-12s %s\n", it.Status, key, it.Node.Name())
				for _, r := range it.Reasons {
					fmt.Fprintf(w, "          - %s\n", r)
				}
			}
			fmt.Fprintf(w, "cells: %d, unique nodes: %d, cached: %d, to run: %d (%d waiting on upstream)\n",
				p.Cells, len(p.Items), p.Count(dag.WillHit), p.Count(dag.WillRun)+p.Count(dag.Blocked), p.Count(dag.Blocked))
			return nil
		},
	}
	cmd.Flags().StringVar(&explain, "explain", "", "break one node's key into its parts")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON (node, status, key, output digest, reasons)")
	return cmd
}

// planJSON is one node of `plan --json`.
type planJSON struct {
	Node    string   `json:"node"`
	Kind    string   `json:"kind"`
	Status  string   `json:"status"`
	Key     string   `json:"key,omitempty"`
	Digest  string   `json:"digest,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

func writePlanJSON(w io.Writer, p *dag.Plan) error {
	out := make([]planJSON, 0, len(p.Items))
	for _, it := range p.Items {
		pj := planJSON{Node: it.Node.Name(), Kind: it.Node.Kind.Name, Status: it.Status.String(), Key: it.Key, Reasons: it.Reasons}
		if it.Entry != nil {
			pj.Digest = it.Entry.Digest
		}
		out = append(out, pj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (a *app) explain(g *dag.Graph, p *dag.Plan, name string) error {
	if !dag.WriteExplain(a.stdout, g, p, name) {
		return withCode(exitInvalid, fmt.Errorf("dagrun: plan --explain: no node %q", name))
	}
	return nil
}

func (a *app) graphCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph SPEC",
		Short: "print the DAG as DOT or Mermaid",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := a.load(args[0])
			if err != nil {
				return err
			}
			switch format {
			case "dot":
				writeDOT(a.stdout, g)
			case "mermaid":
				writeMermaid(a.stdout, g)
			default:
				return withCode(exitInvalid, fmt.Errorf("dagrun: graph --format %q: want dot or mermaid", format))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "dot or mermaid")
	return cmd
}

func writeDOT(w io.Writer, g *dag.Graph) {
	fmt.Fprintf(w, "digraph %q {\n  rankdir=LR;\n  node [shape=box];\n", g.Spec.Name)
	for _, n := range g.Nodes {
		fmt.Fprintf(w, "  %q [label=%q];\n", n.Name(), n.Name()+"\n("+n.Kind.Name+")")
	}
	for _, n := range g.Nodes {
		for _, e := range n.Inputs {
			label := e.Slot
			if e.Output != "" {
				label = e.Output + " → " + e.Slot
			}
			fmt.Fprintf(w, "  %q -> %q [label=%q];\n", e.From.Name(), n.Name(), label)
		}
	}
	fmt.Fprintln(w, "}")
}

func writeMermaid(w io.Writer, g *dag.Graph) {
	fmt.Fprintln(w, "flowchart LR")
	id := map[*dag.Node]string{}
	for i, n := range g.Nodes {
		id[n] = fmt.Sprintf("n%d", i)
		fmt.Fprintf(w, "  %s[\"%s<br/>(%s)\"]\n", id[n], mermaidEscape(n.Name()), n.Kind.Name)
	}
	for _, n := range g.Nodes {
		for _, e := range n.Inputs {
			fmt.Fprintf(w, "  %s -->|%s| %s\n", id[e.From], mermaidEscape(e.Slot), id[n])
		}
	}
}

func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "[", "#91;", "]", "#93;", "|", "#124;").Replace(s)
}

func (a *app) kindsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "kinds",
		Short: "list every node kind with its doc, inputs and params",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			writeKinds(a.stdout, registry())
			return nil
		},
	}
}

// writeKinds prints the registry as Markdown (README's kinds section is
// generated from it).
func writeKinds(w io.Writer, reg *nodes.Registry) {
	for _, name := range reg.Names() {
		k, _ := reg.Lookup(name)
		fmt.Fprintf(w, "### `%s` (version %d)\n\n%s.\n\n", k.Name, k.Version, k.Doc)
		if k.FreeInputs {
			fmt.Fprintf(w, "Inputs: any slot names (each may take a list).\n\n")
		}
		if len(k.Inputs) > 0 {
			fmt.Fprintln(w, "| input | takes | |\n|---|---|---|")
			for _, s := range k.Inputs {
				takes := "one node"
				if s.Many {
					takes = "a list"
				}
				if s.Optional {
					takes += ", optional"
				}
				fmt.Fprintf(w, "| `%s` | %s | %s |\n", s.Name, takes, s.Doc)
			}
			fmt.Fprintln(w)
		}
		if len(k.Outputs) > 0 {
			fmt.Fprintf(w, "Outputs: `%s`.\n\n", strings.Join(k.Outputs, "`, `"))
		}
		if k.Params != nil {
			rows := paramRows(k.Params())
			if len(rows) > 0 {
				fmt.Fprintln(w, "| param | type | default | |\n|---|---|---|---|")
				for _, r := range rows {
					fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
				}
				fmt.Fprintln(w)
			}
		}
	}
}

// paramRows describes a params struct: name, type, default and doc; a
// param that stays out of the key (json:"-") says so after its doc.
func paramRows(p any) [][4]string {
	var rows [][4]string
	for _, prm := range nodes.ParamList(p) {
		def, v := "", prm.Default
		for v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if !v.IsZero() {
			def = "`" + fmt.Sprint(v.Interface()) + "`"
		}
		doc := strings.ReplaceAll(prm.Doc, "|", `\|`)
		if !prm.InKey {
			doc = "(not in the key) " + doc
		}
		rows = append(rows, [4]string{prm.Name, prm.Field.Type.String(), def, doc})
	}
	return rows
}

func (a *app) cacheCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cache", Short: "inspect and maintain the cache"}
	open := func() (*cache.Cache, error) { return a.openCache("") }
	cmd.AddCommand(&cobra.Command{
		Use: "stats", Short: "size and hit counts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			s, err := c.Stats(cmd.Context())
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			fmt.Fprintf(a.stdout, "cache    %s\nentries  %d\nblobs    %d\nbytes    %d\nruns     %d\nhits     %d\nmisses   %d\nremote   %d hits, %d bytes\n",
				c.Dir(), s.Entries, s.Blobs, s.Bytes, s.Runs, s.Hits, s.Misses, s.RemoteHits, s.RemoteBytes)
			kinds, err := c.KindStats(cmd.Context())
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			if len(kinds) > 0 {
				fmt.Fprintf(a.stdout, "\n| kind | entries | compute time | hits | computed in runs |\n|---|---|---|---|---|\n")
				for _, k := range kinds {
					fmt.Fprintf(a.stdout, "| %s | %d | %s | %d | %d |\n", k.Kind, k.Entries, roundDur(k.Compute), k.Hits, k.Runs)
				}
			}
			runs, err := c.RunStats(cmd.Context(), 10)
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			if len(runs) > 0 {
				fmt.Fprintf(a.stdout, "\n| run | spec | nodes | cached | ran | failed | computed | saved by the cache |\n|---|---|---|---|---|---|---|---|\n")
				for _, r := range runs {
					fmt.Fprintf(a.stdout, "| %d | %s | %d | %d | %d | %d | %s | %s |\n", r.ID, r.Spec, r.Nodes, r.Cached, r.Ran, r.Failed, roundDur(r.Compute), roundDur(r.Saved))
				}
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Short: "list entries", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			es, err := c.Entries(cmd.Context())
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			for _, e := range es {
				fmt.Fprintf(a.stdout, "%s  %-10s %10d  %s\n", e.Key[:12], e.Kind, e.Size, e.Created.Format(time.RFC3339))
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "verify", Short: "re-hash every blob and check the index", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			probs, err := c.Verify(cmd.Context())
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			for _, p := range probs {
				fmt.Fprintf(a.stdout, "%s  %s  %s\n", short(p.Key), p.Path, p.Msg)
			}
			if len(probs) > 0 {
				return withCode(exitCacheIO, fmt.Errorf("dagrun: cache verify: %d problem(s); the affected entries were evicted, the next run recomputes them", len(probs)))
			}
			fmt.Fprintln(a.stdout, "ok")
			return nil
		},
	})
	var lastRuns int
	gc := &cobra.Command{
		Use: "gc [SPEC...]", Short: "delete what the given specs and the last N runs do not reach",
		RunE: func(cmd *cobra.Command, args []string) error {
			if lastRuns < 0 {
				return withCode(exitInvalid, fmt.Errorf("dagrun: cache gc: --keep-runs %d: want 0 or more", lastRuns))
			}
			c, err := open()
			if err != nil {
				return err
			}
			defer c.Close()
			keep := map[string]bool{}
			for _, p := range args {
				if err := a.reach(cmd.Context(), c, p, keep); err != nil {
					return err
				}
			}
			rep, err := c.GC(cmd.Context(), keep, lastRuns)
			if err != nil {
				return withCode(exitCacheIO, err)
			}
			fmt.Fprintf(a.stdout, "%+v\n", rep)
			return nil
		},
	}
	gc.Flags().IntVar(&lastRuns, "keep-runs", 1, "also keep what the last N recorded runs reached")
	cmd.AddCommand(gc)
	return cmd
}

// reach adds the keys of every cached node of the spec to keep.
func (a *app) reach(ctx context.Context, c *cache.Cache, path string, keep map[string]bool) error {
	g, err := a.load(path)
	if err != nil {
		return err
	}
	p, err := dag.MakePlan(ctx, g, c, "")
	if err != nil {
		return withCode(exitCacheIO, err)
	}
	for _, it := range p.Items {
		if it.Key != "" {
			keep[it.Key] = true
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

var _ = sort.Strings
