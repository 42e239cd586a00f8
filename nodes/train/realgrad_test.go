package train

import (
	"slices"
	"testing"

	"dagrun/lib/learn"
)

// matchFixture is a segmentation set of 2×2 scenes over categories a, b,
// c, d (d in no training scene): scene i shows the categories cats[i].
func matchFixture(t *testing.T) *learn.Dataset {
	t.Helper()
	cats := [][]int{{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {1}, {2}}
	n := len(cats)
	sem := make([]uint8, n*4)
	for i, cs := range cats {
		for k, c := range cs {
			sem[i*4+k] = uint8(c + 1)
		}
	}
	ds, err := learn.Segmentation(make([]uint8, n*4), sem, n, 2, 2, []string{"a", "b", "c", "d"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// shows reports whether training image i of ds shows category c.
func shows(ds *learn.Dataset, i, c int) bool { return slices.Contains(ds.ByClass[c], i) }

// TestMatchedPicksDrawnCategories: per scene of the batch, in order, the
// matched image shows a category pasted into that scene — or, when nothing
// was pasted, one of the scene's own labels; a unit whose only category
// has no training image is skipped; only the first n are taken; every
// category of a unit gets drawn; equal seeds give equal picks.
func TestMatchedPicksDrawnCategories(t *testing.T) {
	ds := matchFixture(t)
	// Real batch of 4 scenes (labels after augmentation): scene 1 shows a
	// and c and nothing is pasted into it; scene 3 had only d pasted.
	real := learn.Batch{Y: []int{0, 0, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 2, 0, 0, 0}}
	prop := Proposal{Images: []int{0, 0, 2, 0, 3}, Categories: []string{"b", "c", "a", "c", "d"}}
	units := [][]int{{1, 2}, {0, 2}, {0}} // scene 3 has no category with a training image
	mt := newMatcher(ds, 3, 5)
	got := mt.units(real, prop)
	if len(got) != 4 || !slices.Equal(got[0], units[0]) || !slices.Equal(got[1], units[1]) || !slices.Equal(got[2], units[2]) || len(got[3]) != 0 {
		t.Fatalf("units %v, want %v and an empty one", got, units)
	}
	drawn := map[[2]int]bool{}
	for range 400 {
		idx := mt.pick(real, prop)
		if len(idx) != 3 {
			t.Fatalf("picked %v, want 3 images", idx)
		}
		for j, i := range idx {
			ok := false
			for _, c := range units[j] {
				if shows(ds, i, c) {
					ok, drawn[[2]int{j, c}] = true, true
				}
			}
			if !ok {
				t.Fatalf("pick %d: image %d shows none of the categories %v", j, i, units[j])
			}
		}
	}
	for j, u := range units {
		for _, c := range u {
			if !drawn[[2]int{j, c}] {
				t.Errorf("unit %d: category %d never matched in 400 draws", j, c)
			}
		}
	}
	if idx := newMatcher(ds, 2, 5).pick(real, prop); len(idx) != 2 {
		t.Errorf("n = 2 picked %v", idx)
	}
	a, b, c := newMatcher(ds, 3, 9), newMatcher(ds, 3, 9), newMatcher(ds, 3, 10)
	same, differ := true, false
	for range 20 {
		x, y, z := a.pick(real, prop), b.pick(real, prop), c.pick(real, prop)
		same = same && slices.Equal(x, y)
		differ = differ || !slices.Equal(x, z)
	}
	if !same || !differ {
		t.Errorf("equal seeds agree: %v; other seeds differ: %v", same, differ)
	}
	// Nothing to match: the real batch itself.
	empty := learn.Batch{Y: make([]int, 8)}
	if got, ok := mt.batch(empty, Proposal{}); ok || len(got.Y) != 8 {
		t.Errorf("nothing to match: ok %v, batch of %d labels; want the real batch", ok, len(got.Y))
	}
	if got, ok := mt.batch(real, prop); !ok || len(got.Index) != 3 || len(got.Y) != 12 {
		t.Errorf("matched batch: ok %v, %d images, %d labels", ok, len(got.Index), len(got.Y))
	}
}

// TestMatchedClassification: per generated item, one real image of its
// label; labels without real images are skipped.
func TestMatchedClassification(t *testing.T) {
	ds, err := learn.Classification(make([]uint8, 6), []int64{0, 1, 0, 1, 2, 2}, 6, 1, 1, []string{"a", "b", "c", "d"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	prop := Proposal{Categories: []string{"d", "c", "a", "b", "a"}}
	mt := newMatcher(ds, 3, 1)
	for range 100 {
		idx := mt.pick(learn.Batch{}, prop)
		if len(idx) != 3 || ds.Labels[idx[0]] != 2 || ds.Labels[idx[1]] != 0 || ds.Labels[idx[2]] != 1 {
			t.Fatalf("picked %v (labels of c, a, b wanted)", idx)
		}
	}
}
