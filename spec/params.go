package spec

import (
	"errors"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// DecodeParams decodes n.Params (which may be nil) strictly into dst, a pointer to a
// struct with `yaml:"name"` tags whose defaults are already set. Keys absent from the
// YAML keep their defaults. Unknown keys are errors with a did-you-mean over the struct's
// keys; a value that does not fit its field is an error at the value's position, e.g.
// `param "lr": cannot use "abc" (string) as float64`. Nested structs (that do not
// implement yaml.Unmarshaler) are decoded the same way with dotted names; slices and maps
// element by element; anything else with yaml.Node.Decode. Errors name n.Base (n.Name
// when Base is empty), so the instances of one node report one error, and are sorted.
func DecodeParams(n *Node, dst any) ErrorList {
	var errs ErrorList
	node := n.Base
	if node == "" {
		node = n.Name
	}
	rv := reflect.ValueOf(dst)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		errs.Add(n.ParamsPos, node, "decode params: destination must be a pointer to a struct, got %T", dst)
		return errs
	}
	if n.Params == nil {
		return nil
	}
	d := &paramDecoder{n: n, node: node, errs: &errs}
	d.value(n.Params, rv.Elem(), "")
	return errs.sorted()
}

// paramDecoder decodes params with positions.
type paramDecoder struct {
	n    *Node
	node string
	errs *ErrorList
}

func (d *paramDecoder) pos(y *yaml.Node) Pos { return d.n.PosOf(y) }

// mismatch reports that y cannot be stored in v.
func (d *paramDecoder) mismatch(y *yaml.Node, v reflect.Value, name string) {
	what := describe(y)
	if y.Kind == yaml.ScalarNode {
		d.errs.Add(d.pos(y), d.node, "param %q: cannot use %q (%s) as %s", name, clip(y.Value), what, v.Type())
		return
	}
	d.errs.Add(d.pos(y), d.node, "param %q: cannot use a %s as %s", name, what, v.Type())
}

// value decodes y into the addressable v; name is the dotted param name.
func (d *paramDecoder) value(y *yaml.Node, v reflect.Value, name string) {
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := y.Decode(v.Addr().Interface()); err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			var te *yaml.TypeError
			if errors.As(err, &te) {
				msg = strings.Join(te.Errors, "; ")
			}
			d.errs.Add(d.pos(y), d.node, "param %q: %s", name, msg)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(y) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(y, v.Elem(), name)
	case reflect.Struct:
		if isNull(y) {
			return
		}
		if y.Kind != yaml.MappingNode {
			d.mismatch(y, v, name)
			return
		}
		d.structFields(y, v, name)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 && y.Kind == yaml.ScalarNode {
			d.decode(y, v, name) // []byte from !!binary
			return
		}
		if isNull(y) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if y.Kind != yaml.SequenceNode {
			d.mismatch(y, v, name)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(y.Content), len(y.Content))
		for i, it := range y.Content {
			d.value(it, s.Index(i), name+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			d.decode(y, v, name)
			return
		}
		if isNull(y) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if y.Kind != yaml.MappingNode {
			d.mismatch(y, v, name)
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(y.Content)/2)
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, val := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.errs.Add(d.pos(k), d.node, "param %q: keys must be strings, got %s", name, describe(k))
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(val, e, join(name, k.Value))
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Interface:
		d.decode(y, v, name)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		// yaml.v3 would truncate 1.5 into 1; a float is no int here. Durations (int64)
		// are decoded from their string form by yaml.v3 itself.
		if y.Kind != yaml.ScalarNode || y.ShortTag() == "!!float" {
			d.mismatch(y, v, name)
			return
		}
		d.decode(y, v, name)
	default:
		if y.Kind != yaml.ScalarNode {
			d.mismatch(y, v, name)
			return
		}
		d.decode(y, v, name)
	}
}

// decode stores y in v with yaml.Node.Decode, reporting a failure as a type mismatch.
func (d *paramDecoder) decode(y *yaml.Node, v reflect.Value, name string) {
	if err := y.Decode(v.Addr().Interface()); err != nil {
		d.mismatch(y, v, name)
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// field is one decodable struct field, found through embedded inline structs.
type field struct {
	key   string
	index []int
}

// structKeys lists the yaml keys of struct type t: the tag name, or the lowercased field
// name, skipping "-" and unexported fields, flattening `,inline` structs.
func structKeys(t reflect.Type, prefix []int) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int{}, prefix...), i)
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct && (f.IsExported() || f.Anonymous) {
			// An embedded struct's exported fields are settable even when its type is not.
			out = append(out, structKeys(f.Type, idx)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{key: name, index: idx})
	}
	return out
}

// structFields decodes mapping y into struct v, strictly.
func (d *paramDecoder) structFields(y *yaml.Node, v reflect.Value, name string) {
	fields := structKeys(v.Type(), nil)
	byKey := map[string]field{}
	keys := make([]string, 0, len(fields))
	for _, f := range fields {
		byKey[f.key] = f
		keys = append(keys, f.key)
	}
	sort.Strings(keys)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, val := y.Content[i], y.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errs.Add(d.pos(k), d.node, "param keys must be strings, got %s", describe(k))
			continue
		}
		full := join(name, k.Value)
		if prev, ok := seen[k.Value]; ok {
			d.errs.Add(d.pos(k), d.node, "param %q is already set at %s", full, d.pos(prev))
			continue
		}
		seen[k.Value] = k
		f, ok := byKey[k.Value]
		if !ok {
			d.errs.Add(d.pos(k), d.node, "unknown param %q%s", full, hint(k.Value, keys))
			continue
		}
		d.value(val, v.FieldByIndex(f.index), full)
	}
}
