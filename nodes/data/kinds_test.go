package data

import (
	"testing"

	"dagrun/nodes"
)

func TestKinds(t *testing.T) {
	r := nodes.NewRegistry(Kinds()...)
	want := []string{"coco", "dataset", "longtail", "ltseg", "split"}
	got := r.Names()
	if len(got) != len(want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	for i, k := range Kinds() {
		if got[i] != want[i] {
			t.Errorf("kind %d = %q, want %q", i, got[i], want[i])
		}
		if k.Doc == "" || k.Version < 1 || k.Params == nil || k.New == nil {
			t.Errorf("kind %q is incomplete: %+v", k.Name, k)
		}
		// Defaults of kinds that need no files build a node.
		if k.Name == "dataset" || k.Name == "split" || k.Name == "longtail" || k.Name == "ltseg" {
			if _, err := k.Construct(nodes.Build{}, k.Params()); err != nil {
				t.Errorf("kind %q rejects its defaults: %v", k.Name, err)
			}
		}
	}
}
