package spec

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	// interpBudget bounds the YAML nodes interpolation produces for a whole spec.
	interpBudget = 2_000_000
	// maxStringLen bounds the length of one interpolated string.
	maxStringLen = 1 << 20
	// maxVarDepth bounds how deeply vars may refer to other vars.
	maxVarDepth = 64
)

// segment is a piece of a scalar: literal text or a ${name} reference.
type segment struct {
	text  string
	isRef bool
}

// splitRefs splits s into literal text and ${name} references; "$${" is a literal "${".
// It returns a message when a reference is malformed.
func splitRefs(s string) ([]segment, string) {
	var segs []segment
	var lit strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, fmt.Sprintf("unterminated %q in %q; write %q for a literal %q", "${", clip(s), "$${", "${")
			}
			name := s[i+2 : i+2+end]
			if !nameRE.MatchString(name) {
				return nil, fmt.Sprintf("invalid reference %q: names must match %s; write %q for a literal %q",
					clip("${"+name+"}"), nameSyntax, "$${", "${")
			}
			if lit.Len() > 0 {
				segs = append(segs, segment{text: lit.String()})
				lit.Reset()
			}
			segs = append(segs, segment{text: name, isRef: true})
			i += 2 + end + 1
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{text: lit.String()})
	}
	return segs, ""
}

// clip shortens s for messages.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// mayInterpolate reports whether a scalar needs splitRefs at all.
func mayInterpolate(y *yaml.Node) bool {
	return y.Kind == yaml.ScalarNode && strings.Contains(y.Value, "${")
}

// refUse is one ${name} found in a YAML tree.
type refUse struct {
	name string
	at   *yaml.Node
}

// refsIn lists the ${name} references in the scalars of y (not in mapping keys),
// reporting malformed ones at their scalar.
func refsIn(file string, y *yaml.Node, node string, errs *ErrorList) []refUse {
	var out []refUse
	var walk func(y *yaml.Node)
	walk = func(y *yaml.Node) {
		if y == nil {
			return
		}
		switch y.Kind {
		case yaml.ScalarNode:
			if !mayInterpolate(y) {
				return
			}
			segs, bad := splitRefs(y.Value)
			if bad != "" {
				errs.Add(yamlPos(file, y), node, "%s", bad)
				return
			}
			for _, s := range segs {
				if s.isRef {
					out = append(out, refUse{s.text, y})
				}
			}
		case yaml.MappingNode:
			for i := 1; i < len(y.Content); i += 2 {
				walk(y.Content[i])
			}
		default:
			for _, c := range y.Content {
				walk(c)
			}
		}
	}
	walk(y)
	return out
}

// cellValue is the value of one axis in the cell being interpolated.
type cellValue struct {
	node *yaml.Node
	file string
}

// interp interpolates YAML trees for one cell. It copies every node it returns and
// records in files the file of each copy written elsewhere than home.
type interp struct {
	st    *state
	cell  map[string]cellValue
	errs  *ErrorList
	node  string // node name for errors; "" while resolving a var
	home  string // the file of the node being interpolated
	files map[*yaml.Node]string
	memo  map[string]*yaml.Node
	stack []string
	meter *meter
}

// meter counts the YAML nodes produced by all interpolations of one spec.
type meter struct {
	n    int
	over bool
}

func newInterp(st *state, m *meter, cell map[string]cellValue, node, home string, errs *ErrorList) *interp {
	return &interp{st: st, meter: m, cell: cell, node: node, home: home, errs: errs}
}

// setFile records that copy c was written in file.
func (in *interp) setFile(c *yaml.Node, file string) {
	if file == in.home {
		return
	}
	if in.files == nil {
		in.files = map[*yaml.Node]string{}
	}
	in.files[c] = file
}

// fileOf returns the file a node produced by in was written in.
func (in *interp) fileOf(y *yaml.Node) string {
	if f, ok := in.files[y]; ok {
		return f
	}
	return in.home
}

// spend counts one produced node and reports whether the budget still holds.
func (in *interp) spend(file string, at *yaml.Node) bool {
	in.meter.n++
	if in.meter.n > interpBudget {
		if !in.meter.over {
			in.errs.Add(yamlPos(file, at), in.node, "interpolation expands the spec to more than %d YAML nodes", interpBudget)
			in.meter.over = true
		}
		return false
	}
	return true
}

// names lists every var and axis name, for did-you-mean.
func (in *interp) names() []string {
	var out []string
	for n := range in.st.vars {
		out = append(out, n)
	}
	for _, a := range in.st.axes {
		out = append(out, a.Name)
	}
	sort.Strings(out)
	return out
}

