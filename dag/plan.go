package dag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"dagrun/cache"
)

// PlanStatus says what a run would do with a node.
type PlanStatus int

// Plan statuses.
const (
	// WillHit: the key is known and cached.
	WillHit PlanStatus = iota
	// WillRun: the key is known and not cached.
	WillRun
	// Blocked: an upstream node will run first, so this key is not known
	// yet; it runs unless that upstream reproduces its old bytes.
	Blocked
)

func (s PlanStatus) String() string {
	return [...]string{"cached", "run", "run?"}[s]
}

// PlanItem is one node of a plan.
type PlanItem struct {
	Node    *Node
	Status  PlanStatus
	Key     string // "" when Blocked
	Entry   *cache.Entry
	Parts   *KeyParts // nil when Blocked
	Reasons []string
}

// Plan is what a run of the graph would do, and why.
type Plan struct {
	Items []*PlanItem // spec order
	// Cells is the number of grid cells of the spec's matrix (1 without one).
	Cells int
}

// Count returns how many items have status s.
func (p *Plan) Count(s PlanStatus) int {
	n := 0
	for _, it := range p.Items {
		if it.Status == s {
			n++
		}
	}
	return n
}

// MakePlan computes, from the cache alone, which nodes are cached and which
// would run, and explains each miss against the previous run of the spec
// (recorded under name; "" = the spec's name).
func MakePlan(ctx context.Context, g *Graph, c *cache.Cache, name string) (*Plan, error) {
	if name == "" {
		name = g.Spec.Name
	}
	last, err := c.LastRun(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &Plan{Cells: 1}
	for _, ax := range g.Spec.Matrix {
		p.Cells *= len(ax.Values)
	}
	items := make([]*PlanItem, len(g.Nodes))
	for _, n := range g.Order {
		it := &PlanItem{Node: n}
		items[n.index] = it
		var blockedBy []string
		for _, e := range n.Inputs {
			if up := items[e.From.index]; up.Entry == nil && !contains(blockedBy, e.From.Name()) {
				blockedBy = append(blockedBy, e.From.Name())
			}
		}
		prev := previous(ctx, c, last, n.Name())
		if len(blockedBy) > 0 {
			it.Status = Blocked
			if prev != nil {
				it.Reasons = diffParts(prev, &KeyParts{Kind: n.Kind.Name, Version: n.Kind.Version, Params: n.ParamsJSON}, false)
			}
			for _, b := range blockedBy {
				it.Reasons = append(it.Reasons, fmt.Sprintf("upstream %q will run first", b))
			}
			continue
		}
		parts, err := Parts(ctx, n, c, func(up *Node) *cache.Entry { return items[up.index].Entry })
		if err != nil {
			return nil, &NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: "fingerprint", Err: err}
		}
		it.Parts = parts
		it.Key = parts.Key()
		ent, err := c.Get(ctx, it.Key)
		switch {
		case err == nil:
			it.Status, it.Entry = WillHit, ent
			continue
		case !errors.Is(err, cache.ErrNotFound):
			return nil, err
		}
		it.Status = WillRun
		switch {
		case prev == nil && last[n.Name()].Key == "":
			it.Reasons = []string{"never run before"}
		case prev == nil:
			if last[n.Name()].Key == it.Key {
				it.Reasons = []string{"same key as last run, but its output is gone from the cache"}
			} else {
				it.Reasons = []string{"changed since the last run (whose entry is no longer cached)"}
			}
		default:
			it.Reasons = diffParts(prev, parts, true)
			if len(it.Reasons) == 0 {
				it.Reasons = []string{"same key as last run, but its output is gone from the cache"}
			}
		}
	}
	p.Items = items
	return p, nil
}

// previous returns the key parts of the node's entry in the last run, if the
// entry is still cached.
func previous(ctx context.Context, c *cache.Cache, last map[string]cache.RunNode, name string) *KeyParts {
	rn, ok := last[name]
	if !ok || rn.Key == "" {
		return nil
	}
	ent, err := c.Get(ctx, rn.Key)
	if err != nil {
		return nil
	}
	return PartsOf(ent.Record)
}

// PartsOf reconstructs the key parts stored with an entry.
func PartsOf(r cache.Record) *KeyParts {
	p := &KeyParts{Kind: r.Kind, Version: r.Version, Params: r.Params}
	_ = json.Unmarshal([]byte(r.Inputs), &p.Inputs)
	_ = json.Unmarshal([]byte(r.Extra), &p.Files)
	return p
}

// diffParts lists, in words, what differs between the old and new key
// parts. Inputs and files are compared only when withInputs is set.
func diffParts(old, cur *KeyParts, withInputs bool) []string {
	var out []string
	if old.Kind != cur.Kind {
		out = append(out, fmt.Sprintf("kind %q → %q", old.Kind, cur.Kind))
	} else if old.Version != cur.Version {
		out = append(out, fmt.Sprintf("kind %q version %d → %d", cur.Kind, old.Version, cur.Version))
	}
	out = append(out, diffParams(old.Params, cur.Params)...)
	if !withInputs {
		return out
	}
	of := map[string]string{}
	for _, f := range old.Files {
		of[f.Name] = f.Digest
	}
	for _, f := range cur.Files {
		if d, ok := of[f.Name]; !ok {
			out = append(out, fmt.Sprintf("file %q is new", f.Name))
		} else if d != f.Digest {
			out = append(out, fmt.Sprintf("file %q changed (%s → %s)", f.Name, short(d), short(f.Digest)))
		}
	}
	oi := map[string]InputPart{}
	for _, in := range old.Inputs {
		oi[fmt.Sprintf("%s#%d", in.Slot, in.Index)] = in
	}
	for _, in := range cur.Inputs {
		o, ok := oi[fmt.Sprintf("%s#%d", in.Slot, in.Index)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("input %q is new", in.Slot))
		case o.Digest != in.Digest:
			out = append(out, fmt.Sprintf("input %q changed: %q now gives %s (was %s)", in.Slot, in.From, short(in.Digest), short(o.Digest)))
		}
	}
	return out
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// diffParams compares two canonical JSON param encodings leaf by leaf.
func diffParams(a, b string) []string {
	fa, fb := flatten(a), flatten(b)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		va, oka := fa[k]
		vb, okb := fb[k]
		switch {
		case !oka:
			out = append(out, fmt.Sprintf("param %q: (unset) → %s", k, vb))
		case !okb:
			out = append(out, fmt.Sprintf("param %q: %s → (unset)", k, va))
		case va != vb:
			out = append(out, fmt.Sprintf("param %q: %s → %s", k, va, vb))
		}
	}
	return out
}

func flatten(js string) map[string]string {
	out := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" {
				out[prefix] = "{}"
			}
			for k, vv := range x {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, vv)
			}
		case []any:
			if len(x) == 0 && prefix != "" {
				out[prefix] = "[]"
			}
			for i, vv := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), vv)
			}
		default:
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(x)
			out[prefix] = strings.TrimSpace(b.String())
		}
	}
	walk("", v)
	return out
}
