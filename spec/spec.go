package spec

import "gopkg.in/yaml.v3"

// Spec is a loaded, expanded and validated spec file.
type Spec struct {
	// Name is the spec's `name:`, or the file's base name without extension.
	Name    string
	NamePos Pos
	// File is the path as given to Load or Parse.
	File string
	// Dir is the absolute directory of File, for relative paths in params.
	Dir string
	// Vars holds every var after includes, the profile and --set, as written (before
	// interpolation, since a var may depend on matrix axes).
	Vars map[string]*yaml.Node
	// Matrix holds the grid axes in the order written, after the profile and --set.
	Matrix []Axis
	// Nodes holds the expanded nodes: included files' nodes first (in include order), then
	// the file's own, each in file order, and the cells of one node in matrix order.
	Nodes []*Node
	// Report is the spec's `report:`, or nil.
	Report *Report
	// Profiles lists the names of the profiles defined, sorted.
	Profiles []string
	// Executor is the optional top-level `executor:`, kept for later use.
	Executor    string
	ExecutorPos Pos
}

// Axis is one axis of the matrix.
type Axis struct {
	Name string
	// Values holds the values as their YAML scalar text, in the order written.
	Values []string
	Pos    Pos
	// nodes holds the value scalars (type kept), parallel to Values.
	nodes []*yaml.Node
	// file is the file the values were written in ("--set" for the command line).
	file string
}

// AxisValue is the value one expanded node takes on one axis.
type AxisValue struct{ Axis, Value string }

// Node is one expanded node: one instance of a node as written, for one cell of the
// axes it depends on.
type Node struct {
	// Name is unique: "train", or "train[seed=1,gen=vae]" with axes in matrix order
	// (values that hold ",", "=", "[", "]", quotes, backslashes or unprintable
	// characters Go-quoted: `train[gen="a,b"]`).
	Name string
	// Base is the name as written.
	Base string
	// Cell holds this instance's axis values in matrix order; empty when not expanded.
	Cell    []AxisValue
	Kind    string
	KindPos Pos
	// Pos is the position of the node's name key.
	Pos Pos
	// Dir is the absolute directory of the file that defined the node.
	Dir string
	// Description is free text; it never enters a cache key.
	Description string
	// Inputs is sorted by Slot, then Index.
	Inputs []Input
	// Params is the params mapping after interpolation (nil if absent), with positions
	// kept and aliases resolved. Use PosOf for the position of any node inside it.
	Params    *yaml.Node
	ParamsPos Pos
	// Resources is the optional `resources:` mapping (cpu, memory_mb, gpus, ...).
	Resources map[string]int
	// Partition is the optional string resource `partition`: where a
	// cluster executor sends the node. Like all resources it stays out of
	// the key.
	Partition string
	// Retries is the optional `retries:` count.
	Retries int

	// files maps YAML nodes copied from another file (a var from an included file, a
	// --set value) to that file; every other YAML node belongs to Pos.File.
	files map[*yaml.Node]string
}

// PosOf returns the position of y, a YAML node inside n.Params (or any YAML node of n),
// in the file it was written in.
func (n *Node) PosOf(y *yaml.Node) Pos {
	if y == nil {
		return n.Pos
	}
	file := n.Pos.File
	if f, ok := n.files[y]; ok {
		file = f
	}
	return yamlPos(file, y)
}

// Input is one resolved input of a node.
type Input struct {
	Slot string
	// Index is the position in a list-valued slot ("pool: [a, b]" gives 0 and 1); List
	// is true for those.
	Index int
	List  bool
	// Ref is the reference as written after interpolation, e.g. "gen_vae.images".
	Ref string
	// Node is the expanded name of the referenced node.
	Node string
	// Output is "" or the part of Ref after the first ".".
	Output string
	Pos    Pos
}

// Report says which metrics of which node to tabulate by which axes.
type Report struct {
	// Node is the base name of the node whose instances' metrics are tabulated.
	Node string
	// Rows holds the axes that form rows.
	Rows []string
	// Over holds the axes aggregated as mean ± std (e.g. seed).
	Over []string
	// Metrics holds the metric names, one per column, in the order written: keys of
	// the metrics.json of Node, or of the node Sources[From[i]] names.
	Metrics []string
	// From holds, parallel to Metrics, the index in Sources of the node each metric
	// is read from.
	From []int
	// Sources holds the nodes the metrics are read from, in the order written: Node
	// alone when `metrics:` is a list, else each key of the `metrics:` mapping.
	Sources []ReportSource
	// Baseline is an optional row label to compare against, e.g. "method=none".
	Baseline string
	Pos      Pos
}

// ReportSource is one node a report reads metrics from.
type ReportSource struct {
	// Ref is the node name as written, e.g. "eval" or "train_${gen}".
	Ref string
	Pos Pos
	// Instances maps the name of every instance of Report.Node to the instance of
	// this source in the same cell: Ref interpolated with the cell's axis values,
	// expanded with the cell's values of the axes that node varies over (all of
	// which Report.Node varies over too). Nil when the spec has errors.
	Instances map[string]string
}

// Options adjusts how a spec is loaded.
type Options struct {
	// Profile names the profile to apply; an unknown profile is an error.
	Profile string
	// Set overrides vars (or restricts a matrix axis to one value) from the command line;
	// values are parsed as YAML, so "3" is an int.
	Set map[string]string
	// ReadFile reads the spec and its includes; nil means a read with a size
	// check that refuses anything but a regular file.
	ReadFile func(path string) ([]byte, error)
}
