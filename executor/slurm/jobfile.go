package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/spec"

	"gopkg.in/yaml.v3"
)

// JobFormat is the version of the job file layout; RunJob refuses others.
const JobFormat = 1

// JobFile is everything `dagrun exec` needs to run one node on a cluster
// machine. Every path is absolute and on the shared filesystem.
type JobFile struct {
	Format int `json:"format"`
	// Node is the node's expanded name, Key its cache key (for messages).
	Node string `json:"node"`
	Key  string `json:"key"`
	// Kind and Version name the node's kind; the binary that runs the job
	// must know the same kind at the same version.
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// Arith is the arithmetic the driver keyed with (dag.Arith: "" for
	// amd64, else the driver's GOARCH); a job on a node of another
	// architecture refuses to run rather than file its output under it.
	Arith string `json:"arith,omitempty"`
	// ParamsYAML is the node's params mapping as the spec gave it (after
	// interpolation); RunJob decodes it the way the driver did, since params
	// that never enter the key (paths of files keyed by content) are not in
	// the JSON.
	ParamsYAML string `json:"params_yaml"`
	// Params is the canonical JSON of the decoded params, as keyed: the
	// decoded ParamsYAML must encode to it.
	Params string `json:"params"`
	// Dir is the spec folder the node's relative paths resolve against.
	Dir     string              `json:"dir"`
	Inputs  map[string][]string `json:"inputs"`
	OutDir  string              `json:"out_dir"`
	TempDir string              `json:"temp_dir"`
	// Log receives the node's console output (appended).
	Log string `json:"log"`
	// Fingerprint holds the external file digests the node was keyed with
	// (nodes.Env.Fingerprint), for nodes that check what they copy.
	Fingerprint map[string]string `json:"fingerprint,omitempty"`
}

// WriteJobFile writes jf to path as JSON.
func WriteJobFile(path string, jf *JobFile) error {
	b, err := json.MarshalIndent(jf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode job file %q: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write job file: %w", err)
	}
	return nil
}

// ReadJobFile reads a job file written by WriteJobFile.
func ReadJobFile(path string) (*JobFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read job file: %w", err)
	}
	var jf JobFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jf); err != nil {
		return nil, fmt.Errorf("decode job file %q: %w", path, err)
	}
	if jf.Format != JobFormat {
		return nil, fmt.Errorf("job file %q: format %d, this dagrun reads %d", path, jf.Format, JobFormat)
	}
	return &jf, nil
}

// RunJob runs the node that the job file at path describes, with its
// console output and diagnostics appended to the job's log. It rebinds the
// node with BindJob and runs it. The error is the node's (or why it could
// not be bound); `dagrun exec` prints it to stderr, which sbatch --output
// sends to the same log, whose tail the driver reports.
func RunJob(ctx context.Context, path string, reg *nodes.Registry) error {
	jf, err := ReadJobFile(path)
	if err != nil {
		return err
	}
	log, err := os.OpenFile(jf.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open job log: %w", err)
	}
	defer log.Close()
	b, err := BindJob(jf, reg)
	if err != nil {
		return err
	}
	env := &nodes.Env{
		Inputs:      jf.Inputs,
		OutDir:      jf.OutDir,
		TempDir:     jf.TempDir,
		Log:         slog.New(slog.NewTextHandler(log, nil)).With("node", jf.Node),
		Output:      log,
		Fingerprint: jf.Fingerprint,
	}
	if err := b.Impl.Run(ctx, env); err != nil {
		return fmt.Errorf("node %q (%s): run: %w", jf.Node, jf.Kind, err)
	}
	if err := log.Close(); err != nil {
		return fmt.Errorf("close job log: %w", err)
	}
	return nil
}

// paramsFile is the file name params errors of a job are positioned in:
// lines and columns count within the job file's params_yaml.
const paramsFile = "params_yaml"

// BindJob rebinds the node of jf from reg with dag.Bind, as the driver
// bound it (params YAML → the kind's params struct → canonical JSON →
// New), and checks that this binary has the same kind at the same version
// and that the params encode to the canonical JSON the driver keyed.
func BindJob(jf *JobFile, reg *nodes.Registry) (*dag.Binding, error) {
	sn := &spec.Node{Name: jf.Node, Base: jf.Node, Kind: jf.Kind, Dir: jf.Dir, Pos: spec.Pos{File: paramsFile}}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(jf.ParamsYAML), &doc); err != nil {
		return nil, fmt.Errorf("node %q: parse params: %w", jf.Node, err)
	}
	if len(doc.Content) > 0 {
		sn.Params = doc.Content[0]
		sn.ParamsPos = sn.PosOf(sn.Params)
	}
	b, errs := dag.Bind(reg, sn, nil)
	// A different kind, version or params encoding explains a bad value
	// better than the value's own error: report those first.
	switch {
	case b.Kind == nil:
		return nil, fmt.Errorf("node %q: this dagrun has no kind %q", jf.Node, jf.Kind)
	case b.Kind.Version != jf.Version:
		return nil, fmt.Errorf("node %q: kind %q is version %d here, the driver has %d (run the same dagrun binary on both)", jf.Node, jf.Kind, b.Kind.Version, jf.Version)
	case jf.Arith != dag.Arith():
		return nil, fmt.Errorf("node %q: the driver keyed it for %s arithmetic, this node computes with %s (run jobs on nodes of the driver's architecture)", jf.Node, arithName(jf.Arith), arithName(dag.Arith()))
	case b.ParamsJSON != "" && b.ParamsJSON != jf.Params:
		return nil, fmt.Errorf("node %q: params of kind %q decode here to %s, the driver keyed %s (run the same dagrun binary on both)", jf.Node, jf.Kind, b.ParamsJSON, jf.Params)
	case len(errs) > 0:
		return nil, fmt.Errorf("bind job: %w", errs)
	}
	return b, nil
}

// arithName names an arithmetic for messages: "" is amd64's.
func arithName(a string) string {
	if a == "" {
		return "amd64"
	}
	return a
}
