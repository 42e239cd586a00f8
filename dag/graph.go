package dag

import (
	"container/heap"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"

	"dagrun/nodes"
	"dagrun/spec"

	"github.com/dominikbraun/graph"
)

// Node is a spec node bound to its kind and built.
type Node struct {
	Spec *spec.Node
	// Binding holds the node's kind, params and implementation (see Bind).
	Binding
	Inputs []Edge
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

// Build binds every node of s to its kind with Bind (decoding and checking
// params, constructing the node), checks inputs and output references, and
// orders the graph. All problems are returned together as a sorted
// spec.ErrorList.
func Build(s *spec.Spec, reg *nodes.Registry) (*Graph, error) {
	var errs spec.ErrorList
	g := &Graph{Spec: s, byName: make(map[string]*Node, len(s.Nodes))}
	for i, sn := range s.Nodes {
		n := &Node{Spec: sn, index: i}
		g.Nodes = append(g.Nodes, n)
		g.byName[sn.Name] = n
	}
	lookPath := memoLookPath()
	for _, n := range g.Nodes {
		b, e := Bind(reg, n.Spec, lookPath)
		n.Binding = *b
		errs = append(errs, e...)
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

// memoLookPath returns an exec.LookPath that remembers its answers for the
// life of one Build.
func memoLookPath() func(string) (string, error) {
	type answer struct {
		path string
		err  error
	}
	seen := map[string]answer{}
	return func(file string) (string, error) {
		if a, ok := seen[file]; ok {
			return a.path, a.err
		}
		p, err := exec.LookPath(file)
		seen[file] = answer{p, err}
		return p, err
	}
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

// topoOrder links downstream edges and returns a topological order that is
// stable: among ready nodes, spec order first (Kahn's algorithm with a heap,
// O((V+E) log V)). The edges are also kept in a dominikbraun/graph, whose
// cycle check names the cycle should a hand-built spec contain one; the
// library's own topological sorts are quadratic in the number of nodes.
func topoOrder(g *Graph) ([]*Node, error) {
	indeg := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		linked := map[*Node]bool{}
		for _, e := range n.Inputs {
			if linked[e.From] {
				continue
			}
			linked[e.From] = true
			e.From.Downstream = append(e.From.Downstream, n)
			indeg[n.index]++
		}
	}
	ready := &indexHeap{}
	for _, n := range g.Nodes {
		if indeg[n.index] == 0 {
			heap.Push(ready, n)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(*Node)
		order = append(order, n)
		for _, d := range n.Downstream {
			indeg[d.index]--
			if indeg[d.index] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		return nil, cycleError(g)
	}
	return order, nil
}

// cycleError names a dependency cycle, found with dominikbraun/graph.
func cycleError(g *Graph) error {
	dg := graph.New(func(n *Node) string { return n.Spec.Name }, graph.Directed(), graph.PreventCycles())
	for _, n := range g.Nodes {
		_ = dg.AddVertex(n)
	}
	for _, n := range g.Nodes {
		for _, e := range n.Inputs {
			if err := dg.AddEdge(e.From.Spec.Name, n.Spec.Name); errors.Is(err, graph.ErrEdgeCreatesCycle) {
				path, _ := graph.ShortestPath(dg, n.Spec.Name, e.From.Spec.Name)
				return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(path, " -> "), n.Spec.Name)
			}
		}
	}
	return errors.New("dependency cycle")
}

// indexHeap orders nodes by their position in the spec.
type indexHeap []*Node

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(*Node)) }
func (h *indexHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}
