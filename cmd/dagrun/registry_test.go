package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/spec"
)

// typeConst is the name of a type tag constant (format.TypePool).
var typeConst = regexp.MustCompile(`^Type[A-Z]`)

// formatTags returns the type tags the format package declares, one entry
// per declaration (a tag declared twice appears twice), read from its
// source: every string constant named Type….
func formatTags(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../format/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("format sources: %v (%d files)", err, len(files))
	}
	var tags []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range typeConsts(f) {
			tags = append(tags, tag)
		}
	}
	return tags
}

// typeConsts lists f's string constants named Type… with their values.
func typeConsts(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !typeConst.MatchString(n.Name) || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					out[n.Name] = v
				}
			}
		}
	}
	return out
}

// TestRegistryCheck runs nodes.Registry.Check over dagrun's registry
// against the type tags format declares: every accepted type has a
// producer, every tag is declared once and produced, every param has a
// doc, and so on (see Check). It runs here rather than in NewRegistry:
// see Check's doc.
func TestRegistryCheck(t *testing.T) {
	tags := formatTags(t)
	if len(tags) < 5 {
		t.Fatalf("found only %d type tags in format: %q", len(tags), tags)
	}
	if err := registry().Check(tags); err != nil {
		t.Errorf("the registry breaks the rules of declaring a kind:\n%v", err)
	}
}

