package nodes

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
)

// Slot is one named input of a kind.
type Slot struct {
	Name string
	Doc  string
	// Optional slots may be left out of a spec.
	Optional bool
	// Many slots take a list of references (for example the union of several
	// generated pools); others take exactly one.
	Many bool
	// Accepts lists the output types this slot takes ("" or empty: any).
	Accepts []string
}

// Kind declares a node kind. It is a plain value: the engine reads its fields
// to validate specs, compute keys and schedule work.
type Kind struct {
	Name    string
	Doc     string
	Version int
	Inputs  []Slot
	// FreeInputs lets a spec name any input slots (each optional, each may
	// take a list); for kinds like `command` whose inputs are only paths.
	FreeInputs bool
	// Produces is the type tag of this kind's output, matched against the
	// Accepts list of downstream slots ("" means untyped).
	Produces string
	// Outputs documents the named top-level entries a node of this kind
	// writes; `node.output` references in specs must name one of them when
	// the list is not empty.
	Outputs []string
	// Params returns a pointer to a new params struct holding the defaults.
	// The spec's params mapping is decoded into it strictly (unknown keys are
	// errors). Nil means the kind takes no params. Set it (and New) with
	// Typed.
	Params func() any
	// CPU is the node's weight against the scheduler's -j budget (0 means 1).
	CPU int
	// New builds a node from decoded params that passed their Validate
	// method (see Validator). It may still reject what needs the Build to
	// check; the error is reported at the node's params position.
	New func(b Build, params any) (Node, error)

	// paramsType is the params struct type Typed declared.
	paramsType reflect.Type
}

// Build is what a constructor may know about where its node is defined.
type Build struct {
	// Dir is the directory of the spec file that defined the node; relative
	// paths in params resolve against it. It never enters a cache key.
	Dir string
	// LookPath finds a program on PATH like exec.LookPath; the engine
	// passes one that remembers answers for the whole graph, so thousands
	// of nodes running one program search PATH once. Nil means
	// exec.LookPath.
	LookPath func(file string) (string, error)
}

// Node is one configured instance of a kind.
type Node interface {
	Run(ctx context.Context, env *Env) error
}

// Env is everything a running node may touch.
type Env struct {
	// Inputs maps a slot name to the directories of the referenced outputs,
	// in spec order (one element unless the slot is Many).
	Inputs map[string][]string
	// OutDir is an empty directory the node fills with its output files.
	OutDir string
	// TempDir is scratch space removed after the run.
	TempDir string
	// Progress reports units of work done out of total; it may be nil-safe
	// called at any rate.
	Progress func(done, total int)
	// Log receives diagnostics (stderr, never results).
	Log *slog.Logger
	// Output receives the node's own console output (a command's stdout and
	// stderr); the engine keeps it as the node's log and replays its tail
	// on a cache hit. The engine passes an *os.File, which a command may
	// hand to its child as is, so that output is streamed, never held in
	// memory.
	Output io.Writer
	// Fingerprint holds the named digests of the external files that
	// entered the node's key (what its Fingerprint returned), so that a
	// node that copies such a file can check, while it copies, that it
	// copies the bytes the key names (the file may change between lookup
	// and run). Nil when unknown.
	Fingerprint map[string]string
	// ProcessGroup, when not nil, is called by a node that starts a
	// process group (a command), with its id, right after starting it: the
	// engine records it so that a dagrun that takes over the node after
	// this one died can end the group first.
	ProcessGroup func(pgid int)
}

// Input returns the single directory bound to slot, or "" when absent.
func (e *Env) Input(slot string) string {
	if d := e.Inputs[slot]; len(d) > 0 {
		return d[0]
	}
	return ""
}

// Report calls Progress when it is set.
func (e *Env) Report(done, total int) {
	if e.Progress != nil {
		e.Progress(done, total)
	}
}

// FileHasher returns the content digest of a file; implementations memoize.
type FileHasher interface {
	FileDigest(path string) (string, error)
}

// Fingerprinter is implemented by nodes that read external files (a model, a
// dataset, a program). Their content digests enter the cache key, so editing
// such a file reruns the node while renaming or moving it does not.
type Fingerprinter interface {
	// Fingerprint returns named content digests, for example
	// {"program": "ab12…"}. Names must be stable.
	Fingerprint(ctx context.Context, h FileHasher) (map[string]string, error)
}

// Registry holds the known kinds by name.
type Registry struct {
	kinds map[string]*Kind
}

// Kinds returns every kind, sorted by name.
func (r *Registry) Kinds() []*Kind {
	out := make([]*Kind, 0, len(r.kinds))
	for _, n := range r.Names() {
		out = append(out, r.kinds[n])
	}
	return out
}

// NewRegistry returns a registry of the given kinds; duplicate names panic
// since they are a programming error in the one registry function.
func NewRegistry(kinds ...*Kind) *Registry {
	r := &Registry{kinds: make(map[string]*Kind, len(kinds))}
	for _, k := range kinds {
		if _, dup := r.kinds[k.Name]; dup {
			panic(fmt.Sprintf("nodes: kind %q registered twice", k.Name))
		}
		r.kinds[k.Name] = k
	}
	return r
}

// Lookup returns the kind called name.
func (r *Registry) Lookup(name string) (*Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names returns every kind name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Slot returns the slot called name.
func (k *Kind) Slot(name string) (Slot, bool) {
	for _, s := range k.Inputs {
		if s.Name == name {
			return s, true
		}
	}
	return Slot{}, false
}

// Weight is the kind's CPU weight, at least 1.
func (k *Kind) Weight() int {
	if k.CPU < 1 {
		return 1
	}
	return k.CPU
}
