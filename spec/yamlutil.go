package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// aliasBudget bounds the number of YAML nodes alias expansion may produce in one file.
const aliasBudget = 1_000_000

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data into its first document's content node (nil for an empty
// document) with aliases and merge keys expanded. Errors are positioned in file.
func parseYAML(file string, data []byte, errs *ErrorList) *yaml.Node {
	var doc yaml.Node
	if err := safeUnmarshal(data, &doc); err != nil {
		line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
				line, msg = n, m[2]
			}
		}
		errs.Add(Pos{File: file, Line: line, Col: 1}, "", "yaml: %s", msg)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil
	}
	r := &aliasResolver{file: file, errs: errs, active: map[*yaml.Node]bool{}, sizes: map[*yaml.Node]int{}}
	// Count first, copying nothing, so that an alias bomb costs no memory.
	if !r.budget(doc.Content[0]) {
		return nil
	}
	out := r.resolve(doc.Content[0])
	if r.failed {
		return nil
	}
	return out
}

// safeUnmarshal guards against panics inside the YAML library on hostile input.
func safeUnmarshal(data []byte, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return yaml.Unmarshal(data, doc)
}

// aliasResolver copies a YAML tree, replacing aliases with copies of their anchors'
// nodes and expanding merge keys, within aliasBudget nodes.
type aliasResolver struct {
	file   string
	errs   *ErrorList
	count  int
	failed bool
	// active holds the anchored nodes being copied, to catch an alias inside its anchor.
	active map[*yaml.Node]bool
	// sizes memoizes the expanded size of anchored nodes (capped at aliasBudget+1).
	sizes map[*yaml.Node]int
}

// budget walks the tree in document order, counting the nodes alias expansion will
// produce, and reports the first alias that takes the count past aliasBudget.
func (r *aliasResolver) budget(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		s, ok := r.size(n)
		if !ok {
			return false
		}
		r.count += s
		if r.count > aliasBudget {
			r.errs.Add(yamlPos(r.file, n), "", "aliases expand to more than %d nodes", aliasBudget)
			return false
		}
		return true
	}
	r.count++
	if r.count > aliasBudget {
		r.errs.Add(yamlPos(r.file, n), "", "the spec has more than %d nodes", aliasBudget)
		return false
	}
	for _, c := range n.Content {
		if !r.budget(c) {
			return false
		}
	}
	return true
}

// size returns the number of nodes n expands to, following aliases; it reports an alias
// inside its own anchor.
func (r *aliasResolver) size(n *yaml.Node) (int, bool) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			r.errs.Add(yamlPos(r.file, n), "", "alias %q refers to nothing", n.Value)
			return 0, false
		}
		if r.active[n.Alias] {
			r.errs.Add(yamlPos(r.file, n), "", "alias %q refers to a node that contains it", n.Value)
			return 0, false
		}
		return r.size(n.Alias)
	}
	if s, ok := r.sizes[n]; ok {
		return s, true
	}
	r.active[n] = true
	defer delete(r.active, n)
	total := 1
	for _, c := range n.Content {
		s, ok := r.size(c)
		if !ok {
			return 0, false
		}
		total = min(total+s, aliasBudget+1)
	}
	r.sizes[n] = total
	return total, true
}

func (r *aliasResolver) resolve(n *yaml.Node) *yaml.Node {
	if r.failed || n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			r.errs.Add(yamlPos(r.file, n), "", "alias %q refers to nothing", n.Value)
			r.failed = true
			return nil
		}
		if r.active[n.Alias] {
			r.errs.Add(yamlPos(r.file, n), "", "alias %q refers to a node that contains it", n.Value)
			r.failed = true
			return nil
		}
		return r.resolve(n.Alias)
	}
	r.active[n] = true
	defer delete(r.active, n)
	c := *n
	c.Anchor = ""
	c.Alias = nil
	c.Content = nil
	switch n.Kind {
	case yaml.MappingNode:
		c.Content = r.mapping(n)
	case yaml.SequenceNode, yaml.DocumentNode:
		c.Content = make([]*yaml.Node, 0, len(n.Content))
		for _, k := range n.Content {
			c.Content = append(c.Content, r.resolve(k))
		}
	}
	if r.failed {
		return nil
	}
	return &c
}

// mapping copies a mapping's content, expanding `<<` merge keys: merged keys come first
// and keys written explicitly win.
func (r *aliasResolver) mapping(n *yaml.Node) []*yaml.Node {
	var merged, own []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			rv := r.resolve(v)
			if rv == nil {
				return nil
			}
			var srcs []*yaml.Node
			switch rv.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{rv}
			case yaml.SequenceNode:
				srcs = rv.Content
			}
			for _, s := range srcs {
				if s.Kind != yaml.MappingNode {
					r.errs.Add(yamlPos(r.file, v), "", "merge key %q needs a mapping or a list of mappings", "<<")
					return nil
				}
				merged = append(merged, s.Content...)
			}
			if len(srcs) == 0 {
				r.errs.Add(yamlPos(r.file, v), "", "merge key %q needs a mapping or a list of mappings", "<<")
				return nil
			}
			continue
		}
		own = append(own, r.resolve(k), r.resolve(v))
		if r.failed {
			return nil
		}
	}
	if merged == nil {
		return own
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(own); i += 2 {
		seen[own[i].Value] = true
	}
	out := make([]*yaml.Node, 0, len(merged)+len(own))
	for i := 0; i+1 < len(merged); i += 2 {
		if !seen[merged[i].Value] {
			seen[merged[i].Value] = true
			out = append(out, merged[i], merged[i+1])
		}
	}
	return append(out, own...)
}

// yamlPos is the position of y in file.
func yamlPos(file string, y *yaml.Node) Pos {
	if y == nil {
		return Pos{File: file}
	}
	if file == setFile {
		return Pos{File: file}
	}
	return Pos{File: file, Line: y.Line, Col: y.Column}
}

// describe names the YAML type of y for messages: "mapping", "sequence", "string", "int",
// "float", "bool", "null".
func describe(y *yaml.Node) string {
	if y == nil {
		return "nothing"
	}
	switch y.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		switch y.ShortTag() {
		case "!!str", "!!binary":
			return "string"
		case "!!int":
			return "int"
		case "!!float":
			return "float"
		case "!!bool":
			return "bool"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "timestamp"
		}
		return "scalar " + y.ShortTag()
	}
	return "alias"
}

func isNull(y *yaml.Node) bool {
	return y == nil || (y.Kind == yaml.ScalarNode && y.ShortTag() == "!!null")
}

// pair is one key/value entry of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs returns the entries of mapping m, reporting non-scalar and duplicate keys.
func pairs(file string, m *yaml.Node, node string, errs *ErrorList) []pair {
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			errs.Add(yamlPos(file, k), node, "key must be a string, got %s", describe(k))
			continue
		}
		if prev, ok := seen[k.Value]; ok {
			errs.Add(yamlPos(file, k), node, "key %q is already defined at %s", k.Value, yamlPos(file, prev))
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	return out
}

// cloneYAML deep-copies y.
func cloneYAML(y *yaml.Node) *yaml.Node {
	if y == nil {
		return nil
	}
	c := *y
	if y.Content != nil {
		c.Content = make([]*yaml.Node, len(y.Content))
		for i, k := range y.Content {
			c.Content[i] = cloneYAML(k)
		}
	}
	return &c
}
