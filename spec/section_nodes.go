package spec

// This file holds the parser of the nodes section.

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// nodes decodes `nodes:` and appends them to st, reporting duplicates.
func (ld *loader) nodes(st *state, file, dir string, v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), "", "nodes must be a mapping of name to node, got %s", describe(v))
		return
	}
	for _, p := range pairs(file, v, "", &ld.errs) {
		rn := ld.node(file, dir, p.key, p.val)
		if prev, ok := st.byName[rn.name]; ok {
			ld.errs.Add(rn.pos, rn.name, "already defined (first defined at %s)", prev.pos)
			continue
		}
		st.byName[rn.name] = rn
		st.nodes = append(st.nodes, rn)
	}
}

// node decodes one node; it always returns one, so that later references to a broken
// node do not cause further errors.
func (ld *loader) node(file, dir string, k, v *yaml.Node) *rawNode {
	name := k.Value
	rn := &rawNode{name: name, pos: yamlPos(file, k), file: file, dir: dir, paramsPos: yamlPos(file, k)}
	ld.checkName(file, k, "node", "")
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), name, "node must be a mapping with a %q, got %s", "kind", describe(v))
		return rn
	}
	known := []string{"kind", "description", "inputs", "params", "resources", "retries"}
	for _, p := range pairs(file, v, name, &ld.errs) {
		fk, fv := p.key, p.val
		switch fk.Value {
		case "kind":
			if fv.Kind != yaml.ScalarNode || isNull(fv) {
				ld.errs.Add(yamlPos(file, fv), name, "kind must be a string, got %s", describe(fv))
			}
			rn.kind = fv
		case "description":
			if s, ok := ld.str(file, fv, "description", name); ok {
				rn.description = s
			}
		case "inputs":
			rn.inputs = ld.inputs(file, name, fv)
		case "params":
			rn.paramsPos = yamlPos(file, fv)
			switch {
			case isNull(fv):
			case fv.Kind == yaml.MappingNode:
				rn.params = fv
			case fv.Kind == yaml.ScalarNode && strings.Contains(fv.Value, "${"):
				rn.params = fv // a var holding a mapping; checked after interpolation
			default:
				ld.errs.Add(yamlPos(file, fv), name, "params must be a mapping, got %s", describe(fv))
			}
		case "resources":
			rn.resources, rn.partition = ld.resources(file, name, fv)
		case "retries":
			if n, ok := ld.smallInt(file, name, "retries", fv); ok {
				rn.retries = n
			}
		default:
			ld.errs.Add(yamlPos(file, fk), name, "unknown field %q%s", fk.Value, hint(fk.Value, known))
		}
	}
	if rn.kind == nil {
		ld.errs.Add(rn.pos, name, "missing %q", "kind")
	}
	return rn
}

// inputs decodes a node's `inputs:` mapping of slot to a reference or a list of them.
func (ld *loader) inputs(file, node string, v *yaml.Node) []rawInput {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), node, "inputs must be a mapping of slot to node, got %s", describe(v))
		return nil
	}
	var out []rawInput
	for _, p := range pairs(file, v, node, &ld.errs) {
		if !ld.checkName(file, p.key, "input slot", node) {
			continue
		}
		ok := true
		switch p.val.Kind {
		case yaml.ScalarNode:
			ok = !isNull(p.val)
		case yaml.SequenceNode:
			for _, it := range p.val.Content {
				if it.Kind != yaml.ScalarNode || isNull(it) {
					ld.errs.Add(yamlPos(file, it), node, "input %q: list items must be node references, got %s", p.key.Value, describe(it))
				}
			}
		default:
			ok = false
		}
		if !ok {
			ld.errs.Add(yamlPos(file, p.val), node, "input %q must be a node reference or a list of them, got %s", p.key.Value, describe(p.val))
			continue
		}
		out = append(out, rawInput{slot: p.key.Value, pos: yamlPos(file, p.key), val: p.val})
	}
	return out
}

// resources decodes a mapping of resource name to a non-negative int, and
// the one string resource, `partition` (where a cluster executor sends the
// node).
func (ld *loader) resources(file, node string, v *yaml.Node) (map[string]int, string) {
	if isNull(v) {
		return nil, ""
	}
	if v.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(file, v), node, "resources must be a mapping of name to amount, got %s", describe(v))
		return nil, ""
	}
	out := map[string]int{}
	partition := ""
	for _, p := range pairs(file, v, node, &ld.errs) {
		if !ld.checkName(file, p.key, "resource", node) {
			continue
		}
		if p.key.Value == "partition" {
			if p.val.Kind != yaml.ScalarNode || p.val.ShortTag() != "!!str" || p.val.Value == "" {
				ld.errs.Add(yamlPos(file, p.val), node, "resource \"partition\" must be a partition name, got %s", describe(p.val))
				continue
			}
			partition = p.val.Value
			continue
		}
		if n, ok := ld.smallInt(file, node, fmt.Sprintf("resource %q", p.key.Value), p.val); ok {
			out[p.key.Value] = n
		}
	}
	return out, partition
}
