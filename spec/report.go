package spec

// This file holds the parser of the report section, which is checked
// against the expanded nodes.

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// reportAxisUse is one axis named by the report's rows or over, kept for the checks
// made once the nodes are known.
type reportAxisUse struct {
	name string
	pos  Pos
	what string
}

// report decodes and checks the root file's `report:`.
func (ex *expander) report(file string, v *yaml.Node) *Report {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		ex.errs.Add(yamlPos(file, v), "", "report must be a mapping, got %s", describe(v))
		return nil
	}
	ld := &loader{}
	r := &Report{Pos: yamlPos(file, v)}
	var nodePos, baselinePos Pos
	var metrics *yaml.Node
	known := []string{"node", "rows", "over", "metrics", "baseline", "description"}
	var uses []reportAxisUse
	axesField := func(what string, y *yaml.Node) []string {
		list, _ := ld.strList(file, y, "report "+what, "")
		for i, s := range list {
			if i < len(y.Content) {
				uses = append(uses, reportAxisUse{s, yamlPos(file, y.Content[i]), what})
			}
		}
		return list
	}
	for _, p := range pairs(file, v, "", ex.errs) {
		switch p.key.Value {
		case "node":
			if s, ok := ld.str(file, p.val, "report node", ""); ok {
				r.Node, nodePos = s, yamlPos(file, p.val)
			}
		case "rows":
			r.Rows = axesField("rows", p.val)
		case "over":
			r.Over = axesField("over", p.val)
		case "metrics":
			metrics = p.val
		case "baseline":
			if s, ok := ld.str(file, p.val, "report baseline", ""); ok {
				r.Baseline, baselinePos = s, yamlPos(file, p.val)
			}
		case "description":
			ld.str(file, p.val, "description", "")
		default:
			ex.errs.Add(yamlPos(file, p.key), "", "report: unknown field %q%s", p.key.Value, hint(p.key.Value, known))
		}
	}
	var srcs []reportSourceDef
	if metrics != nil {
		srcs = ld.reportMetrics(file, metrics, r.Node, nodePos)
	}
	*ex.errs = append(*ex.errs, ld.errs...)
	// Columns, and which source each is read from, in the order written.
	for si, s := range srcs {
		for _, m := range s.metrics {
			r.Metrics = append(r.Metrics, m)
			r.From = append(r.From, si)
		}
		r.Sources = append(r.Sources, ReportSource{Ref: s.ref.Value, Pos: yamlPos(file, s.ref)})
	}
	if r.Baseline != "" {
		ex.baseline(baselinePos, r)
	}
	if r.Node == "" {
		if nodePos == (Pos{}) {
			ex.errs.Add(r.Pos, "", "report: missing %q", "node")
		}
		return r
	}
	b, ok := ex.bases[r.Node]
	if !ok {
		ex.errs.Add(nodePos, "", "report: unknown node %q%s", r.Node, hint(r.Node, ex.baseNames()))
	}
	seen := map[string]string{}
	for _, u := range uses {
		i := ex.axisIndex(u.name)
		switch {
		case i < 0:
			ex.errs.Add(u.pos, "", "report %s: unknown matrix axis %q%s", u.what, u.name, hint(u.name, axisNames(ex.st)))
		case seen[u.name] != "":
			ex.errs.Add(u.pos, "", "report %s: axis %q is already in %s", u.what, u.name, seen[u.name])
		case ok && b.full != nil && !b.full[i]:
			ex.errs.Add(u.pos, "", "report %s: node %q does not vary over axis %q", u.what, r.Node, u.name)
		}
		if seen[u.name] == "" {
			seen[u.name] = u.what
		}
	}
	if ok && b.full != nil {
		for si, s := range srcs {
			r.Sources[si].Instances = ex.reportSource(file, r, b, s, uses)
		}
	}
	return r
}

// reportSourceDef is one node of `metrics:` as written: the report node itself for the
// list form, each key for the mapping form.
type reportSourceDef struct {
	ref     *yaml.Node // the node name (for the list form, the value of `node:`)
	metrics []string
}

