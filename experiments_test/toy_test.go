package experiments_test

import (
	"context"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/data"
	"dagrun/nodes/evaluate"
	"dagrun/nodes/noise"
	"dagrun/nodes/score"
	"dagrun/nodes/train"
)

// toyRegistry holds the kinds of the toy's specs (table1, toycurves).
func toyRegistry() *nodes.Registry {
	kinds := []*nodes.Kind{train.Kind(), evaluate.Kind(), noise.Kind(), score.Kind()}
	kinds = append(kinds, data.Kinds()...)
	return nodes.NewRegistry(kinds...)
}

// TestToySpecsShareData runs table1's ci profile cold and checks that
// toycurves' ci profile, which chooses table1's regime, would recompute
// none of the data: the dataset, the splits and the noisy splits are one
// cache entry in both specs, so the curves and the table are measured on
// the same R, G, validation and test images.
func TestToySpecsShareData(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold run of table1's ci profile: skipped with -short")
	}
	needData(t)
	ctx := context.Background()
	c, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	build := func(name string) *dag.Graph { return buildSpecWith(t, toyRegistry(), name, "ci") }
	sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: 2}}).Run(ctx, build("table1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	p, err := dag.MakePlan(ctx, build("toycurves.yaml"), c, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"data": true, "parts": true, "test": true, "noise40": true, "noise100": true, "noise200": true}
	toRun := 0
	for _, it := range p.Items {
		name := it.Node.Name()
		if want[name] {
			delete(want, name)
			if it.Status != dag.WillHit {
				t.Errorf("toycurves: data node %q is %s, want cached (table1's)", name, it.Status)
			}
		} else if it.Status != dag.WillHit {
			toRun++
		}
	}
	if len(want) > 0 || toRun == 0 {
		t.Errorf("toycurves: data nodes %v missing, %d nodes to run: want every data node present and the curves' train nodes to run", want, toRun)
	}
}
