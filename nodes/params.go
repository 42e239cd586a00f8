package nodes

import (
	"fmt"
	"reflect"
	"strings"
)

// Validator is implemented by a params type that can check its values
// without any input: ranges, enumerations, required fields. The engine
// (dag.Bind) calls Validate on the decoded params after it has encoded
// them for the key and before it calls Kind.New, and reports each error of
// an errors.Join on its own line at the node's params position. Declare it
// on the value receiver so that the decoded *P has it too.
type Validator interface {
	Validate() error
}

// ValidateParams returns the error of params' Validate method, or nil when
// params (nil included) has none.
func ValidateParams(params any) error {
	if v, ok := params.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// Typed returns k declared with the params type P, a struct: k.Params
// returns a pointer to a fresh defaults() (the zero P when defaults is
// nil), and k.New asserts that the decoded params are a *P and calls
// newNode with a copy, so newNode may fill in derived values without
// touching what was encoded for the key. newNode runs after P's Validate
// (if any) passed, so it checks only what needs the Build (a program on
// PATH) and does not repeat the validation.
//
// Every kind with params is declared with Typed; k must not set Params or
// New itself. A kind without params leaves Params nil and sets New.
func Typed[P any](k Kind, defaults func() P, newNode func(b Build, p P) (Node, error)) *Kind {
	t := reflect.TypeFor[P]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("nodes: kind %q: params type %v is not a struct", k.Name, t))
	}
	if k.Params != nil || k.New != nil || newNode == nil {
		panic(fmt.Sprintf("nodes: kind %q: Typed sets Params and New from the params type and newNode", k.Name))
	}
	k.Params = func() any {
		p := new(P)
		if defaults != nil {
			*p = defaults()
		}
		return p
	}
	k.New = func(b Build, params any) (Node, error) {
		p, ok := params.(*P)
		if !ok || p == nil {
			return nil, fmt.Errorf("params are %T, want *%v", params, t)
		}
		return newNode(b, *p)
	}
	k.paramsType = t
	return &k
}

// ParamsType is the params struct type k was declared with (see Typed), or
// nil for a kind without params or one that set Params by hand.
func (k *Kind) ParamsType() reflect.Type { return k.paramsType }

// Construct validates params as the engine does (ValidateParams) and builds
// the node with New. It is for tests and tools that make a node from
// params without a spec; the engine binds nodes with dag.Bind.
func (k *Kind) Construct(b Build, params any) (Node, error) {
	if err := ValidateParams(params); err != nil {
		return nil, err
	}
	return k.New(b, params)
}

// Param describes one param of a params struct: a leaf field, nested
// structs being walked (train's select.threshold.tau).
type Param struct {
	// Name is the dotted YAML path ("select.threshold.tau").
	Name string
	// Field is the leaf struct field; Index its path for
	// reflect.Value.FieldByIndex from the params struct.
	Field reflect.StructField
	Index []int
	// Doc is the field's `doc:"…"` tag.
	Doc string
	// InKey is false for a field tagged `json:"-"` (or under such a
	// struct): its value stays out of the canonical JSON and so out of the
	// key.
	InKey bool
	// Default is the value in the struct ParamList was given.
	Default reflect.Value
}

// ParamList lists the params of p, a struct or a pointer to one, in field
// order, walking nested structs. A field without a YAML name (no tag,
// `yaml:"-"`, unexported) is not a param and is left out. Nil gives nil.
func ParamList(p any) []Param {
	v := reflect.ValueOf(p)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []Param
	var walk func(prefix string, index []int, inKey bool, v reflect.Value)
	walk = func(prefix string, index []int, inKey bool, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := TagName(f, "yaml")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			in := inKey && TagName(f, "json") != "-"
			if isParamStruct(f.Type) {
				walk(prefix+name+".", idx, in, v.Field(i))
				continue
			}
			out = append(out, Param{Name: prefix + name, Field: f, Index: idx, Doc: f.Tag.Get("doc"), InKey: in, Default: v.Field(i)})
		}
	}
	walk("", nil, true, v)
	return out
}

// isParamStruct says whether a field of type t is a block of params (a
// nested struct walked by ParamList) rather than one value.
func isParamStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.PkgPath() != "time"
}

// TagName is the name part of f's struct tag key ("yaml", "json"): the
// text before the first comma, "" when the tag is absent.
func TagName(f reflect.StructField, key string) string {
	name, _, _ := strings.Cut(f.Tag.Get(key), ",")
	return name
}