// reportMetrics decodes `metrics:`: a list of metric names of the report node, or a
// mapping of node name (${axis} allowed) to a list of metric names. A name may be read
// from only one node, since it names the column.
func (ld *loader) reportMetrics(file string, v *yaml.Node, node string, nodePos Pos) []reportSourceDef {
	var out []reportSourceDef
	from := map[string]string{}
	add := func(ref *yaml.Node, list *yaml.Node) {
		names, _ := ld.strList(file, list, "report metrics", "")
		def := reportSourceDef{ref: ref}
		for i, m := range names {
			at := yamlPos(file, list.Content[i])
			if prev, dup := from[m]; dup {
				if prev == ref.Value {
					ld.errs.Add(at, "", "report metrics: %q is listed twice", m)
				} else {
					ld.errs.Add(at, "", "report metrics: %q is already read from node %q (a metric names its column)", m, prev)
				}
				continue
			}
			from[m] = ref.Value
			def.metrics = append(def.metrics, m)
		}
		out = append(out, def)
	}
	switch v.Kind {
	case yaml.SequenceNode:
		self := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: node, Line: nodePos.Line, Column: nodePos.Col}
		add(self, v)
	case yaml.MappingNode:
		for _, p := range pairs(file, v, "", &ld.errs) {
			if s, ok := ld.str(file, p.key, "report metrics node", ""); ok && s != "" {
				add(p.key, p.val)
			}
		}
	default:
		if !isNull(v) {
			ld.errs.Add(yamlPos(file, v), "", "report metrics must be a list of metric names or a mapping of node to a list of them, got %s", describe(v))
		}
	}
	return out
}

// reportSource resolves one source of report r (report node b) in every cell of b:
// its name is interpolated in the cell, and the instance taken is the one whose axis
// values agree with the cell. That instance is unique only when the source varies over
// no axis b does not vary over, which is checked, as is that the source (or its name)
// varies over every row and over axis: otherwise every row, or every value aggregated,
// would read the same number.
func (ex *expander) reportSource(file string, r *Report, b *bnode, s reportSourceDef, uses []reportAxisUse) map[string]string {
	at := yamlPos(file, s.ref)
	n0 := len(*ex.errs)
	refAxes := ex.axesIn(file, s.ref, "")
	if ex.failed(n0) {
		return nil
	}
	for i, on := range refAxes {
		if on && !b.full[i] {
			ex.errs.Add(at, "", "report metrics: node name %q uses axis %q, over which report node %q does not vary",
				s.ref.Value, ex.st.axes[i].Name, r.Node)
		}
	}
	if ex.failed(n0) {
		return nil
	}
	out := map[string]string{}
	reported := map[string]bool{}
	for _, cell := range ex.cells(b.full) {
		ip := newInterp(ex.st, &ex.meter, ex.cellEnv(cell), "", file, ex.errs)
		y := ip.eval(s.ref, file)
		if y == nil {
			return nil
		}
		if y.Kind != yaml.ScalarNode || isNull(y) {
			ex.errs.Add(at, "", "report metrics: node name %q must be a string, got %s", s.ref.Value, describe(y))
			return nil
		}
		src, ok := ex.bases[y.Value]
		if !ok {
			from := ""
			if y.Value != s.ref.Value {
				from = fmt.Sprintf(" (from %q)", s.ref.Value)
			}
			ex.errs.Add(at, "", "report metrics: unknown node %q%s%s", y.Value, from, hint(y.Value, ex.baseNames()))
			continue
		}
		if src.full == nil {
			continue
		}
		if !reported[y.Value] && src != b {
			reported[y.Value] = true
			ex.checkSourceAxes(at, r, b, src, refAxes, uses)
		}
		name, _ := ex.instanceName(r.Node, cell, b.full)
		out[name], _ = ex.instanceName(src.raw.name, cell, src.full)
	}
	if ex.failed(n0) {
		return nil
	}
	return out
}

// checkSourceAxes reports a source node src whose instances do not match the report
// node b's cells one to one (see reportSource).
func (ex *expander) checkSourceAxes(at Pos, r *Report, b, src *bnode, refAxes []bool, uses []reportAxisUse) {
	for i, on := range src.full {
		if on && !b.full[i] {
			ex.errs.Add(at, "", "report metrics: node %q varies over axis %q, over which report node %q does not: several of its instances fall in one cell",
				src.raw.name, ex.st.axes[i].Name, r.Node)
		}
	}
	for _, u := range uses {
		i := ex.axisIndex(u.name)
		if i < 0 || src.full[i] || refAxes[i] {
			continue
		}
		if u.what == "rows" {
			ex.errs.Add(at, "", "report metrics: node %q does not vary over row axis %q: every row would read the same value",
				src.raw.name, u.name)
		} else {
			ex.errs.Add(at, "", "report metrics: node %q does not vary over axis %q (in over): its one value would be counted once per %s",
				src.raw.name, u.name, u.name)
		}
	}
}

// baseline checks the baseline row label "axis=value[,axis=value...]" against the rows.
func (ex *expander) baseline(pos Pos, r *Report) {
	for _, part := range strings.Split(r.Baseline, ",") {
		axis, _, ok := strings.Cut(part, "=")
		if !ok || axis == "" {
			ex.errs.Add(pos, "", "report baseline %q must be a row label like %q", r.Baseline, "method=none")
			return
		}
		if indexOf(r.Rows, axis) < 0 {
			ex.errs.Add(pos, "", "report baseline: %q is not a row axis%s", axis, hint(axis, r.Rows))
		}
	}
}
