package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest spec file (root or included) that is parsed.
const MaxFileSize = 8 << 20

// maxIncludeDepth and maxFiles bound includes: how deeply they nest and how many files
// one spec reads.
const (
	maxIncludeDepth = 32
	maxFiles        = 1000
	maxTotalBytes   = 64 << 20
)

// setFile is the pseudo file name of values given with --set.
const setFile = "--set"

// nameRE is the syntax of node, var, axis, profile and input slot names.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

const nameSyntax = "[A-Za-z_][A-Za-z0-9_-]*"

// sizeError reports a file over MaxFileSize.
type sizeError struct{ size int64 }

func (e *sizeError) Error() string {
	return fmt.Sprintf("spec is %.1f MiB; the limit is %d MiB", float64(e.size)/(1<<20), MaxFileSize>>20)
}

// readLimited reads path, refusing files over MaxFileSize before reading them.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
	}
	if st.Size() > MaxFileSize {
		return nil, &sizeError{st.Size()}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &sizeError{int64(len(data))}
	}
	return data, nil
}

// ioMessage turns a read error into a message without repeating the path.
func ioMessage(err error) string {
	var se *sizeError
	if errors.As(err, &se) {
		return se.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot read: " + pe.Err.Error()
	}
	return "cannot read: " + err.Error()
}

// Load reads the spec at path (and its includes) and returns it expanded and validated.
// Errors are an ErrorList; a root file that cannot be read gives one error at
// Pos{File: path}.
func Load(path string, opt Options) (*Spec, error) {
	read := opt.ReadFile
	if read == nil {
		read = readLimited
	}
	data, err := read(path)
	if err == nil && len(data) > MaxFileSize {
		err = &sizeError{int64(len(data))}
	}
	if err != nil {
		var l ErrorList
		l.Add(Pos{File: path}, "", "%s", ioMessage(err))
		return nil, l.Err()
	}
	return Parse(path, data, opt)
}

// Parse is Load with the root file's content already read; includes are still read
// through opt.ReadFile.
func Parse(path string, data []byte, opt Options) (*Spec, error) {
	ld := &loader{read: opt.ReadFile, loaded: map[string]bool{}}
	if ld.read == nil {
		ld.read = readLimited
	}
	if len(data) > MaxFileSize {
		ld.errs.Add(Pos{File: path}, "", "%s", (&sizeError{int64(len(data))}).Error())
		return nil, ld.errs.Err()
	}
	st := newState()
	root := ld.mergeFile(st, path, data)
	if root == nil {
		return nil, ld.errs.Err()
	}
	sp := &Spec{
		Name:        root.name,
		NamePos:     root.namePos,
		File:        path,
		Dir:         absDir(path),
		Executor:    root.executor,
		ExecutorPos: root.executorPos,
	}
	if sp.Name == "" {
		sp.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	ld.applyProfile(st, path, opt.Profile)
	ld.applySet(st, path, opt.Set)
	sp.Profiles = st.profileNames()
	sp.Vars = map[string]*yaml.Node{}
	for name, v := range st.vars {
		sp.Vars[name] = v.node
	}
	for _, a := range st.axes {
		sp.Matrix = append(sp.Matrix, *a)
	}
	if len(ld.errs) > 0 {
		return nil, ld.errs.Err()
	}
	ex := newExpander(st, &ld.errs)
	sp.Nodes = ex.run()
	if root.report != nil {
		sp.Report = ex.report(root.file, root.report)
	}
	if len(ld.errs) > 0 {
		return nil, ld.errs.Err()
	}
	return sp, nil
}

func absDir(path string) string {
	d, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return filepath.Dir(path)
	}
	return d
}

func fileKey(path string) string {
	k, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	return k
}

// varDef is one var as written.
type varDef struct {
	name string
	node *yaml.Node
	file string
	pos  Pos
}

// rawInput is one input slot as written.
type rawInput struct {
	slot string
	pos  Pos
	val  *yaml.Node
}

// rawNode is one node as written.
type rawNode struct {
	name        string
	pos         Pos
	file, dir   string
	kind        *yaml.Node
	description string
	inputs      []rawInput
	params      *yaml.Node
	paramsPos   Pos
	resources   map[string]int
	partition   string
	retries     int
}

// rawProfile is one profile as written.
type rawProfile struct {
	name   string
	pos    Pos
	file   string
	vars   []*varDef
	matrix []*Axis
}

// rawFile is what one file contributes.
type rawFile struct {
	file, dir   string
	name        string
	namePos     Pos
	executor    string
	executorPos Pos
	report      *yaml.Node
}

// state is the merge of a file and its includes.
type state struct {
	vars     map[string]*varDef
	axes     []*Axis
	profiles map[string]*rawProfile
	nodes    []*rawNode
	byName   map[string]*rawNode
}

