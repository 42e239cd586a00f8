package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// maxInstances bounds the number of expanded nodes of a spec, and the number of cells
// evaluated to find one input's upstream nodes.
const maxInstances = 100_000

// bnode is one node as written, with what expansion learns about it.
type bnode struct {
	raw    *rawNode
	direct []bool // axes it mentions, directly or through vars
	full   []bool // direct axes and the full axes of everything upstream
	ups    []upEdge
	color  int // DFS: 0 new, 1 on stack, 2 done
}

// upEdge is a reference from a node to an upstream node, at the first input naming it.
type upEdge struct {
	base string
	slot string
	pos  Pos
}

// expander expands the merged state into nodes.
type expander struct {
	st      *state
	errs    *ErrorList
	bases   map[string]*bnode
	order   []*bnode
	varAxes map[string][]bool
	meter   meter
	evals   int // cells evaluated to find upstream nodes
}

func newExpander(st *state, errs *ErrorList) *expander {
	ex := &expander{st: st, errs: errs, bases: map[string]*bnode{}, varAxes: map[string][]bool{}}
	for _, rn := range st.nodes {
		b := &bnode{raw: rn}
		ex.bases[rn.name] = b
		ex.order = append(ex.order, b)
	}
	return ex
}

func (ex *expander) axisIndex(name string) int {
	for i, a := range ex.st.axes {
		if a.Name == name {
			return i
		}
	}
	return -1
}

func (ex *expander) failed(n int) bool { return len(*ex.errs) > n }

// run expands every node; it returns nil when errors were found.
func (ex *expander) run() []*Node {
	n0 := len(*ex.errs)
	ex.checkVars()
	if ex.failed(n0) {
		return nil
	}
	for _, b := range ex.order {
		ex.directAxes(b)
	}
	if ex.failed(n0) {
		return nil
	}
	for _, b := range ex.order {
		ex.upstream(b)
	}
	if ex.failed(n0) {
		return nil
	}
	for _, b := range ex.order {
		ex.visit(b, nil)
	}
	if ex.failed(n0) {
		return nil
	}
	total := 0
	for _, b := range ex.order {
		total += ex.cellCount(b.full)
		if total > maxInstances {
			ex.errs.Add(b.raw.pos, b.raw.name, "the matrix expands the spec into more than %d nodes", maxInstances)
			return nil
		}
	}
	var out []*Node
	for _, b := range ex.order {
		out = append(out, ex.instances(b)...)
	}
	ex.checkUnique(out)
	if ex.failed(n0) {
		return nil
	}
	return out
}

// checkUnique reports an expanded name that two nodes share. instanceName
// quotes the values that could make names collide, so this cannot happen;
// it is checked rather than assumed because inputs are wired by name: a
// shared name would wire a node to another cell's upstream.
func (ex *expander) checkUnique(nodes []*Node) {
	first := make(map[string]*Node, len(nodes))
	for _, n := range nodes {
		if o, ok := first[n.Name]; ok {
			ex.errs.Add(n.Pos, n.Base, "expanded node name %q is not unique: node %q at %s has it too", n.Name, o.Base, o.Pos)
			continue
		}
		first[n.Name] = n
	}
}

