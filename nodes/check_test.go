package nodes_test

import (
	"context"
	"strings"
	"testing"

	"dagrun/nodes"
)

type okParams struct {
	Rate  float64 `yaml:"rate" json:"rate" doc:"a rate in [0, 1]"`
	Model string  `yaml:"model" json:"-" doc:"a file whose content enters the key"`
	Block struct {
		N int `yaml:"n" json:"n" doc:"a count"`
	} `yaml:"block" json:"block"`
}

type noDocParams struct {
	Rate float64 `yaml:"rate" json:"rate"`
}

type nestedNoDocParams struct {
	Block struct {
		N int `yaml:"n" json:"n" doc:" "`
	} `yaml:"block" json:"block"`
}

type renamedParams struct {
	Rate float64 `yaml:"rate" json:"r" doc:"a rate"`
}

type untaggedParams struct {
	Rate float64 `json:"rate" doc:"a rate"`
}

type plainNode struct{}

func (plainNode) Run(context.Context, *nodes.Env) error { return nil }

func newPlain(nodes.Build, any) (nodes.Node, error) { return plainNode{}, nil }

// checkKinds is a registry that passes Check: a source producing "alpha"
// and a kind with params that takes it and produces "beta".
func checkKinds() []*nodes.Kind {
	src := &nodes.Kind{Name: "src", Doc: "a source", Version: 1, Produces: "alpha", Outputs: []string{"a.npy", "meta.json"}, New: newPlain}
	use := nodes.Typed(nodes.Kind{
		Name: "use-it", Doc: "uses alpha", Version: 2,
		Inputs:   []nodes.Slot{{Name: "in", Doc: "an alpha", Accepts: []string{"alpha"}}, {Name: "any", Doc: "anything", Optional: true}},
		Produces: "beta", Outputs: []string{"b"},
	}, nil, func(nodes.Build, okParams) (nodes.Node, error) { return plainNode{}, nil })
	free := &nodes.Kind{Name: "free", Doc: "paths only", Version: 1, FreeInputs: true, New: newPlain}
	return []*nodes.Kind{src, use, free}
}

func withParams[P any](k *nodes.Kind) *nodes.Kind {
	return nodes.Typed(nodes.Kind{Name: k.Name, Doc: k.Doc, Version: k.Version, Inputs: k.Inputs, Produces: k.Produces, Outputs: k.Outputs},
		nil, func(nodes.Build, P) (nodes.Node, error) { return plainNode{}, nil })
}

func TestCheck(t *testing.T) {
	tags := []string{"alpha", "beta"}
	if err := nodes.NewRegistry(checkKinds()...).Check(tags); err != nil {
		t.Fatalf("Check of a good registry: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string)
		want   string
	}{
		{"tag twice", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			return ks, append(tags, "alpha")
		}, `type tag "alpha" is declared more than once`},
		{"empty tag", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			return ks, append(tags, "")
		}, `an empty type tag is declared`},
		{"tag without producer", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			return ks, append(tags, "gamma")
		}, `type tag "gamma": no kind produces it`},
		{"bad name", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Name = "Src_1"
			return ks, tags
		}, `kind "Src_1": name must be lowercase words joined by hyphens`},
		{"no doc", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Doc = ""
			return ks, tags
		}, `kind "src": doc must be one non-empty line`},
		{"version 0", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Version = 0
			return ks, tags
		}, `kind "src": version 0 must be at least 1`},
		{"no New", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].New = nil
			return ks, tags
		}, `kind "src": no New`},
		{"undeclared product", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Produces = "delta"
			return ks, tags
		}, `kind "src": produces "delta", which format does not declare`},
		{"product without outputs", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Outputs = nil
			return ks, tags
		}, `kind "src": produces "alpha" but lists no outputs`},
		{"output twice", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Outputs = []string{"a.npy", "a.npy"}
			return ks, tags
		}, `kind "src": output "a.npy" must be a unique plain name`},
		{"output path", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Outputs = []string{"model/weights.bin"}
			return ks, tags
		}, `output "model/weights.bin" must be a unique plain name`},
		{"undeclared input type", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1].Inputs[0].Accepts = []string{"alpha", "zeta"}
			return ks, tags
		}, `kind "use-it": slot "in" accepts "zeta", which format does not declare`},
		{"input type without producer", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Produces = "gamma"
			return ks, append(tags, "gamma")
		}, `kind "use-it": slot "in" accepts "alpha", which no kind produces`},
		{"slot twice", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1].Inputs[1].Name = "in"
			return ks, tags
		}, `kind "use-it": slot "in" must have a unique name`},
		{"slot without doc", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1].Inputs[1].Doc = ""
			return ks, tags
		}, `kind "use-it": slot "any" has no doc`},
		{"free inputs with slots", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[2].Inputs = []nodes.Slot{{Name: "x", Doc: "x"}}
			return ks, tags
		}, `kind "free": takes free inputs but declares slots`},
		{"params by hand", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[0].Params = func() any { return &okParams{} }
			return ks, tags
		}, `kind "src": params are not declared with nodes.Typed`},
		{"param without doc", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1] = withParams[noDocParams](ks[1])
			return ks, tags
		}, `kind "use-it": param "rate": doc tag must be one non-empty line`},
		{"nested param without doc", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1] = withParams[nestedNoDocParams](ks[1])
			return ks, tags
		}, `kind "use-it": param "block.n": doc tag must be one non-empty line`},
		{"json name differs", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1] = withParams[renamedParams](ks[1])
			return ks, tags
		}, `kind "use-it": param "rate": json name "r", want "rate" or "-"`},
		{"no yaml name", func(ks []*nodes.Kind, tags []string) ([]*nodes.Kind, []string) {
			ks[1] = withParams[untaggedParams](ks[1])
			return ks, tags
		}, `kind "use-it": field Rate has no yaml name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, tg := tc.mutate(checkKinds(), append([]string(nil), tags...))
			err := nodes.NewRegistry(ks...).Check(tg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check error = %v, want one saying %s", err, tc.want)
			}
		})
	}
}
