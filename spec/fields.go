package spec

// This file holds the decoders of scalar fields shared by the section
// parsers.

import (
	"gopkg.in/yaml.v3"
)

// str returns v's text when v is a non-null scalar.
func (ld *loader) str(file string, v *yaml.Node, what, node string) (string, bool) {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		ld.errs.Add(yamlPos(file, v), node, "%s must be a string, got %s", what, describe(v))
		return "", false
	}
	return v.Value, true
}

// strList returns v's items when v is a sequence of non-null scalars.
func (ld *loader) strList(file string, v *yaml.Node, what, node string) ([]string, bool) {
	if v.Kind != yaml.SequenceNode {
		ld.errs.Add(yamlPos(file, v), node, "%s must be a list of strings, got %s", what, describe(v))
		return nil, false
	}
	out := make([]string, 0, len(v.Content))
	ok := true
	for _, it := range v.Content {
		s, good := ld.str(file, it, what+" item", node)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// checkName reports a name (at key k) that does not match nameRE.
func (ld *loader) checkName(file string, k *yaml.Node, what, node string) bool {
	if nameRE.MatchString(k.Value) {
		return true
	}
	ld.errs.Add(yamlPos(file, k), node, "invalid %s name %q: names must match %s", what, k.Value, nameSyntax)
	return false
}

// smallInt decodes a non-negative int that fits in 32 bits.
func (ld *loader) smallInt(file, node, what string, v *yaml.Node) (int, bool) {
	var n int64
	if v.Kind != yaml.ScalarNode {
		ld.errs.Add(yamlPos(file, v), node, "%s must be a non-negative int, got %s", what, describe(v))
		return 0, false
	}
	if v.ShortTag() != "!!int" || v.Decode(&n) != nil || n < 0 || n > 1<<31-1 {
		ld.errs.Add(yamlPos(file, v), node, "%s must be a non-negative int, got %s %q", what, describe(v), v.Value)
		return 0, false
	}
	return int(n), true
}
