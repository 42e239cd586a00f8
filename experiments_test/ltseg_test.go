package experiments_test

import (
	"context"
	"path/filepath"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/annotate"
	"dagrun/nodes/command"
	"dagrun/nodes/data"
	"dagrun/nodes/evaluate"
	"dagrun/nodes/generate"
	"dagrun/nodes/score"
	"dagrun/nodes/selection"
	"dagrun/nodes/spoil"
	"dagrun/nodes/train"
	"dagrun/nodes/vae"
	"dagrun/spec"
)

// genRegistry holds the kinds the lt-seg generated-data specs use.
func genRegistry() *nodes.Registry {
	kinds := []*nodes.Kind{command.Kind(), train.Kind(), evaluate.Kind(), selection.Kind(), selection.RescoreKind(), score.Kind()}
	kinds = append(kinds, spoil.Kinds()...)
	kinds = append(kinds, data.Kinds()...)
	kinds = append(kinds, annotate.Kinds()...)
	kinds = append(kinds, generate.Kinds()...)
	kinds = append(kinds, vae.Kinds()...)
	return nodes.NewRegistry(kinds...)
}

func buildSpec(t *testing.T, name, profile string) *dag.Graph {
	t.Helper()
	return buildSpecWith(t, genRegistry(), name, profile)
}