func newState() *state {
	return &state{
		vars:     map[string]*varDef{},
		profiles: map[string]*rawProfile{},
		byName:   map[string]*rawNode{},
	}
}

func (st *state) axis(name string) *Axis {
	for _, a := range st.axes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func (st *state) profileNames() []string {
	var out []string
	for n := range st.profiles {
		out = append(out, n)
	}
	sortStrings(out)
	return out
}

// loader reads files and merges them into a state.
type loader struct {
	read   func(string) ([]byte, error)
	errs   ErrorList
	loaded map[string]bool
	stack  []string
	keys   []string
	total  int // bytes read so far
}

// mergeFile parses path (content data), merges its includes and then its own content
// into st, and returns what only the root file decides. It returns nil when the file
// cannot be parsed at all.
func (ld *loader) mergeFile(st *state, path string, data []byte) *rawFile {
	key := fileKey(path)
	ld.loaded[key] = true
	ld.stack = append(ld.stack, path)
	ld.keys = append(ld.keys, key)
	defer func() {
		ld.stack = ld.stack[:len(ld.stack)-1]
		ld.keys = ld.keys[:len(ld.keys)-1]
	}()

	root := parseYAML(path, data, &ld.errs)
	rf := &rawFile{file: path, dir: absDir(path)}
	if root == nil {
		return rf
	}
	if root.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(path, root), "", "spec must be a mapping, got %s", describe(root))
		return rf
	}
	fields := pairs(path, root, "", &ld.errs)
	// Includes first: their content is overridden by this file's.
	for _, p := range fields {
		if p.key.Value == "include" {
			ld.includes(st, path, p.val)
		}
	}
	known := []string{"name", "description", "include", "vars", "matrix", "profiles", "nodes", "report", "executor"}
	for _, p := range fields {
		k, v := p.key, p.val
		switch k.Value {
		case "name":
			if s, ok := ld.str(path, v, "name", ""); ok {
				rf.name, rf.namePos = s, yamlPos(path, v)
			}
		case "description":
			ld.str(path, v, "description", "")
		case "include":
		case "vars":
			for _, d := range ld.vars(path, v) {
				st.vars[d.name] = d
			}
		case "matrix":
			for _, a := range ld.matrix(path, v) {
				if old := st.axis(a.Name); old != nil {
					*old = *a
				} else {
					st.axes = append(st.axes, a)
				}
			}
		case "profiles":
			ld.profiles(st, path, v)
		case "nodes":
			ld.nodes(st, path, rf.dir, v)
		case "report":
			rf.report = v
		case "executor":
			if s, ok := ld.str(path, v, "executor", ""); ok {
				rf.executor, rf.executorPos = s, yamlPos(path, v)
			}
		default:
			ld.errs.Add(yamlPos(path, k), "", "unknown field %q%s", k.Value, hint(k.Value, known))
		}
	}
	return rf
}

// includes loads every file named by v (a path or a list of paths, relative to file).
func (ld *loader) includes(st *state, file string, v *yaml.Node) {
	var items []*yaml.Node
	switch {
	case v.Kind == yaml.ScalarNode && !isNull(v):
		items = []*yaml.Node{v}
	case v.Kind == yaml.SequenceNode:
		items = v.Content
	case isNull(v):
	default:
		ld.errs.Add(yamlPos(file, v), "", "include must be a path or a list of paths, got %s", describe(v))
		return
	}
	for _, it := range items {
		if it.Kind != yaml.ScalarNode || isNull(it) || it.Value == "" {
			ld.errs.Add(yamlPos(file, it), "", "include must be a path or a list of paths, got %s", describe(it))
			continue
		}
		p := it.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		key := fileKey(p)
		if i := indexOf(ld.keys, key); i >= 0 {
			chain := append(append([]string{}, ld.stack[i:]...), p)
			ld.errs.Add(yamlPos(file, it), "", "include cycle: %s", strings.Join(chain, " -> "))
			continue
		}
		if ld.loaded[key] {
			continue // already merged through another include
		}
		if len(ld.stack) >= maxIncludeDepth {
			ld.errs.Add(yamlPos(file, it), "", "includes nest deeper than %d files", maxIncludeDepth)
			continue
		}
		if len(ld.loaded) >= maxFiles {
			ld.errs.Add(yamlPos(file, it), "", "the spec includes more than %d files", maxFiles)
			continue
		}
		data, err := ld.read(p)
		if err == nil && len(data) > MaxFileSize {
			err = &sizeError{int64(len(data))}
		}
		if err != nil {
			ld.errs.Add(yamlPos(file, it), "", "include %q: %s", it.Value, ioMessage(err))
			continue
		}
		ld.total += len(data)
		if ld.total > maxTotalBytes {
			ld.errs.Add(yamlPos(file, it), "", "include %q: the spec and its includes exceed %d MiB", it.Value, maxTotalBytes>>20)
			continue
		}
		ld.mergeFile(st, p, data)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

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
