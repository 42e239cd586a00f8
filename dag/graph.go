package dag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"dagrun/nodes"
	"dagrun/spec"

	"github.com/dominikbraun/graph"
)

// Node is a spec node bound to its kind and built.
type Node struct {
	Spec   *spec.Node
	Kind   *nodes.Kind
	Impl   nodes.Node
	Params any
	// ParamsJSON is the canonical encoding of the decoded params (sorted
	// keys); it enters the key.
	ParamsJSON string
	Inputs     []Edge
	// Downstream lists the nodes that read this one, in spec order.
	Downstream []*Node
	index      int
}

// Weight is the node's share of the -j budget: the spec's resources.cpu
// when set, else its kind's weight.
func (n *Node) Weight() int {
	if c := n.Spec.Resources["cpu"]; c > 0 {
		return c
	}
	return n.Kind.Weight()
}

// Name is the node's expanded name.
func (n *Node) Name() string { return n.Spec.Name }

// Edge is one input of a node.
type Edge struct {
	Slot   string
	Index  int
	List   bool
	From   *Node
	Output string
}

// Graph is a validated, bound DAG.
type Graph struct {
	Spec  *spec.Spec
	Nodes []*Node // spec order
	// Order is a topological order (stable: spec order among ready nodes).
	Order  []*Node
	byName map[string]*Node
}

// Node returns the node called name.
func (g *Graph) Node(name string) (*Node, bool) {
	n, ok := g.byName[name]
	return n, ok
}

// Build binds every node of s to its kind, decodes and checks params, checks
// inputs and output references, and orders the graph. All problems are
// returned together as a sorted spec.ErrorList.
func Build(s *spec.Spec, reg *nodes.Registry) (*Graph, error) {
	var errs spec.ErrorList
	g := &Graph{Spec: s, byName: make(map[string]*Node, len(s.Nodes))}
	for i, sn := range s.Nodes {
		n := &Node{Spec: sn, index: i}
		g.Nodes = append(g.Nodes, n)
		g.byName[sn.Name] = n
	}
	for _, n := range g.Nodes {
		sn := n.Spec
		k, ok := reg.Lookup(sn.Kind)
		if !ok {
			msg := fmt.Sprintf("unknown kind %q", sn.Kind)
			if h := spec.DidYouMean(sn.Kind, reg.Names()); h != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", h)
			} else {
				msg += " (dagrun kinds lists them)"
			}
			errs.Add(sn.KindPos, sn.Base, "%s", msg)
			continue
		}
		n.Kind = k
		var params any
		if k.Params != nil {
			params = k.Params()
			if e := spec.DecodeParams(sn, params); len(e) > 0 {
				errs = append(errs, e...)
				continue
			}
		} else if sn.Params != nil && len(sn.Params.Content) > 0 {
			errs.Add(sn.ParamsPos, sn.Base, "kind %q takes no params", k.Name)
			continue
		}
		n.Params = params
		js, err := canonicalJSON(params)
		if err != nil {
			errs.Add(sn.ParamsPos, sn.Base, "encode params: %v", err)
			continue
		}
		n.ParamsJSON = js
		impl, err := k.New(nodes.Build{Dir: sn.Dir}, params)
		if err != nil {
			pos := sn.ParamsPos
			if pos.Line == 0 {
				pos = sn.Pos
			}
			errs.Add(pos, sn.Base, "params: %v", err)
			continue
		}
		n.Impl = impl
	}
	for _, n := range g.Nodes {
		if n.Kind == nil {
			continue
		}
		checkInputs(g, n, &errs)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	order, err := topoOrder(g)
	if err != nil {
		errs.Add(spec.Pos{File: s.File}, "", "%v", err)
		return nil, errs
	}
	g.Order = order
	return g, nil
}