// buildSpecWith loads experiments/NAME with PROFILE and builds it with reg.
func buildSpecWith(t *testing.T, reg *nodes.Registry, name, profile string) *dag.Graph {
	t.Helper()
	s, err := spec.Load(filepath.Join("..", "experiments", name), spec.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	g, err := dag.Build(s, reg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sharedKinds are the kinds of the nodes of experiments/common/: real
// data, generators, annotators, the scorer (a train node without a matrix
// axis) and the filter.
var sharedKinds = map[string]bool{
	"dataset": true, "ltseg": true, "vae-train": true, "vae-sample": true,
	"threshold": true, "otsu": true, "kmeans": true, "select": true,
}

// TestGeneratedDataSpecsShareCommon runs table7's ci profile cold, then
// checks that a rerun would compute nothing and that table8, fig5, curves
// and augsweep (ci) would recompute no real-data, generator, annotator,
// scorer or filter node, nor the train cells they share with table7
// (table8's cos_dyn = table7's union row and its all = all_union; fig5's
// bsgal and all at 100 %; curves' none and all at the tables' budget;
// augsweep's none and all with the tables' augmentation; selection's none).
func TestGeneratedDataSpecsShareCommon(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold run of table7's ci profile: skipped with -short")
	}
	needData(t)
	ctx := context.Background()
	c, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g7 := buildSpec(t, "table7.yaml", "ci")
	sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: 2}}).Run(ctx, g7)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	plan := func(g *dag.Graph) *dag.Plan {
		p, err := dag.MakePlan(ctx, g, c, "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := plan(g7); p.Count(dag.WillHit) != len(p.Items) {
		t.Errorf("table7 rerun: %d of %d nodes cached, want all", p.Count(dag.WillHit), len(p.Items))
	}
	for _, c := range []struct {
		spec   string
		shared []string // train cells equal to table7's
	}{
		{"table8.yaml", []string{"train_cos_dyn[seed=1]", "train_all[seed=1]"}},
		{"fig5.yaml", []string{"train[seed=1,fraction=1.0,method=bsgal]", "train[seed=1,fraction=1.0,method=all]"}},
		// curves' and augsweep's ci profiles repeat common/seg.yaml's
		// (a profile replaces the included one): every shared node must
		// still be table7's. curves' second ci budget and augsweep's ci
		// budget equal the tables', so their cells with the tables'
		// augmentation are table7's none and all_union rows.
		{"curves.yaml", []string{"train_none[seed=1,budget=20]", "train_all[seed=1,budget=20]"}},
		{"augsweep.yaml", []string{"train_none_s75_flip[seed=1]", "train_all_s75_flip[seed=1]"}},
		// selection's none row is table7's; its pools are spoiled
		// copies of inst_vae.
		{"selection.yaml", []string{"train_none[seed=1]"}},
		{"selection-hurt.yaml", []string{"train_none[seed=1]"}},
	} {
		p := plan(buildSpec(t, c.spec, "ci"))
		want := map[string]bool{"scorer": true}
		for _, n := range c.shared {
			want[n] = true
		}
		shared, toRun := 0, 0
		for _, it := range p.Items {
			name := it.Node.Name()
			if sharedKinds[it.Node.Spec.Kind] || want[name] {
				shared++
				delete(want, name)
				if it.Status != dag.WillHit {
					t.Errorf("%s: node %q (%s) is %s, want cached", c.spec, name, it.Node.Spec.Kind, it.Status)
				}
			} else if it.Status != dag.WillHit {
				toRun++
			}
		}
		if len(want) > 0 || shared < 20 || toRun == 0 {
			t.Errorf("%s: missing %v, %d shared nodes, %d to run: want every shared node present and something new to run", c.spec, want, shared, toRun)
		}
	}
	// selection-hurt repeats common/selection.yaml's training params: its
	// nodes must be selection-types' (same params, same inputs' params), in
	// both profiles, so that either spec's run serves the other.
	for _, prof := range []string{"ci", ""} {
		gh, gt := buildSpec(t, "selection-hurt.yaml", prof), buildSpec(t, "selection-types.yaml", prof)
		for _, name := range []string{"train_none[seed=1]", "train_all[seed=1,pool=multi]", "train_oracle[seed=1,pool=multi]",
			"spoil_multi", "clean_multi", "stats_all[seed=1,pool=multi]", "eval[seed=1,pool=multi,method=oracle]"} {
			h, okH := gh.Node(name)
			n, okT := gt.Node(name)
			if !okH || !okT {
				t.Fatalf("profile %q: node %q in selection-hurt (%v), in selection-types (%v)", prof, name, okH, okT)
			}
			if h.ParamsJSON != n.ParamsJSON || len(h.Inputs) != len(n.Inputs) {
				t.Errorf("profile %q: %s: selection-hurt params %s (%d inputs), selection-types %s (%d)", prof, name, h.ParamsJSON, len(h.Inputs), n.ParamsJSON, len(n.Inputs))
				continue
			}
			for i := range h.Inputs {
				if a, b := h.Inputs[i], n.Inputs[i]; a.Slot != b.Slot || a.From.Name() != b.From.Name() || a.Output != b.Output {
					t.Errorf("profile %q: %s input %d: %s<-%s.%s in selection-hurt, %s<-%s.%s in selection-types", prof, name, i, a.Slot, a.From.Name(), a.Output, b.Slot, b.From.Name(), b.Output)
				}
			}
		}
	}
	// The baseline repeats seg.yaml's training vars without including it
	// (it needs no pools): its train cell and its class reading must be
	// table7's none cells; only the foreground reading is new.
	p := plan(buildSpec(t, "baseline.yaml", "ci"))
	want := map[string]dag.PlanStatus{
		"ltseg": dag.WillHit, "train[seed=1]": dag.WillHit,
		"evaluate[seed=1,instances=class]":      dag.WillHit,
		"evaluate[seed=1,instances=foreground]": dag.WillRun,
	}
	for _, it := range p.Items {
		name := it.Node.Name()
		if st, ok := want[name]; ok {
			if it.Status != st {
				t.Errorf("baseline.yaml: node %q is %s, want %s", name, it.Status, st)
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		t.Errorf("baseline.yaml: nodes %v missing", want)
	}
	// The ci profile overrides the budget; the default profile's train and
	// ltseg params (8000 iterations, the augmentation) must be table7's too.
	gb, g7d := buildSpec(t, "baseline.yaml", ""), buildSpec(t, "table7.yaml", "")
	for _, pair := range [][2]string{{"train[seed=1]", "train_none[seed=1]"}, {"ltseg", "ltseg"}} {
		b, okB := gb.Node(pair[0])
		n7, ok7 := g7d.Node(pair[1])
		if !okB || !ok7 {
			t.Fatalf("default profiles: node %q (%v) or table7's %q (%v) missing", pair[0], okB, pair[1], ok7)
		}
		if b.ParamsJSON != n7.ParamsJSON {
			t.Errorf("default profiles: baseline's %s params %s, table7's %s %s", pair[0], b.ParamsJSON, pair[1], n7.ParamsJSON)
		}
	}
}
