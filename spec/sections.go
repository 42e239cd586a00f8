package spec

// This file holds the parsers of the vars, matrix and profiles sections.

import (
	"gopkg.in/yaml.v3"
)

// vars decodes a `vars:` mapping.
func (ld *loader) vars(file string, v *yaml.Node) []*varDef {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), "", "vars must be a mapping, got %s", describe(v))
		return nil
	}
	var out []*varDef
	for _, p := range pairs(file, v, "", &ld.errs) {
		if !ld.checkName(file, p.key, "var", "") {
			continue
		}
		out = append(out, &varDef{name: p.key.Value, node: p.val, file: file, pos: yamlPos(file, p.key)})
	}
	return out
}

// matrix decodes a `matrix:` mapping of axis name to a list of scalar values.
func (ld *loader) matrix(file string, v *yaml.Node) []*Axis {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), "", "matrix must be a mapping of axis to values, got %s", describe(v))
		return nil
	}
	var out []*Axis
	for _, p := range pairs(file, v, "", &ld.errs) {
		if !ld.checkName(file, p.key, "axis", "") {
			continue
		}
		if a := ld.axisValues(file, p.key.Value, yamlPos(file, p.key), p.val); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// axisValues decodes the values of one axis: a non-empty list of distinct scalars.
func (ld *loader) axisValues(file, name string, pos Pos, v *yaml.Node) *Axis {
	if v.Kind != yaml.SequenceNode {
		ld.errs.Add(yamlPos(file, v), "", "matrix axis %q must be a list of values, got %s", name, describe(v))
		return nil
	}
	if len(v.Content) == 0 {
		ld.errs.Add(yamlPos(file, v), "", "matrix axis %q has no values", name)
		return nil
	}
	a := &Axis{Name: name, Pos: pos, file: file}
	seen := map[string]bool{}
	for _, it := range v.Content {
		if it.Kind != yaml.ScalarNode || isNull(it) {
			ld.errs.Add(yamlPos(file, it), "", "matrix axis %q: values must be scalars, got %s", name, describe(it))
			return nil
		}
		if seen[it.Value] {
			ld.errs.Add(yamlPos(file, it), "", "matrix axis %q: value %q appears twice", name, it.Value)
			return nil
		}
		seen[it.Value] = true
		a.Values = append(a.Values, it.Value)
		a.nodes = append(a.nodes, it)
	}
	return a
}

// profiles decodes `profiles:`, a mapping of name to {vars, matrix, description}.
func (ld *loader) profiles(st *state, file string, v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), "", "profiles must be a mapping, got %s", describe(v))
		return
	}
	for _, p := range pairs(file, v, "", &ld.errs) {
		if !ld.checkName(file, p.key, "profile", "") {
			continue
		}
		pr := &rawProfile{name: p.key.Value, pos: yamlPos(file, p.key), file: file}
		st.profiles[pr.name] = pr
		if isNull(p.val) {
			continue
		}
		if p.val.Kind != yaml.MappingNode {
			ld.errs.Add(yamlPos(file, p.val), "", "profile %q must be a mapping, got %s", pr.name, describe(p.val))
			continue
		}
		for _, f := range pairs(file, p.val, "", &ld.errs) {
			switch f.key.Value {
			case "vars":
				pr.vars = ld.vars(file, f.val)
			case "matrix":
				pr.matrix = ld.matrix(file, f.val)
			case "description":
				ld.str(file, f.val, "description", "")
			default:
				ld.errs.Add(yamlPos(file, f.key), "", "profile %q: unknown field %q%s", pr.name, f.key.Value,
					hint(f.key.Value, []string{"vars", "matrix", "description"}))
			}
		}
	}
}