// TestTypeTagsOnlyInFormat: outside format, no package declares a Type…
// constant holding a type tag, and no Kind or Slot spells a tag as a
// string literal in Produces or Accepts; kinds refer to format's
// constants, so each tag is written once.
func TestTypeTagsOnlyInFormat(t *testing.T) {
	tags := map[string]bool{}
	for _, tag := range formatTags(t) {
		tags[tag] = true
	}
	fset := token.NewFileSet()
	seen := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case path == "../../format", name == "testdata", name == "third_party", path != "../.." && strings.HasPrefix(name, "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		seen++
		for name, v := range typeConsts(f) {
			if tags[v] {
				t.Errorf("%s: const %s = %q re-declares a type tag of format", path, name, v)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if key, ok := kv.Key.(*ast.Ident); !ok || (key.Name != "Produces" && key.Name != "Accepts") {
				return true
			}
			ast.Inspect(kv.Value, func(m ast.Node) bool {
				if lit, ok := m.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value != `""` {
					t.Errorf("%s: %s spells the tag %s; use format's constant", fset.Position(lit.Pos()), kv.Key.(*ast.Ident).Name, lit.Value)
				}
				return true
			})
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Fatalf("walked only %d Go files", seen)
	}
}

// TestParamDocs: every param of every kind, nested blocks such as train's
// select.threshold included, has a doc for `dagrun kinds` and README.
func TestParamDocs(t *testing.T) {
	reg := registry()
	total := 0
	for _, k := range reg.Kinds() {
		if k.Params == nil {
			continue
		}
		params := nodes.ParamList(k.Params())
		total += len(params)
		for _, p := range params {
			if strings.TrimSpace(p.Doc) == "" {
				t.Errorf("kind %q: param %q has no doc tag", k.Name, p.Name)
			}
		}
	}
	// train alone has more than 30; a walk that stopped at the top level
	// or missed kinds would count far fewer.
	if total < 140 {
		t.Errorf("walked only %d params", total)
	}
}

// noAlternative lists the params (kind.param) for which alternative can
// produce no second value, so TestParamsOutOfKey cannot check them. It is
// empty: every param type in the registry has one. A new param of a type
// alternative does not know fails the test until it learns the type or
// the param is listed here with the reason.
var noAlternative = map[string]string{}

// alternative returns a value of type t different from d, or false when
// it cannot make one.
func alternative(t reflect.Type, d reflect.Value) (reflect.Value, bool) {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(!d.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(d.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(d.Uint() + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(d.Float() + 0.25)
	case reflect.String:
		v.SetString(d.String() + "x")
	case reflect.Slice:
		e, ok := alternative(t.Elem(), reflect.New(t.Elem()).Elem())
		if !ok {
			return v, false
		}
		v = reflect.Append(reflect.AppendSlice(reflect.MakeSlice(t, 0, d.Len()+1), d), e)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return v, false
		}
		e, ok := alternative(t.Elem(), reflect.New(t.Elem()).Elem())
		if !ok {
			return v, false
		}
		v = reflect.MakeMap(t)
		for it := d.MapRange(); it.Next(); {
			v.SetMapIndex(it.Key(), it.Value())
		}
		v.SetMapIndex(reflect.ValueOf("ALT_KEY").Convert(t.Key()), e)
	case reflect.Pointer:
		inner := reflect.New(t.Elem()).Elem()
		if !d.IsNil() {
			inner = d.Elem()
		}
		e, ok := alternative(t.Elem(), inner)
		if !ok {
			return v, false
		}
		v = reflect.New(t.Elem())
		v.Elem().Set(e)
	default:
		return v, false
	}
	return v, true
}

// TestParamsOutOfKey checks the json:"-" rule for every param of every
// kind, through dag.Bind as a spec's node is bound: setting a param to a
// value other than its default changes the canonical params JSON (the
// params part of the key) unless the param is tagged json:"-", in which
// case the JSON stays byte for byte that of the defaults. Validation and
// construction may refuse the value (a missing model file, say); the
// params JSON is encoded before either, as the Slurm job check needs.
func TestParamsOutOfKey(t *testing.T) {
	reg := registry()
	look := func(string) (string, error) { return "/bin/sh", nil }
	bind := func(t *testing.T, k *nodes.Kind, params map[string]any) *dag.Binding {
		t.Helper()
		sn := &spec.Node{Name: "n", Base: "n", Kind: k.Name, Dir: t.TempDir(), Pos: spec.Pos{File: "s.yaml", Line: 1, Col: 1}}
		if params != nil {
			var doc yaml.Node
			b, err := yaml.Marshal(params)
			if err == nil {
				err = yaml.Unmarshal(b, &doc)
			}
			if err != nil {
				t.Fatalf("params %v: %v", params, err)
			}
			sn.Params, sn.ParamsPos = doc.Content[0], spec.Pos{File: "s.yaml", Line: 2, Col: 13}
		}
		b, _ := dag.Bind(reg, sn, look)
		if b.ParamsJSON == "" {
			t.Fatalf("params %v were not encoded", params)
		}
		return b
	}
	checked, out := 0, 0
	for _, k := range reg.Kinds() {
		if k.Params == nil {
			continue
		}
		t.Run(k.Name, func(t *testing.T) {
			base := bind(t, k, nil).ParamsJSON
			for _, p := range nodes.ParamList(k.Params()) {
				alt, ok := alternative(p.Field.Type, p.Default)
				if !ok {
					if _, listed := noAlternative[k.Name+"."+p.Name]; !listed {
						t.Errorf("param %q (%v): no alternative value; teach alternative the type or list it in noAlternative", p.Name, p.Field.Type)
					}
					continue
				}
				// {select: {threshold: {tau: alt}}} for select.threshold.tau.
				path := strings.Split(p.Name, ".")
				params := map[string]any{path[len(path)-1]: alt.Interface()}
				for i := len(path) - 2; i >= 0; i-- {
					params = map[string]any{path[i]: params}
				}
				b := bind(t, k, params)
				if got := reflect.ValueOf(b.Params).Elem().FieldByIndex(p.Index); !reflect.DeepEqual(got.Interface(), alt.Interface()) {
					t.Errorf("param %q: set to %v, decoded %v", p.Name, alt.Interface(), got.Interface())
					continue
				}
				checked++
				switch {
				case p.InKey && b.ParamsJSON == base:
					t.Errorf("param %q enters the key, but %v leaves the params JSON at the default's %s", p.Name, alt.Interface(), base)
				case !p.InKey && b.ParamsJSON != base:
					t.Errorf("param %q is json:\"-\", but %v changes the params JSON:\n%s\nwas\n%s", p.Name, alt.Interface(), b.ParamsJSON, base)
				case !p.InKey:
					out++
				}
			}
		})
	}
	if out < 5 || checked < 140 {
		t.Errorf("checked %d params, %d of them out of the key; the walk missed some", checked, out)
	}
	if len(noAlternative) > 0 {
		t.Logf("not checked: %v", slices.Sorted(maps.Keys(noAlternative)))
	}
}

// TestCheckSettingsRefusesFusedBuilds: a binary built at GOAMD64=v3 or v4
// is refused; v1, v2 and builds for other architectures (no GOAMD64
// setting) are not.
func TestCheckSettingsRefusesFusedBuilds(t *testing.T) {
	set := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		s    []debug.BuildSetting
		fail bool
	}{
		{set("GOARCH", "amd64", "GOAMD64", "v1"), false},
		{set("GOARCH", "arm64"), false},
		{nil, false},
		{set("GOARCH", "amd64", "GOAMD64", "v3"), true},
		{set("GOAMD64", "v2"), false},
		{set("GOAMD64", "v4"), true},
	} {
		err := checkSettings(c.s)
		if (err != nil) != c.fail {
			t.Errorf("%v: error %v, want failure %v", c.s, err, c.fail)
		}
		if err != nil && !strings.Contains(err.Error(), "GOAMD64=v1") {
			t.Errorf("%v: error %q does not say how to rebuild", c.s, err)
		}
	}
}
