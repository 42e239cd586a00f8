package spec

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

func sortStrings(s []string) { sort.Strings(s) }

// applyProfile checks every profile against the merged vars and axes and applies the
// one named (if any).
func (ld *loader) applyProfile(st *state, path, name string) {
	for _, pn := range st.profileNames() {
		pr := st.profiles[pn]
		for _, v := range pr.vars {
			if _, ok := st.vars[v.name]; !ok {
				ld.errs.Add(v.pos, "", "profile %q sets unknown var %q%s", pr.name, v.name, hint(v.name, varNames(st)))
			}
		}
		for _, a := range pr.matrix {
			if st.axis(a.Name) == nil {
				ld.errs.Add(a.Pos, "", "profile %q sets unknown matrix axis %q%s", pr.name, a.Name, hint(a.Name, axisNames(st)))
			}
		}
	}
	if name == "" {
		return
	}
	pr, ok := st.profiles[name]
	if !ok {
		known := st.profileNames()
		if len(known) == 0 {
			ld.errs.Add(Pos{File: path}, "", "unknown profile %q: the spec defines no profiles", name)
			return
		}
		ld.errs.Add(Pos{File: path}, "", "unknown profile %q%s; known profiles: %s", name, hint(name, known), strings.Join(known, ", "))
		return
	}
	for _, v := range pr.vars {
		if _, ok := st.vars[v.name]; ok {
			st.vars[v.name] = v
		}
	}
	for _, a := range pr.matrix {
		if old := st.axis(a.Name); old != nil {
			old.Values, old.nodes, old.file = a.Values, a.nodes, a.file
		}
	}
}

// applySet applies --set overrides in name order.
func (ld *loader) applySet(st *state, path string, set map[string]string) {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	at := Pos{File: path}
	for _, name := range names {
		value := set[name]
		arg := name + "=" + value
		var verrs ErrorList
		v := parseYAML(setFile, []byte(value), &verrs)
		if len(verrs) > 0 {
			ld.errs.Add(at, "", "--set %q: invalid value: %s", arg, verrs[0].Msg)
			continue
		}
		if v == nil {
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		}
		if _, ok := st.vars[name]; ok {
			st.vars[name] = &varDef{name: name, node: v, file: setFile, pos: Pos{File: setFile}}
			continue
		}
		if a := st.axis(name); a != nil {
			seq := v
			if v.Kind != yaml.SequenceNode {
				seq = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{v}}
			}
			sub := &loader{}
			na := sub.axisValues(setFile, name, Pos{File: setFile}, seq)
			if na == nil || len(sub.errs) > 0 {
				ld.errs.Add(at, "", "--set %q: %s", arg, sub.errs[0].Msg)
				continue
			}
			a.Values, a.nodes, a.file = na.Values, na.nodes, setFile
			continue
		}
		ld.errs.Add(at, "", "--set %q: unknown var or matrix axis %q%s", arg, name,
			hint(name, append(varNames(st), axisNames(st)...)))
	}
}

func varNames(st *state) []string {
	out := make([]string, 0, len(st.vars))
	for n := range st.vars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func axisNames(st *state) []string {
	out := make([]string, 0, len(st.axes))
	for _, a := range st.axes {
		out = append(out, a.Name)
	}
	return out
}
