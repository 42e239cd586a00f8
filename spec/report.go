package spec

// This file holds the parser of the report section, which is checked
// against the expanded nodes.

import (
	"strings"

	"gopkg.in/yaml.v3"
)

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
	known := []string{"node", "rows", "over", "metrics", "baseline", "description"}
	type axisUse struct {
		name string
		pos  Pos
		what string
	}
	var uses []axisUse
	axesField := func(what string, y *yaml.Node) []string {
		list, _ := ld.strList(file, y, "report "+what, "")
		for i, s := range list {
			if i < len(y.Content) {
				uses = append(uses, axisUse{s, yamlPos(file, y.Content[i]), what})
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
			r.Metrics, _ = ld.strList(file, p.val, "report metrics", "")
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
	*ex.errs = append(*ex.errs, ld.errs...)
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
	return r
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