// copyTracked copies a tree produced by this interp, keeping the file of every node.
func (in *interp) copyTracked(y *yaml.Node) *yaml.Node {
	file := in.fileOf(y)
	if y == nil || !in.spend(file, y) {
		return nil
	}
	c := *y
	if y.Content != nil {
		c.Content = make([]*yaml.Node, 0, len(y.Content))
		for _, k := range y.Content {
			kc := in.copyTracked(k)
			if kc == nil {
				return nil
			}
			c.Content = append(c.Content, kc)
		}
	}
	in.setFile(&c, file)
	return &c
}

// copyFrom copies a tree written in file (mapping keys, which are not interpolated).
func (in *interp) copyFrom(y *yaml.Node, file string) *yaml.Node {
	if y == nil || !in.spend(file, y) {
		return nil
	}
	c := *y
	if y.Content != nil {
		c.Content = make([]*yaml.Node, 0, len(y.Content))
		for _, k := range y.Content {
			kc := in.copyFrom(k, file)
			if kc == nil {
				return nil
			}
			c.Content = append(c.Content, kc)
		}
	}
	in.setFile(&c, file)
	return &c
}

// eval returns an interpolated copy of y, written in file. It returns nil only when the
// budget is exhausted.
func (in *interp) eval(y *yaml.Node, file string) *yaml.Node {
	if y == nil || !in.spend(file, y) {
		return nil
	}
	c := *y
	switch y.Kind {
	case yaml.ScalarNode:
		if mayInterpolate(y) {
			return in.scalar(y, file)
		}
	case yaml.MappingNode:
		c.Content = make([]*yaml.Node, 0, len(y.Content))
		for i := 0; i+1 < len(y.Content); i += 2 {
			k := in.copyFrom(y.Content[i], file)
			v := in.eval(y.Content[i+1], file)
			if k == nil || v == nil {
				return nil
			}
			c.Content = append(c.Content, k, v)
		}
	default:
		c.Content = make([]*yaml.Node, 0, len(y.Content))
		for _, k := range y.Content {
			v := in.eval(k, file)
			if v == nil {
				return nil
			}
			c.Content = append(c.Content, v)
		}
	}
	in.setFile(&c, file)
	return &c
}

// scalar interpolates one scalar that contains "${".
func (in *interp) scalar(y *yaml.Node, file string) *yaml.Node {
	keep := func() *yaml.Node {
		c := *y
		in.setFile(&c, file)
		return &c
	}
	segs, bad := splitRefs(y.Value)
	if bad != "" {
		in.errs.Add(yamlPos(file, y), in.node, "%s", bad)
		return keep()
	}
	if len(segs) == 1 && segs[0].isRef {
		v := in.lookup(segs[0].text, y, file)
		if v == nil {
			return keep()
		}
		return in.copyTracked(v)
	}
	var b strings.Builder
	for _, s := range segs {
		if !s.isRef {
			b.WriteString(s.text)
			continue
		}
		v := in.lookup(s.text, y, file)
		if v == nil {
			return keep()
		}
		if v.Kind != yaml.ScalarNode {
			in.errs.Add(yamlPos(file, y), in.node, "%q is a %s; only a scalar can be part of a longer string", s.text, describe(v))
			return keep()
		}
		b.WriteString(v.Value)
		if b.Len() > maxStringLen {
			in.errs.Add(yamlPos(file, y), in.node, "interpolated string is longer than %d bytes", maxStringLen)
			return keep()
		}
	}
	c := *y
	c.Value = b.String()
	c.Tag = "!!str"
	in.setFile(&c, file)
	return &c
}

// lookup resolves a ${name} at scalar y (written in file) to a tree owned by in, or nil
// after reporting why not.
func (in *interp) lookup(name string, y *yaml.Node, file string) *yaml.Node {
	if cv, ok := in.cell[name]; ok {
		c := *cv.node
		in.setFile(&c, cv.file)
		return &c
	}
	if in.st.axis(name) != nil {
		in.errs.Add(yamlPos(file, y), in.node, "matrix axis %q cannot be used here", name)
		return nil
	}
	def, ok := in.st.vars[name]
	if !ok {
		in.errs.Add(yamlPos(file, y), in.node, "unknown var %q%s", name, hint(name, in.names()))
		return nil
	}
	if r, ok := in.memo[name]; ok {
		return r
	}
	if i := indexOf(in.stack, name); i >= 0 {
		chain := append(append([]string{}, in.stack[i:]...), name)
		in.errs.Add(def.pos, "", "var cycle: %s", strings.Join(chain, " -> "))
		return nil
	}
	if len(in.stack) >= maxVarDepth {
		in.errs.Add(def.pos, "", "vars refer to vars more than %d deep", maxVarDepth)
		return nil
	}
	in.stack = append(in.stack, name)
	saved := in.node
	in.node = ""
	r := in.eval(def.node, def.file)
	in.node = saved
	in.stack = in.stack[:len(in.stack)-1]
	if r != nil {
		if in.memo == nil {
			in.memo = map[string]*yaml.Node{}
		}
		in.memo[name] = r
	}
	return r
}