// checkVars reports vars named like axes, unknown or malformed references inside vars,
// and cycles among vars; it then computes the axes each var depends on.
func (ex *expander) checkVars() {
	names := varNames(ex.st)
	edges := map[string][]refUse{}
	for _, name := range names {
		def := ex.st.vars[name]
		if ex.st.axis(name) != nil {
			ex.errs.Add(def.pos, "", "var %q has the name of a matrix axis", name)
		}
		for _, r := range refsIn(def.file, def.node, "", ex.errs) {
			if _, ok := ex.st.vars[r.name]; ok {
				edges[name] = append(edges[name], r)
				continue
			}
			if ex.st.axis(r.name) == nil {
				ex.errs.Add(yamlPos(def.file, r.at), "", "unknown var %q%s", r.name, hint(r.name, append(names, axisNames(ex.st)...)))
			}
		}
	}
	// Cycles: DFS in name order, reporting each back edge at the reference closing it.
	color := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(v string) {
		color[v] = 1
		stack = append(stack, v)
		for _, r := range edges[v] {
			switch color[r.name] {
			case 0:
				visit(r.name)
			case 1:
				i := indexOf(stack, r.name)
				chain := append(append([]string{}, stack[i:]...), r.name)
				ex.errs.Add(yamlPos(ex.st.vars[v].file, r.at), "", "var cycle: %s", strings.Join(chain, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[v] = 2
	}
	for _, name := range names {
		if color[name] == 0 {
			visit(name)
		}
	}
	// Axes per var, memoized; cycles were reported above, so guard only against them.
	var axesOf func(string, map[string]bool) []bool
	axesOf = func(v string, busy map[string]bool) []bool {
		if s, ok := ex.varAxes[v]; ok {
			return s
		}
		set := make([]bool, len(ex.st.axes))
		if busy[v] {
			return set
		}
		busy[v] = true
		def := ex.st.vars[v]
		var quiet ErrorList
		for _, r := range refsIn(def.file, def.node, "", &quiet) {
			if i := ex.axisIndex(r.name); i >= 0 {
				set[i] = true
			} else if _, ok := ex.st.vars[r.name]; ok {
				orInto(set, axesOf(r.name, busy))
			}
		}
		delete(busy, v)
		ex.varAxes[v] = set
		return set
	}
	for _, name := range names {
		axesOf(name, map[string]bool{})
	}
}

func orInto(dst, src []bool) {
	for i, b := range src {
		if b {
			dst[i] = true
		}
	}
}

// axesIn returns the axes the ${...} references of y depend on, reporting unknown names.
func (ex *expander) axesIn(file string, y *yaml.Node, node string) []bool {
	set := make([]bool, len(ex.st.axes))
	for _, r := range refsIn(file, y, node, ex.errs) {
		if i := ex.axisIndex(r.name); i >= 0 {
			set[i] = true
		} else if s, ok := ex.varAxes[r.name]; ok {
			orInto(set, s)
		} else {
			names := append(varNames(ex.st), axisNames(ex.st)...)
			ex.errs.Add(yamlPos(file, r.at), node, "unknown var %q%s", r.name, hint(r.name, names))
		}
	}
	return set
}

// directAxes computes the axes a node mentions in its kind, params and inputs.
func (ex *expander) directAxes(b *bnode) {
	rn := b.raw
	b.direct = make([]bool, len(ex.st.axes))
	orInto(b.direct, ex.axesIn(rn.file, rn.kind, rn.name))
	orInto(b.direct, ex.axesIn(rn.file, rn.params, rn.name))
	for _, in := range rn.inputs {
		orInto(b.direct, ex.axesIn(rn.file, in.val, rn.name))
	}
}

// cellCount is the number of cells over the axes in set (capped past maxInstances).
func (ex *expander) cellCount(set []bool) int {
	n := 1
	for i, on := range set {
		if on {
			n *= len(ex.st.axes[i].Values)
			if n > maxInstances {
				return maxInstances + 1
			}
		}
	}
	return n
}

// cells lists every cell over the axes in set, in matrix order (first axis outermost).
func (ex *expander) cells(set []bool) [][]int {
	var idx []int
	for i, on := range set {
		if on {
			idx = append(idx, i)
		}
	}
	out := [][]int{{}}
	for _, ai := range idx {
		var next [][]int
		for _, c := range out {
			for vi := range ex.st.axes[ai].Values {
				cc := append(append([]int{}, c...), vi)
				next = append(next, cc)
			}
		}
		out = next
	}
	// Turn per-axis value indices into full-width cells (-1 where unset).
	full := make([][]int, len(out))
	for k, c := range out {
		f := make([]int, len(ex.st.axes))
		for i := range f {
			f[i] = -1
		}
		for j, ai := range idx {
			f[ai] = c[j]
		}
		full[k] = f
	}
	return full
}

// cellEnv turns a full-width cell into the interpolation environment.
func (ex *expander) cellEnv(cell []int) map[string]cellValue {
	env := map[string]cellValue{}
	for i, vi := range cell {
		if vi >= 0 {
			a := ex.st.axes[i]
			env[a.Name] = cellValue{node: a.nodes[vi], file: a.file}
		}
	}
	return env
}

// refItem is one evaluated reference of an input slot.
type refItem struct {
	ref  string
	pos  Pos
	list bool
	idx  int
}

// evalInput interpolates one input slot in env and lists its references.
func (ex *expander) evalInput(rn *rawNode, in rawInput, in2 *interp) ([]refItem, bool) {
	v := in2.eval(in.val, rn.file)
	if v == nil {
		return nil, false
	}
	posOf := func(y *yaml.Node) Pos { return yamlPos(in2.fileOf(y), y) }
	bad := func(y *yaml.Node) {
		ex.errs.Add(posOf(y), rn.name, "input %q must be a node reference or a list of them, got %s", in.slot, describe(y))
	}
	switch v.Kind {
	case yaml.ScalarNode:
		if isNull(v) {
			bad(v)
			return nil, false
		}
		return []refItem{{ref: v.Value, pos: posOf(v)}}, true
	case yaml.SequenceNode:
		var out []refItem
		ok := true
		for _, it := range v.Content {
			items := []*yaml.Node{it}
			if it.Kind == yaml.SequenceNode { // a list var inside a list: splice it
				items = it.Content
			}
			for _, x := range items {
				if x.Kind != yaml.ScalarNode || isNull(x) {
					bad(x)
					ok = false
					continue
				}
				out = append(out, refItem{ref: x.Value, pos: posOf(x), list: true, idx: len(out)})
			}
		}
		if len(out) == 0 && ok {
			return nil, true
		}
		return out, ok
	}
	bad(v)
	return nil, false
}

// splitRef splits "node.output" at the first ".".
func splitRef(ref string) (base, output string) {
	base, output, _ = strings.Cut(ref, ".")
	return base, output
}

// baseNames lists the node names, for did-you-mean.
func (ex *expander) baseNames() []string {
	out := make([]string, 0, len(ex.order))
	for _, b := range ex.order {
		out = append(out, b.raw.name)
	}
	sort.Strings(out)
	return out
}

// checkRef reports a reference to no node and returns the referenced base.
func (ex *expander) checkRef(rn *rawNode, slot string, it refItem) (*bnode, bool) {
	base, _ := splitRef(it.ref)
	if base == "" {
		ex.errs.Add(it.pos, rn.name, "input %q: empty node reference %q", slot, it.ref)
		return nil, false
	}
	up, ok := ex.bases[base]
	if !ok {
		ex.errs.Add(it.pos, rn.name, "input %q refers to unknown node %q%s", slot, base, hint(base, ex.baseNames()))
		return nil, false
	}
	return up, true
}

// upstream evaluates every input of b under every combination of the axes it mentions
// and records the upstream nodes it can reach.
func (ex *expander) upstream(b *bnode) {
	rn := b.raw
	seen := map[string]bool{}
	for _, in := range rn.inputs {
		set := ex.axesIn(rn.file, in.val, rn.name)
		if ex.cellCount(set) > maxInstances {
			ex.errs.Add(in.pos, rn.name, "input %q: the matrix gives more than %d references", in.slot, maxInstances)
			continue
		}
		if ex.evals += ex.cellCount(set); ex.evals > maxInstances {
			ex.errs.Add(in.pos, rn.name, "the matrix needs more than %d evaluations of inputs", maxInstances)
			return
		}
		for _, cell := range ex.cells(set) {
			ip := newInterp(ex.st, &ex.meter, ex.cellEnv(cell), rn.name, rn.file, ex.errs)
			items, _ := ex.evalInput(rn, in, ip)
			for _, it := range items {
				up, ok := ex.checkRef(rn, in.slot, it)
				if !ok || seen[up.raw.name] {
					continue
				}
				seen[up.raw.name] = true
				b.ups = append(b.ups, upEdge{base: up.raw.name, slot: in.slot, pos: it.pos})
			}
		}
	}
}

// visit walks the graph depth-first, reporting cycles and computing full axes.
func (ex *expander) visit(b *bnode, stack []*bnode) {
	if b.color != 0 {
		return
	}
	b.color = 1
	stack = append(stack, b)
	b.full = append([]bool{}, b.direct...)
	for _, e := range b.ups {
		up := ex.bases[e.base]
		switch up.color {
		case 0:
			ex.visit(up, stack)
		case 1:
			var chain []string
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i] == up {
					for _, s := range stack[i:] {
						chain = append(chain, s.raw.name)
					}
					break
				}
			}
			chain = append(chain, up.raw.name)
			ex.errs.Add(e.pos, b.raw.name, "dependency cycle: %s", strings.Join(chain, " -> "))
			continue
		}
		if up.full != nil {
			orInto(b.full, up.full)
		}
	}
	b.color = 2
}

// instanceName is base plus the cell's axis values in matrix order, e.g.
// "train[seed=1,gen=vae]". A value that could make two cells' names alike
// (one holding ",", "=", "[", "]", a double quote or a backslash) or that
// is not printable is written as a Go-quoted string: `train[gen="a,b"]`.
// Base and axis names are identifiers, so names are unambiguous.
func (ex *expander) instanceName(base string, cell []int, set []bool) (string, []AxisValue) {
	var av []AxisValue
	for i, on := range set {
		if on && cell[i] >= 0 {
			a := ex.st.axes[i]
			av = append(av, AxisValue{Axis: a.Name, Value: a.Values[cell[i]]})
		}
	}
	if len(av) == 0 {
		return base, nil
	}
	parts := make([]string, len(av))
	for i, x := range av {
		parts[i] = x.Axis + "=" + nameValue(x.Value)
	}
	return fmt.Sprintf("%s[%s]", base, strings.Join(parts, ",")), av
}

// nameValue is an axis value as instanceName writes it: as is, or quoted
// when it holds a character that separates or quotes, or one that is not
// printable.
func nameValue(v string) string {
	if strings.ContainsAny(v, `,=[]"\`) || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

// instances builds one Node per cell of b's full axes.
func (ex *expander) instances(b *bnode) []*Node {
	rn := b.raw
	var out []*Node
	for _, cell := range ex.cells(b.full) {
		ip := newInterp(ex.st, &ex.meter, ex.cellEnv(cell), rn.name, rn.file, ex.errs)
		name, av := ex.instanceName(rn.name, cell, b.full)
		n := &Node{
			Name:        name,
			Base:        rn.name,
			Cell:        av,
			Pos:         rn.pos,
			Dir:         rn.dir,
			Description: rn.description,
			ParamsPos:   rn.paramsPos,
			Resources:   rn.resources,
			Partition:   rn.partition,
			Retries:     rn.retries,
		}
		if rn.kind != nil {
			k := ip.eval(rn.kind, rn.file)
			switch {
			case k == nil:
			case k.Kind != yaml.ScalarNode || isNull(k):
				ex.errs.Add(yamlPos(rn.file, rn.kind), rn.name, "kind must be a string, got %s", describe(k))
			case k.Value == "":
				ex.errs.Add(yamlPos(rn.file, rn.kind), rn.name, "kind is empty")
			default:
				n.Kind, n.KindPos = k.Value, yamlPos(rn.file, rn.kind)
			}
		}
		if rn.params != nil {
			p := ip.eval(rn.params, rn.file)
			switch {
			case p == nil || isNull(p):
			case p.Kind != yaml.MappingNode:
				ex.errs.Add(rn.paramsPos, rn.name, "params must be a mapping, got %s", describe(p))
			default:
				n.Params = p
			}
		}
		for _, in := range rn.inputs {
			items, _ := ex.evalInput(rn, in, ip)
			for _, it := range items {
				up, ok := ex.checkRef(rn, in.slot, it)
				if !ok {
					continue
				}
				upName, _ := ex.instanceName(up.raw.name, cell, up.full)
				_, output := splitRef(it.ref)
				n.Inputs = append(n.Inputs, Input{Slot: in.slot, Index: it.idx, List: it.list,
					Ref: it.ref, Node: upName, Output: output, Pos: it.pos})
			}
		}
		sort.SliceStable(n.Inputs, func(i, j int) bool {
			if n.Inputs[i].Slot != n.Inputs[j].Slot {
				return n.Inputs[i].Slot < n.Inputs[j].Slot
			}
			return n.Inputs[i].Index < n.Inputs[j].Index
		})
		if n.Resources != nil {
			n.Resources = cloneResources(n.Resources)
		}
		n.files = ip.files
		out = append(out, n)
	}
	return out
}

func cloneResources(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
