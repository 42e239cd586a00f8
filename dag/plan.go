package dag

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"dagrun/cache"
	"dagrun/nodes"
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
	// Prev and PrevKey describe the node in the spec's last recorded run
	// (nil and "" when there is none, or its entry is gone).
	Prev    *KeyParts
	PrevKey string
	// Files holds the external file digests of a Blocked item (whose
	// Parts are not known yet).
	Files []NamedValue
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
	// Nodes are planned level by level (a node's level is one more than
	// its deepest input's), so that each level's keys are looked up in one
	// batch.
	level := make([]int, len(g.Nodes))
	var levels [][]*Node
	for _, n := range g.Order {
		for _, e := range n.Inputs {
			level[n.index] = max(level[n.index], level[e.From.index]+1)
		}
		for len(levels) <= level[n.index] {
			levels = append(levels, nil)
		}
		levels[level[n.index]] = append(levels[level[n.index]], n)
	}
	for _, lv := range levels {
		var known []*PlanItem
		var keys []string
		for _, n := range lv {
			it := &PlanItem{Node: n}
			items[n.index] = it
			var blockedBy []string
			for _, e := range n.Inputs {
				if up := items[e.From.index]; up.Entry == nil && !contains(blockedBy, e.From.Name()) {
					blockedBy = append(blockedBy, e.From.Name())
				}
			}
			// The previous run's parts explain a miss; a hit needs none,
			// so an all-cached plan does one lookup per node.
			it.PrevKey = last[n.Name()].Key
			if len(blockedBy) > 0 {
				prev, err := previous(ctx, c, last, n.Name())
				if err != nil {
					return nil, err
				}
				it.Prev = prev
				it.Status = Blocked
				if prev != nil {
					it.Reasons = diffParts(prev, staticParts(n), false)
				}
				if fp, ok := n.Impl.(nodes.Fingerprinter); ok {
					files, err := fp.Fingerprint(ctx, withContext(ctx, c))
					if err != nil {
						return nil, &NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: "fingerprint", Err: err}
					}
					it.Files = sortedFiles(files)
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
			known = append(known, it)
			keys = append(keys, it.Key)
		}
		found, err := c.GetMany(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, it := range known {
			n := it.Node
			if ent, ok := found[it.Key]; ok {
				it.Status, it.Entry = WillHit, ent
				if it.PrevKey == it.Key {
					it.Prev = it.Parts
				} else if it.PrevKey != "" {
					if it.Prev, err = previous(ctx, c, last, n.Name()); err != nil {
						return nil, err
					}
				}
				continue
			}
			prev, err := previous(ctx, c, last, n.Name())
			if err != nil {
				return nil, err
			}
			it.Prev = prev
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
				it.Reasons = diffParts(prev, it.Parts, true)
				if len(it.Reasons) == 0 {
					it.Reasons = []string{"same key as last run, but its output is gone from the cache"}
				}
			}
		}
	}
	p.Items = items
	return p, nil
}

