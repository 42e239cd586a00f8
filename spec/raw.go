package spec

// This file holds the raw types: what a file says before expansion, and
// the state that merges a file with its includes.

import (
	"regexp"

	"gopkg.in/yaml.v3"
)

// setFile is the pseudo file name of values given with --set.
const setFile = "--set"

// nameRE is the syntax of node, var, axis, profile and input slot names.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

const nameSyntax = "[A-Za-z_][A-Za-z0-9_-]*"

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
