package nodes

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// kindName is the form of a kind name: lowercase words joined by hyphens.
var kindName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Check reports every way the kinds of r break the rules of declaring a
// kind, in the spirit of go/analysis's Validate: what a spec author and
// `dagrun kinds` rely on but the compiler cannot see. tags is the set of
// output type tags the format package declares, one entry per declaration.
//
// The rules:
//   - every type tag is declared once, and some kind produces it;
//   - a kind has a name of lowercase words joined by hyphens (unique: a
//     registry cannot hold two), a one-line doc and a version of at least
//     1, and a New;
//   - a kind's Produces is "" or a declared tag, and a kind that produces
//     a type lists its Outputs (the format's files: what `node.output`
//     may name); outputs are unique plain names;
//   - slot names are unique and documented, every tag a slot accepts is
//     declared and produced by some kind of r, and a kind with
//     FreeInputs declares no slots;
//   - a kind with params is declared with Typed; every param has a YAML
//     name, a JSON name equal to it or "-" (so that the key reads like the
//     spec), and a one-line `doc:"…"` tag.
//
// NewRegistry does not call Check: the rules about producers hold only
// for a complete registry (a test may build one of a few kinds), and the
// registry is fixed at compile time, so a test over the program's one
// registry (cmd/dagrun) catches every violation before a binary ships,
// at no cost at startup.
func (r *Registry) Check(tags []string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	declared := map[string]bool{}
	for _, t := range tags {
		switch {
		case t == "":
			add("an empty type tag is declared")
		case declared[t]:
			add("type tag %q is declared more than once", t)
		}
		declared[t] = true
	}
	producers := map[string][]string{}
	for _, k := range r.Kinds() {
		if k.Produces != "" {
			producers[k.Produces] = append(producers[k.Produces], k.Name)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(declared)) {
		if t != "" && len(producers[t]) == 0 {
			add("type tag %q: no kind produces it", t)
		}
	}

	for _, k := range r.Kinds() {
		kadd := func(format string, a ...any) { add("kind %q: "+format, append([]any{k.Name}, a...)...) }
		if !kindName.MatchString(k.Name) {
			kadd("name must be lowercase words joined by hyphens")
		}
		if strings.TrimSpace(k.Doc) == "" || strings.Contains(k.Doc, "\n") {
			kadd("doc must be one non-empty line")
		}
		if k.Version < 1 {
			kadd("version %d must be at least 1", k.Version)
		}
		if k.New == nil {
			kadd("no New")
		}
		if k.CPU < 0 {
			kadd("cpu %d must not be negative", k.CPU)
		}
		if k.Produces != "" && !declared[k.Produces] {
			kadd("produces %q, which format does not declare", k.Produces)
		}
		if k.Produces != "" && len(k.Outputs) == 0 {
			kadd("produces %q but lists no outputs", k.Produces)
		}
		outs := map[string]bool{}
		for _, o := range k.Outputs {
			if o == "" || strings.Contains(o, "/") || outs[o] {
				kadd("output %q must be a unique plain name", o)
			}
			outs[o] = true
		}
		if k.FreeInputs && len(k.Inputs) > 0 {
			kadd("takes free inputs but declares slots")
		}
		slots := map[string]bool{}
		for _, s := range k.Inputs {
			if s.Name == "" || slots[s.Name] {
				kadd("slot %q must have a unique name", s.Name)
			}
			slots[s.Name] = true
			if strings.TrimSpace(s.Doc) == "" {
				kadd("slot %q has no doc", s.Name)
			}
			for _, t := range s.Accepts {
				switch {
				case !declared[t]:
					kadd("slot %q accepts %q, which format does not declare", s.Name, t)
				case len(producers[t]) == 0:
					kadd("slot %q accepts %q, which no kind produces", s.Name, t)
				}
			}
		}
		if k.Params != nil {
			errs = append(errs, checkParams(k)...)
		}
	}
	return errors.Join(errs...)
}

// checkParams checks a kind's params declaration and every param's tags.
func checkParams(k *Kind) []error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("kind %q: "+format, append([]any{k.Name}, a...)...))
	}
	if k.paramsType == nil {
		add("params are not declared with nodes.Typed")
		return errs
	}
	p := k.Params()
	if reflect.TypeOf(p) != reflect.PointerTo(k.paramsType) {
		add("Params returns %T, want *%v", p, k.paramsType)
		return errs
	}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			y, j := TagName(f, "yaml"), TagName(f, "json")
			if y == "" || y == "-" {
				add("field %s%s has no yaml name", prefix, f.Name)
				continue
			}
			if j != y && j != "-" {
				add("param %q: json name %q, want %q or \"-\"", prefix+y, j, y)
			}
			if isParamStruct(f.Type) {
				walk(prefix+y+".", f.Type)
			}
		}
	}
	walk("", k.paramsType)
	for _, prm := range ParamList(p) {
		if strings.TrimSpace(prm.Doc) == "" || strings.Contains(prm.Doc, "\n") {
			add("param %q: doc tag must be one non-empty line", prm.Name)
		}
	}
	return errs
}
