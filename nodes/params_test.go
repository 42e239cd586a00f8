package nodes_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"dagrun/nodes"
)

type inner struct {
	Tau  float64 `yaml:"tau" json:"tau" doc:"the threshold"`
	Path string  `yaml:"path" json:"-" doc:"a file"`
}

type hidden struct {
	N int `yaml:"n" json:"n" doc:"a count"`
}

type testParams struct {
	Level   int      `yaml:"level" json:"level" doc:"a level"`
	Names   []string `yaml:"names" json:"names,omitempty" doc:"some names"`
	Inner   inner    `yaml:"inner" json:"inner"`
	Out     hidden   `yaml:"out" json:"-"`
	Threads int      `yaml:"threads" json:"-" doc:"a speed knob"`
	Skipped int      `yaml:"-" json:"-"`
	NoTag   int
	private int
}

func (p testParams) Validate() error {
	var errs []error
	if p.Level < 0 {
		errs = append(errs, errors.New("level must not be negative"))
	}
	if p.Inner.Tau > 1 {
		errs = append(errs, errors.New("inner: tau must be at most 1"))
	}
	return errors.Join(errs...)
}

type testNode struct{ p testParams }

func (*testNode) Run(context.Context, *nodes.Env) error { return nil }

func defaults() testParams {
	return testParams{Level: 3, Names: []string{"a"}, Inner: inner{Tau: 0.5}, Threads: 1}
}

// testKind declares a kind with testParams; built records what its
// newNode saw, and newNode changes its copy to prove it is one.
func testKind(built *[]testParams) *nodes.Kind {
	return nodes.Typed(nodes.Kind{Name: "test", Doc: "a test kind", Version: 1}, defaults,
		func(_ nodes.Build, p testParams) (nodes.Node, error) {
			*built = append(*built, p)
			p.Level = 99
			return &testNode{p}, nil
		})
}

func TestTyped(t *testing.T) {
	var built []testParams
	k := testKind(&built)
	if got := k.ParamsType(); got != reflect.TypeFor[testParams]() {
		t.Errorf("ParamsType = %v", got)
	}
	a, b := k.Params().(*testParams), k.Params().(*testParams)
	if !reflect.DeepEqual(*a, defaults()) {
		t.Errorf("Params() = %+v, want the defaults %+v", *a, defaults())
	}
	a.Names[0] = "changed"
	if b.Names[0] != "a" {
		t.Error("two Params() share their defaults")
	}
	if _, err := k.New(nodes.Build{}, a); err != nil {
		t.Fatal(err)
	}
	if len(built) != 1 || built[0].Level != 3 || a.Level != 3 {
		t.Errorf("newNode saw %+v and left %+v; want the decoded params, unchanged", built, *a)
	}
	for _, bad := range []any{nil, testParams{}, &inner{}, (*testParams)(nil)} {
		if _, err := k.New(nodes.Build{}, bad); err == nil || !strings.Contains(err.Error(), "want *nodes_test.testParams") {
			t.Errorf("New(%T) error = %v, want a params type error", bad, err)
		}
	}

	// Without defaults the params are the zero value.
	z := nodes.Typed(nodes.Kind{Name: "zero"}, nil, func(nodes.Build, testParams) (nodes.Node, error) { return &testNode{}, nil })
	if p := z.Params().(*testParams); !reflect.DeepEqual(*p, testParams{}) {
		t.Errorf("zero params = %+v", *p)
	}
}

func TestTypedRefusesMisuse(t *testing.T) {
	newNode := func(nodes.Build, testParams) (nodes.Node, error) { return nil, nil }
	for name, f := range map[string]func(){
		"params set": func() {
			nodes.Typed(nodes.Kind{Name: "x", Params: func() any { return nil }}, nil, newNode)
		},
		"new set": func() {
			nodes.Typed(nodes.Kind{Name: "x", New: func(nodes.Build, any) (nodes.Node, error) { return nil, nil }}, nil, newNode)
		},
		"nil newNode": func() { nodes.Typed[testParams](nodes.Kind{Name: "x"}, nil, nil) },
		"not a struct": func() {
			nodes.Typed(nodes.Kind{Name: "x"}, nil, func(nodes.Build, int) (nodes.Node, error) { return nil, nil })
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Typed did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestConstructValidatesFirst(t *testing.T) {
	var built []testParams
	k := testKind(&built)
	p := k.Params().(*testParams)
	p.Level, p.Inner.Tau = -1, 2
	_, err := k.Construct(nodes.Build{}, p)
	if err == nil || !strings.Contains(err.Error(), "level must not be negative") || !strings.Contains(err.Error(), "tau must be at most 1") {
		t.Errorf("Construct error = %v, want both validation errors", err)
	}
	if len(built) != 0 {
		t.Error("New ran on params that failed Validate")
	}
	if err := nodes.ValidateParams(nil); err != nil {
		t.Errorf("ValidateParams(nil) = %v", err)
	}
	if err := nodes.ValidateParams(&inner{}); err != nil {
		t.Errorf("ValidateParams of a type without Validate = %v", err)
	}
	p.Level, p.Inner.Tau = 0, 0
	if _, err := k.Construct(nodes.Build{}, p); err != nil || len(built) != 1 {
		t.Errorf("Construct of valid params: %v (built %d)", err, len(built))
	}
}

func TestParamList(t *testing.T) {
	p := defaults()
	type row struct {
		name  string
		index []int
		doc   string
		inKey bool
		def   any
	}
	want := []row{
		{"level", []int{0}, "a level", true, 3},
		{"names", []int{1}, "some names", true, []string{"a"}},
		{"inner.tau", []int{2, 0}, "the threshold", true, 0.5},
		{"inner.path", []int{2, 1}, "a file", false, ""},
		{"out.n", []int{3, 0}, "a count", false, 0},
		{"threads", []int{4}, "a speed knob", false, 1},
	}
	for _, arg := range []any{p, &p} {
		got := nodes.ParamList(arg)
		if len(got) != len(want) {
			t.Fatalf("ParamList gave %d params, want %d: %+v", len(got), len(want), got)
		}
		for i, w := range want {
			g := got[i]
			if g.Name != w.name || !reflect.DeepEqual(g.Index, w.index) || g.Doc != w.doc || g.InKey != w.inKey || !reflect.DeepEqual(g.Default.Interface(), w.def) {
				t.Errorf("param %d = {%s %v %q %v %v}, want %+v", i, g.Name, g.Index, g.Doc, g.InKey, g.Default.Interface(), w)
			}
			if f := reflect.ValueOf(p).FieldByIndex(g.Index); !reflect.DeepEqual(f.Interface(), w.def) {
				t.Errorf("param %s: Index leads to %v", g.Name, f.Interface())
			}
		}
	}
	if got := nodes.ParamList(nil); got != nil {
		t.Errorf("ParamList(nil) = %v", got)
	}
}

func TestNewRegistryRefusesDuplicates(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `kind "a" registered twice`) {
			t.Errorf("recover() = %v, want a duplicate panic", r)
		}
	}()
	nodes.NewRegistry(&nodes.Kind{Name: "a"}, &nodes.Kind{Name: "b"}, &nodes.Kind{Name: "a"})
}
