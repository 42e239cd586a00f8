package data

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

func TestPartSizes(t *testing.T) {
	tests := []struct {
		parts   []float64
		n       int
		want    []int
		wantErr bool
	}{
		{[]float64{0.5, 0.5}, 11, []int{6, 5}, false},
		{[]float64{0.25, 0.25, 0.25, 0.25}, 10, []int{3, 3, 2, 2}, false},
		{[]float64{0.1}, 25, []int{2}, false},
		{[]float64{3, 4}, 10, []int{3, 4}, false},
		{[]float64{1}, 7, []int{7}, false},
		{[]float64{8, 4}, 10, nil, true},
		{[]float64{0.5, 2.5}, 10, nil, true},
		{[]float64{0, 1}, 10, nil, true},
	}
	for _, tt := range tests {
		got, err := partSizes(tt.parts, tt.n)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("partSizes(%v, %d) = %v, %v; want %v (error %v)", tt.parts, tt.n, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSplit(t *testing.T) {
	dir := t.TempDir()
	writeIDXSet(t, dir, 1, 10, true)
	ds := filepath.Join(runKind(t, DatasetKind(), nodes.Build{}, func(p *DatasetParams) { p.Name, p.Dir, p.MirrorSafe = "idx", dir, true }, nil), "train")
	src, err := format.LoadClassification(ds)
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed uint64) (string, [][]int) {
		out := runKind(t, SplitKind(), nodes.Build{}, func(p *SplitParams) {
			p.Parts, p.Seed = []float64{0.5, 0.3, 0.2}, seed
		}, map[string][]string{"dataset": {ds}})
		var parts [][]int
		for i := 0; i < 3; i++ {
			c, err := format.LoadClassification(filepath.Join(out, "part"+strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			// Each image is the source image at its recorded index.
			for j, si := range c.Meta.SourceIndices {
				if !bytes.Equal(c.Image(j), src.Image(si)) || c.Labels[j] != src.Labels[si] {
					t.Fatalf("part%d image %d differs from source image %d", i, j, si)
				}
			}
			if len(c.Meta.MirrorSafe) != 10 || slices.Contains(c.Meta.MirrorSafe, false) {
				t.Errorf("part%d mirror_safe %v, want the source's (all true)", i, c.Meta.MirrorSafe)
			}
			parts = append(parts, c.Meta.SourceIndices)
		}
		return out, parts
	}
	out1, parts := run(4)
	var all []int
	for i, want := range []int{50, 30, 20} {
		if len(parts[i]) != want {
			t.Errorf("part%d has %d images, want %d", i, len(parts[i]), want)
		}
		all = append(all, parts[i]...)
	}
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("parts are not a disjoint cover of 0..99: sorted union[%d] = %d", i, v)
		}
	}
	out2, _ := run(4)
	if !reflect.DeepEqual(treeBytes(t, out1), treeBytes(t, out2)) {
		t.Error("same seed gave different bytes")
	}
	_, other := run(5)
	if reflect.DeepEqual(other, parts) {
		t.Error("different seeds gave the same split")
	}
}

func TestLongtail(t *testing.T) {
	ds := filepath.Join(synthDataset(t, 2, 30), "train")
	out := runKind(t, LongtailKind(), nodes.Build{}, func(p *LongtailParams) {
		p.Max, p.Min, p.RareMax, p.CommonMax, p.Seed = 30, 2, 4, 12, 1
	}, map[string][]string{"dataset": {ds}})
	c, err := format.LoadClassification(out)
	if err != nil {
		t.Fatal(err)
	}
	// 30·(2/30)^(r/9) for r = 0..9, rounded.
	want := []int{30, 22, 16, 12, 9, 7, 5, 4, 3, 2}
	counts := make([]int, 10)
	for _, l := range c.Labels {
		counts[l]++
	}
	got := slices.Clone(counts)
	slices.Sort(got)
	slices.Reverse(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted class counts = %v, want %v", got, want)
	}
	for cls, n := range counts {
		name := c.Meta.Classes[cls]
		g := format.Frequent
		if n <= 4 {
			g = format.Rare
		} else if n <= 12 {
			g = format.Common
		}
		if c.Meta.MirrorSafe == nil || c.Meta.MirrorSafe[cls] {
			t.Errorf("class %q: mirror_safe %v, want the source's false", name, c.Meta.MirrorSafe)
		}
		if c.Meta.Groups[name] != g || c.Meta.Counts[name] != n {
			t.Errorf("class %q: %d images, meta says %d in %q; want group %q", name, n, c.Meta.Counts[name], c.Meta.Groups[name], g)
		}
	}
	if _, err := tryRunKind(t, LongtailKind(), nodes.Build{}, func(p *LongtailParams) { p.Max = 31 },
		map[string][]string{"dataset": {ds}}); err == nil {
		t.Error("asking for more images than a class has: nil error, want one")
	}
}
