package dag

import (
	"fmt"
	"strings"

	"dagrun/nodes"
	"dagrun/spec"
)

// Binding is a spec node bound to its kind: the kind, the decoded params,
// their canonical JSON (the params part of the key) and the constructed
// node.
type Binding struct {
	Kind   *nodes.Kind
	Params any
	// ParamsJSON is the canonical encoding of the decoded params (sorted
	// keys); it enters the key.
	ParamsJSON string
	Impl       nodes.Node
}

// Bind binds sn to its kind in reg: it looks the kind up, decodes sn.Params
// strictly into the kind's params struct, encodes them canonically, and
// constructs the node with sn.Dir and lookPath (nil means exec.LookPath).
// Build binds every spec node with it and a Slurm job rebinds its node with
// it from the job file, so that the driver and the job agree on the params
// that enter the key by construction.
//
// Construction has two steps: the params' Validate method (see
// nodes.Validator), then the kind's New; either's errors are reported at
// the params position, one per line.
//
// Errors are positioned at sn's YAML and name sn.Base. The Binding is never
// nil: on error it holds what was bound before the step that failed (no
// Kind when the kind is unknown, no Impl when construction failed), so that
// Build can still check the node's inputs and a job can tell a params drift
// from a bad value.
func Bind(reg *nodes.Registry, sn *spec.Node, lookPath func(string) (string, error)) (*Binding, spec.ErrorList) {
	var errs spec.ErrorList
	b := &Binding{}
	k, ok := reg.Lookup(sn.Kind)
	if !ok {
		msg := fmt.Sprintf("unknown kind %q", sn.Kind)
		if h := spec.DidYouMean(sn.Kind, reg.Names()); h != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", h)
		} else {
			msg += " (dagrun kinds lists them)"
		}
		errs.Add(sn.KindPos, sn.Base, "%s", msg)
		return b, errs
	}
	b.Kind = k
	var params any
	if k.Params != nil {
		params = k.Params()
		if e := spec.DecodeParams(sn, params); len(e) > 0 {
			return b, e
		}
	} else if sn.Params != nil && len(sn.Params.Content) > 0 {
		errs.Add(sn.ParamsPos, sn.Base, "kind %q takes no params", k.Name)
		return b, errs
	}
	js, err := canonicalJSON(params)
	if err != nil {
		errs.Add(sn.ParamsPos, sn.Base, "encode params: %v", err)
		return b, errs
	}
	b.Params, b.ParamsJSON = params, js
	// Validation follows the encoding so that a job that fails to bind can
	// still compare its params with the driver's (see executor/slurm).
	pos := sn.ParamsPos
	if pos.Line == 0 {
		pos = sn.Pos
	}
	if err := nodes.ValidateParams(params); err != nil {
		addParamsErr(&errs, pos, sn.Base, err)
		return b, errs
	}
	impl, err := k.New(nodes.Build{Dir: sn.Dir, LookPath: lookPath}, params)
	if err != nil {
		addParamsErr(&errs, pos, sn.Base, err)
		return b, errs
	}
	b.Impl = impl
	return b, nil
}

// addParamsErr reports err at the params position, one error per line:
// the errors an errors.Join holds (as a kind's Validate returns them) each
// on its own, every one as `params: …`.
func addParamsErr(errs *spec.ErrorList, pos spec.Pos, node string, err error) {
	for _, e := range splitJoined(err) {
		errs.Add(pos, node, "params: %v", e)
	}
}

// splitJoined returns the errors err joins, recursively, when err is an
// errors.Join (its message is its errors' messages, one per line), and
// err itself otherwise: an fmt.Errorf with several %w keeps its text.
func splitJoined(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	parts := j.Unwrap()
	msgs := make([]string, 0, len(parts))
	for _, e := range parts {
		msgs = append(msgs, e.Error())
	}
	if err.Error() != strings.Join(msgs, "\n") {
		return []error{err}
	}
	var out []error
	for _, e := range parts {
		out = append(out, splitJoined(e)...)
	}
	return out
}