// previous returns the key parts of the node's entry in the last run, or
// nil if there is none or the entry is no longer cached. Stored parts that
// do not decode are an error.
func previous(ctx context.Context, c *cache.Cache, last map[string]cache.RunNode, name string) (*KeyParts, error) {
	rn, ok := last[name]
	if !ok || rn.Key == "" {
		return nil, nil
	}
	ent, err := c.Get(ctx, rn.Key)
	if err != nil {
		return nil, nil
	}
	p, err := PartsOf(ent.Record)
	if err != nil {
		return nil, fmt.Errorf("node %q: last run's entry %s: %w", name, short(rn.Key), err)
	}
	return p, nil
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

// ExplainRow is one part of a key, side by side with the previous run.
type ExplainRow struct {
	Part      string
	Prev, Now string
	Changed   bool
}

// Explain breaks the item's key into its parts next to those of the
// previous run, marking the parts that changed. For a blocked item the
// input digests are not known yet and show as "(after upstream runs)".
func Explain(it *PlanItem) []ExplainRow {
	cur := it.Parts
	if cur == nil {
		cur = staticParts(it.Node)
	}
	prev := it.Prev
	var rows []ExplainRow
	const pending = "(after upstream runs)"
	add := func(part, p, n string) {
		rows = append(rows, ExplainRow{Part: part, Prev: p, Now: n, Changed: prev != nil && p != n && n != pending})
	}
	pv := func(f func(*KeyParts) string) string {
		if prev == nil {
			return "-"
		}
		return f(prev)
	}
	now := it.Key
	if now == "" {
		now = pending
	}
	prevKey := it.PrevKey
	if prevKey == "" {
		prevKey = "-"
	}
	rows = append(rows, ExplainRow{Part: "key", Prev: prevKey, Now: now, Changed: it.PrevKey != "" && it.Key != "" && it.PrevKey != it.Key})
	add("kind", pv(func(p *KeyParts) string { return fmt.Sprintf("%s v%d", p.Kind, p.Version) }), fmt.Sprintf("%s v%d", cur.Kind, cur.Version))
	fp, fn := map[string]string{}, flatten(cur.Params)
	if prev != nil {
		fp = flatten(prev.Params)
	}
	for _, k := range unionKeys(fp, fn) {
		p, n := fp[k], fn[k]
		if prev == nil {
			p = "-"
		} else if _, ok := fp[k]; !ok {
			p = "(unset)"
		}
		if _, ok := fn[k]; !ok {
			n = "(unset)"
		}
		add("param "+k, p, n)
	}
	files := func(p *KeyParts) map[string]string {
		m := map[string]string{}
		if p != nil {
			for _, f := range p.Files {
				m[f.Name] = short(f.Digest)
			}
		}
		return m
	}
	ofp, ofn := files(prev), files(it.Parts)
	if it.Parts == nil {
		ofn = files(&KeyParts{Files: it.Files})
	}
	for _, k := range unionKeys(ofp, ofn) {
		p, n := ofp[k], ofn[k]
		if prev == nil {
			p = "-"
		}
		add("file "+k, orNone(p), orNone(n))
	}
	inputs := func(p *KeyParts) map[string]string {
		m := map[string]string{}
		if p != nil {
			for _, in := range p.Inputs {
				m[fmt.Sprintf("input %s[%d]", in.Slot, in.Index)] = fmt.Sprintf("%s (%s)", short(in.Digest), in.From)
			}
		}
		return m
	}
	oip, oin := inputs(prev), inputs(it.Parts)
	if it.Parts == nil {
		for _, e := range it.Node.Inputs {
			oin[fmt.Sprintf("input %s[%d]", e.Slot, e.Index)] = pending
		}
	}
	for _, k := range unionKeys(oip, oin) {
		p := oip[k]
		if prev == nil {
			p = "-"
		}
		add(k, orNone(p), orNone(oin[k]))
	}
	return rows
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func unionKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// SharedCells lists the grid cells (full combinations of the spec's
// matrix) that use node n: those agreeing with n's own axis values.
func SharedCells(g *Graph, n *Node) []string {
	own := map[string]string{}
	for _, av := range n.Spec.Cell {
		own[av.Axis] = av.Value
	}
	cells := []string{""}
	for _, ax := range g.Spec.Matrix {
		var next []string
		for _, c := range cells {
			for _, v := range ax.Values {
				if o, ok := own[ax.Name]; ok && o != v {
					continue
				}
				sep := ","
				if c == "" {
					sep = ""
				}
				next = append(next, c+sep+ax.Name+"="+v)
			}
		}
		cells = next
	}
	if len(cells) == 1 && cells[0] == "" {
		return nil
	}
	return cells
}

// WriteExplain prints, for every node called name (or expanded from the base
// name), its key parts next to the previous run's with the changed ones
// marked, why it runs, and which grid cells share it. It reports whether any
// node matched.
func WriteExplain(w io.Writer, g *Graph, p *Plan, name string) bool {
	found := false
	for _, it := range p.Items {
		if it.Node.Name() != name && it.Node.Spec.Base != name {
			continue
		}
		found = true
		fmt.Fprintf(w, "node %s (%s): %s\n", it.Node.Name(), it.Node.Kind.Name, it.Status)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  part\tprevious run\tnow\t\n")
		for _, r := range Explain(it) {
			mark := ""
			if r.Changed {
				mark = "<- changed"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Part, clip(r.Prev), clip(r.Now), mark)
		}
		tw.Flush()
		for _, r := range it.Reasons {
			fmt.Fprintf(w, "  why: %s\n", r)
		}
		if cells := SharedCells(g, it.Node); len(cells) > 0 {
			fmt.Fprintf(w, "  shared by %d of %d grid cells", len(cells), p.Cells)
			if len(cells) <= 12 {
				fmt.Fprintf(w, ": %s", strings.Join(cells, "; "))
			}
			fmt.Fprintln(w)
		}
	}
	return found
}

// clip shortens long values for the side-by-side table, keeping both ends
// (the full values are in the "why" lines).
func clip(s string) string {
	const max = 40
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max/2-1]) + "…" + string(r[len(r)-max/2:])
}
