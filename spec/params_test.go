package spec

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// level implements yaml.Unmarshaler to check that such fields are handed the whole node.
type level int

func (l *level) UnmarshalYAML(y *yaml.Node) error {
	switch y.Value {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return &yaml.TypeError{Errors: []string{"level must be low or high, got " + y.Value}}
	}
	return nil
}

type optParams struct {
	Name     string  `yaml:"name"`
	Momentum float64 `yaml:"momentum"`
}

type embedded struct {
	Shared int `yaml:"shared"`
}

type trainParams struct {
	LR       float64            `yaml:"lr"`
	Epochs   int                `yaml:"epochs"`
	Sizes    []int              `yaml:"sizes"`
	Weights  map[string]float64 `yaml:"weights"`
	Opt      optParams          `yaml:"opt"`
	OptP     *optParams         `yaml:"opt_p"`
	Level    level              `yaml:"level"`
	Wait     time.Duration      `yaml:"wait"`
	Any      any                `yaml:"any"`
	Untagged bool
	Skip     int `yaml:"-"`
	embedded `yaml:",inline"`
}

func defaults() trainParams {
	return trainParams{LR: 0.1, Epochs: 3, Opt: optParams{Name: "sgd", Momentum: 0.9}}
}

func TestDecodeParams(t *testing.T) {
	tests := []struct {
		name   string
		params string
		want   func(p *trainParams)
		errs   []string
	}{
		{name: "defaults kept", params: "{}", want: func(p *trainParams) {}},
		{name: "all kinds of fields",
			params: "{lr: 0.5, epochs: 7, sizes: [1, 2], weights: {a: 1.5}, opt: {momentum: 0.5}, " +
				"opt_p: {name: adam}, level: high, wait: 2s, any: [x], untagged: true, shared: 4}",
			want: func(p *trainParams) {
				p.LR, p.Epochs, p.Sizes, p.Weights = 0.5, 7, []int{1, 2}, map[string]float64{"a": 1.5}
				p.Opt.Momentum = 0.5
				p.OptP = &optParams{Name: "adam"}
				p.Level, p.Wait, p.Any, p.Untagged, p.Shared = 2, 2*time.Second, []any{"x"}, true, 4
			}},
		{name: "int for a float", params: "{lr: 1}", want: func(p *trainParams) { p.LR = 1 }},
		{name: "unknown key", params: "{lrr: 0.5}",
			errs: []string{`spec.yaml:4:25: node "a": unknown param "lrr" (did you mean "lr"?)`}},
		{name: "type error at the value", params: "{lr: abc, epochs: 1.5}",
			errs: []string{
				`spec.yaml:4:29: node "a": param "lr": cannot use "abc" (string) as float64`,
				`spec.yaml:4:42: node "a": param "epochs": cannot use "1.5" (float) as int`,
			}},
		{name: "nested unknown and type error", params: "{opt: {nam: x, momentum: [1]}}",
			errs: []string{
				`spec.yaml:4:31: node "a": unknown param "opt.nam" (did you mean "name"?)`,
				`spec.yaml:4:49: node "a": param "opt.momentum": cannot use a sequence as float64`,
			}},
		{name: "slice and map elements", params: "{sizes: [1, x], weights: {a: [2]}}",
			errs: []string{
				`spec.yaml:4:36: node "a": param "sizes[1]": cannot use "x" (string) as int`,
				`spec.yaml:4:53: node "a": param "weights.a": cannot use a sequence as float64`,
			}},
		{name: "struct given a scalar", params: "{opt: fast}",
			errs: []string{`spec.yaml:4:30: node "a": param "opt": cannot use "fast" (string) as spec.optParams`}},
		{name: "unmarshaler error", params: "{level: medium}",
			errs: []string{`spec.yaml:4:32: node "a": param "level": level must be low or high, got medium`}},
		{name: "skipped field is unknown", params: "{skip: 1}",
			errs: []string{`spec.yaml:4:25: node "a": unknown param "skip"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Params sit on line 4 from column 24: "  a: {kind: k, params: {...}}".
			src := "matrix: {s: [1, 2]}\nvars: {}\nnodes:\n  a: {kind: k, params: " + tt.params + "}\n"
			sp := mustParse(t, map[string]string{"spec.yaml": src}, Options{})
			got := defaults()
			errs := DecodeParams(sp.Nodes[0], &got)
			var gotErrs []string
			for _, e := range errs {
				gotErrs = append(gotErrs, e.Error())
			}
			if !reflect.DeepEqual(gotErrs, tt.errs) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(gotErrs, "\n"), strings.Join(tt.errs, "\n"))
			}
			if tt.want != nil {
				want := defaults()
				tt.want(&want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("decoded %+v\nwant    %+v", got, want)
				}
			}
		})
	}
}

func TestDecodeParamsEdges(t *testing.T) {
	n := &Node{Name: "x[s=1]", Base: "x", ParamsPos: Pos{"f.yaml", 3, 4}}
	var p trainParams
	if errs := DecodeParams(n, &p); errs != nil {
		t.Errorf("nil params: %v", errs)
	}
	errs := DecodeParams(n, p)
	if len(errs) != 1 || errs[0].Error() != `f.yaml:3:4: node "x": decode params: destination must be a pointer to a struct, got spec.trainParams` {
		t.Errorf("non-pointer: %v", errs)
	}
	// Instances of one node report the same error once after sorting.
	sp := mustParse(t, map[string]string{"spec.yaml": "matrix: {s: [1, 2]}\nnodes:\n  a: {kind: k, params: {s: \"${s}\", bad: 1}}\n"}, Options{})
	var all ErrorList
	for _, n := range sp.Nodes {
		var q struct {
			S int `yaml:"s"`
		}
		all = append(all, DecodeParams(n, &q)...)
	}
	if err := all.Err(); err == nil || err.Error() != `spec.yaml:3:36: node "a": unknown param "bad"` {
		t.Errorf("instances: %v", err)
	}
}