func checkInputs(g *Graph, n *Node, errs *spec.ErrorList) {
	sn, k := n.Spec, n.Kind
	seen := map[string]bool{}
	slotNames := make([]string, len(k.Inputs))
	for i, s := range k.Inputs {
		slotNames[i] = s.Name
	}
	for _, in := range sn.Inputs {
		slot, ok := k.Slot(in.Slot)
		if !ok && k.FreeInputs {
			slot, ok = nodes.Slot{Name: in.Slot, Optional: true, Many: true}, true
		}
		if !ok {
			msg := fmt.Sprintf("kind %q has no input %q", k.Name, in.Slot)
			if h := spec.DidYouMean(in.Slot, slotNames); h != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", h)
			} else if len(slotNames) == 0 {
				msg += " (it takes no inputs)"
			} else {
				msg += fmt.Sprintf(" (inputs: %s)", strings.Join(slotNames, ", "))
			}
			errs.Add(in.Pos, sn.Base, "%s", msg)
			continue
		}
		if in.List && !slot.Many {
			errs.Add(in.Pos, sn.Base, "input %q takes one node, not a list", in.Slot)
			continue
		}
		seen[in.Slot] = true
		from, ok := g.byName[in.Node]
		if !ok {
			errs.Add(in.Pos, sn.Base, "input %q refers to unknown node %q", in.Slot, in.Node)
			continue
		}
		if from.Kind != nil && in.Output != "" && len(from.Kind.Outputs) > 0 && !hasOutput(from.Kind, in.Output) {
			msg := fmt.Sprintf("input %q: node %q (kind %q) has no output %q", in.Slot, from.Spec.Base, from.Kind.Name, in.Output)
			if h := spec.DidYouMean(in.Output, from.Kind.Outputs); h != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", h)
			} else {
				msg += fmt.Sprintf(" (outputs: %s)", strings.Join(from.Kind.Outputs, ", "))
			}
			errs.Add(in.Pos, sn.Base, "%s", msg)
			continue
		}
		if from.Kind != nil && in.Output == "" && len(slot.Accepts) > 0 && from.Kind.Produces != "" && !contains(slot.Accepts, from.Kind.Produces) {
			errs.Add(in.Pos, sn.Base, "input %q takes %s, but node %q (kind %q) produces %s",
				in.Slot, strings.Join(slot.Accepts, " or "), from.Spec.Base, from.Kind.Name, from.Kind.Produces)
			continue
		}
		n.Inputs = append(n.Inputs, Edge{Slot: in.Slot, Index: in.Index, List: in.List, From: from, Output: in.Output})
	}
	for _, s := range k.Inputs {
		if !s.Optional && !seen[s.Name] {
			errs.Add(sn.Pos, sn.Base, "missing input %q (%s)", s.Name, s.Doc)
		}
	}
	sort.SliceStable(n.Inputs, func(i, j int) bool {
		a, b := n.Inputs[i], n.Inputs[j]
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		return a.Index < b.Index
	})
}

func hasOutput(k *nodes.Kind, out string) bool {
	first, _, _ := strings.Cut(out, "/")
	return contains(k.Outputs, first)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// topoOrder links downstream edges and returns a topological order, using
// dominikbraun/graph for the ordering so that cycles are caught even when a
// caller built a spec by hand.
func topoOrder(g *Graph) ([]*Node, error) {
	dg := graph.New(func(n *Node) string { return n.Spec.Name }, graph.Directed())
	for _, n := range g.Nodes {
		if err := dg.AddVertex(n); err != nil {
			return nil, err
		}
	}
	for _, n := range g.Nodes {
		linked := map[*Node]bool{}
		for _, e := range n.Inputs {
			if linked[e.From] {
				continue
			}
			linked[e.From] = true
			e.From.Downstream = append(e.From.Downstream, n)
			if err := dg.AddEdge(e.From.Spec.Name, n.Spec.Name); err != nil {
				return nil, err
			}
		}
	}
	names, err := graph.StableTopologicalSort(dg, func(a, b string) bool {
		return g.byName[a].index < g.byName[b].index
	})
	if err != nil {
		return nil, fmt.Errorf("order graph: %w", err)
	}
	if len(names) != len(g.Nodes) {
		return nil, fmt.Errorf("order graph: dependency cycle")
	}
	order := make([]*Node, len(names))
	for i, name := range names {
		order[i] = g.byName[name]
	}
	return order, nil
}

// canonicalJSON encodes v with sorted object keys, whatever its Go type.
func canonicalJSON(v any) (string, error) {
	if v == nil {
		return "null", nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", err
	}
	out, err := json.Marshal(generic)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
