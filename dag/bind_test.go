package dag_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/spec"
)

type checkedParams struct {
	A int `yaml:"a" json:"a"`
	B int `yaml:"b" json:"b"`
	C int `yaml:"c" json:"c"`
}

// Validate joins one error per negative field, the third nested.
func (p checkedParams) Validate() error {
	var errs []error
	if p.A < 0 {
		errs = append(errs, errors.New("a must not be negative"))
	}
	var inner []error
	if p.B < 0 {
		inner = append(inner, errors.New("b must not be negative"))
	}
	if p.C < 0 {
		inner = append(inner, errors.New("c must not be negative"))
	}
	return errors.Join(append(errs, errors.Join(inner...))...)
}

type nopNode struct{}

func (nopNode) Run(context.Context, *nodes.Env) error { return nil }

// checkedKind counts its constructions; a params value of a = 7 makes New
// fail with one error that wraps two.
func checkedKind(built *int) *nodes.Registry {
	return nodes.NewRegistry(nodes.Typed(nodes.Kind{Name: "checked", Doc: "test kind", Version: 1},
		nil, func(_ nodes.Build, p checkedParams) (nodes.Node, error) {
			*built++
			if p.A == 7 {
				return nil, fmt.Errorf("open %w, then %w", errors.New("x"), errors.New("y"))
			}
			return nopNode{}, nil
		}))
}

func specNode(t *testing.T, params string) *spec.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(params), &doc); err != nil {
		t.Fatal(err)
	}
	return &spec.Node{Name: "n", Base: "n", Kind: "checked", Pos: spec.Pos{File: "s.yaml", Line: 3, Col: 3},
		Params: doc.Content[0], ParamsPos: spec.Pos{File: "s.yaml", Line: 5, Col: 13}}
}

// TestBindValidates: dag.Bind calls the params' Validate after encoding
// them for the key and before New, and reports each joined error on its
// own line at the params position; an error New wraps stays one error.
func TestBindValidates(t *testing.T) {
	built := 0
	reg := checkedKind(&built)

	b, errs := dag.Bind(reg, specNode(t, "{a: -1, b: -2, c: -3}"), nil)
	want := []string{
		`s.yaml:5:13: node "n": params: a must not be negative`,
		`s.yaml:5:13: node "n": params: b must not be negative`,
		`s.yaml:5:13: node "n": params: c must not be negative`,
	}
	if got := strings.Split(errs.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", errs, strings.Join(want, "\n"))
	}
	if built != 0 || b.Impl != nil {
		t.Errorf("New ran %d times on params that failed Validate", built)
	}
	if b.Kind == nil || b.ParamsJSON != `{"a":-1,"b":-2,"c":-3}` {
		t.Errorf("binding kept kind %v and params %q; want both, for the Slurm drift check", b.Kind, b.ParamsJSON)
	}

	b, errs = dag.Bind(reg, specNode(t, "{a: 7}"), nil)
	if len(errs) != 1 || errs[0].Msg != "params: open x, then y" || b.Impl != nil {
		t.Errorf("New's error: %v (%d errors), want one", errs, len(errs))
	}

	b, errs = dag.Bind(reg, specNode(t, "{a: 1}"), nil)
	if len(errs) != 0 || b.Impl == nil || built != 2 {
		t.Errorf("valid params: errors %v, impl %v, built %d", errs, b.Impl, built)
	}
}
