package spoil

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

// blobs is an instances pool of n 16×16 items: item i is a filled square
// of side 6+i%5 at a position that depends on i, grey 200 on a noisy
// background, labelled i%3.
func blobs(n int) *format.Instances {
	const s = 16
	r := rand.New(rand.NewPCG(7, 8))
	in := &format.Instances{N: n, H: s, W: s, Images: make([]uint8, n*s*s), Masks: make([]uint8, n*s*s),
		Labels: make([]int64, n), Scores: make([]float32, n),
		Meta: format.InstancesMeta{Classes: []string{"a", "b", "c"}, Source: "gen"}}
	for i := range n {
		in.Labels[i] = int64(i % 3)
		in.Scores[i] = float32(i)
		side, ox, oy := 6+i%5, i%4, (i/4)%4
		for y := range s {
			for x := range s {
				j := i*s*s + y*s + x
				in.Images[j] = uint8(r.IntN(40))
				if x >= ox && x < ox+side && y >= oy && y < oy+side {
					in.Images[j], in.Masks[j] = 200, 1
				}
			}
		}
	}
	return in
}

func clone(in *format.Instances) *format.Instances {
	c := *in
	c.Images, c.Masks, c.Labels, c.Scores = slices.Clone(in.Images), slices.Clone(in.Masks), slices.Clone(in.Labels), slices.Clone(in.Scores)
	return &c
}

func ones(m []uint8) int {
	n := 0
	for _, v := range m {
		n += int(v)
	}
	return n
}

// TestSpoilDefects checks each defect type's property on its items, that
// each type has exactly round(rate·N) items, and that clean items and all
// labels are untouched.
func TestSpoilDefects(t *testing.T) {
	const n = 200
	orig := blobs(n)
	in := clone(orig)
	p := Params{WrongCategory: 0.1, EmptyMask: 0.05, BoxMask: 0.1, Fragment: 0.125, Multi: 0.1, Noise: 0.05, NoiseSigma: 80, Seed: 3}
	truth, err := Spoil(in, p)
	if err != nil {
		t.Fatal(err)
	}
	hw := in.H * in.W
	at := func(a []uint8, i int) []uint8 { return a[i*hw : (i+1)*hw] }
	got := map[string]int{}
	for _, x := range truth {
		got[x]++
	}
	want := map[string]int{"wrong_category": 20, "empty_mask": 10, "box_mask": 20, "fragment": 25, "multi": 20, "noise": 10, format.TruthClean: 95}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%d items of truth %q, want %d (counts %v)", got[k], k, w, got)
		}
	}
	if !slices.Equal(in.Labels, orig.Labels) || !slices.Equal(in.Scores, orig.Scores) {
		t.Error("labels or scores changed")
	}
	for i, x := range truth {
		m, om := at(in.Masks, i), at(orig.Masks, i)
		im, oi := at(in.Images, i), at(orig.Images, i)
		switch x {
		case format.TruthClean:
			if !bytes.Equal(m, om) || !bytes.Equal(im, oi) {
				t.Errorf("clean item %d changed", i)
			}
		case "wrong_category":
			// Its pixels and mask are those of an item of another label.
			found := false
			for j := range n {
				if orig.Labels[j] != orig.Labels[i] && bytes.Equal(im, at(orig.Images, j)) && bytes.Equal(m, at(orig.Masks, j)) {
					found = true
				}
			}
			if !found {
				t.Errorf("wrong_category item %d shows no item of another label", i)
			}
		case "empty_mask":
			if c := ones(m); c < 1 || c > 4 || !subset(m, om) || !bytes.Equal(im, oi) {
				t.Errorf("empty_mask item %d: %d mask pixels (subset %v), want 1 to 4 of the original", i, c, subset(m, om))
			}
		case "box_mask":
			if ones(m) != hw || !bytes.Equal(im, oi) {
				t.Errorf("box_mask item %d: %d of %d mask pixels, want all", i, ones(m), hw)
			}
		case "fragment":
			if c := ones(m); c == 0 || c >= ones(om) || !subset(m, om) || !bytes.Equal(im, oi) {
				t.Errorf("fragment item %d: %d of %d pixels (subset %v), want a strict non-empty subset", i, c, ones(om), subset(m, om))
			}
		case "multi":
			// Two objects, one in each half of the frame.
			l, r := 0, 0
			for k, v := range m {
				if k%in.W < in.W/2 {
					l += int(v)
				} else {
					r += int(v)
				}
			}
			if l == 0 || r == 0 {
				t.Errorf("multi item %d: %d and %d mask pixels in the halves, want both > 0", i, l, r)
			}
		case "noise":
			diff := 0
			for k := range im {
				if im[k] != oi[k] {
					diff++
				}
			}
			if !bytes.Equal(m, om) || diff < hw/2 {
				t.Errorf("noise item %d: %d of %d pixels changed (mask kept %v)", i, diff, hw, bytes.Equal(m, om))
			}
		}
	}
}

func subset(a, b []uint8) bool {
	for i := range a {
		if a[i] != 0 && b[i] == 0 {
			return false
		}
	}
	return true
}

// TestSpoilDeterministic: equal params give equal outputs; another seed
// spoils other items.
func TestSpoilDeterministic(t *testing.T) {
	p := Params{WrongCategory: 0.1, Fragment: 0.1, Multi: 0.1, Noise: 0.1, NoiseSigma: 80, Seed: 5}
	a, b := clone(blobs(60)), clone(blobs(60))
	ta, err := Spoil(a, p)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := Spoil(b, p)
	if !slices.Equal(ta, tb) || !bytes.Equal(a.Images, b.Images) || !bytes.Equal(a.Masks, b.Masks) {
		t.Error("two runs with one seed differ")
	}
	p.Seed = 6
	c := clone(blobs(60))
	tc, _ := Spoil(c, p)
	if slices.Equal(ta, tc) {
		t.Error("seeds 5 and 6 chose the same items")
	}
}

// TestSpoilErrors: rates that cannot be met are errors, not panics.
func TestSpoilErrors(t *testing.T) {
	if err := (Params{BoxMask: 0.7, Noise: 0.5}).Validate(); err == nil {
		t.Error("rates summing to 1.2 validated")
	}
	if err := (Params{Noise: -0.1}).Validate(); err == nil {
		t.Error("a negative rate validated")
	}
	in := blobs(10)
	for i := range 5 {
		clear(in.Masks[i*256 : (i+1)*256])
	}
	if _, err := Spoil(in, Params{BoxMask: 0.6}); err == nil {
		t.Error("spoiling 6 items of which 5 have no object succeeded")
	}
	one := blobs(6)
	for i := range one.Labels {
		one.Labels[i] = 0
	}
	if _, err := Spoil(one, Params{WrongCategory: 0.5}); err == nil {
		t.Error("wrong_category with one label succeeded")
	}
}

// TestSpoilImages checks the classification defects and their counts.
func TestSpoilImages(t *testing.T) {
	const n = 80
	r := rand.New(rand.NewPCG(1, 1))
	c := &format.Classification{N: n, H: 8, W: 8, Images: make([]uint8, n*64), Labels: make([]int64, n),
		Meta: format.ClassMeta{Classes: []string{"a", "b", "c", "d"}}}
	for i := range c.Images {
		c.Images[i] = uint8(r.IntN(256))
	}
	for i := range n {
		c.Labels[i] = int64(i % 4)
	}
	orig := &format.Classification{N: n, H: 8, W: 8, Images: slices.Clone(c.Images), Labels: slices.Clone(c.Labels), Meta: c.Meta}
	truth, err := SpoilImages(c, ImagesParams{WrongLabel: 0.25, Noise: 0.125, Blank: 0.1, NoiseSigma: 80, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i, x := range truth {
		got[x]++
		im, oi := c.Image(i), orig.Image(i)
		switch x {
		case format.TruthClean:
			if !bytes.Equal(im, oi) || c.Labels[i] != orig.Labels[i] {
				t.Errorf("clean item %d changed", i)
			}
		case "wrong_label":
			if c.Labels[i] == orig.Labels[i] || c.Labels[i] < 0 || c.Labels[i] > 3 || !bytes.Equal(im, oi) {
				t.Errorf("wrong_label item %d: label %d (was %d)", i, c.Labels[i], orig.Labels[i])
			}
		case "noise":
			if bytes.Equal(im, oi) || c.Labels[i] != orig.Labels[i] {
				t.Errorf("noise item %d unchanged", i)
			}
		case "blank":
			for _, v := range im {
				if v != im[0] {
					t.Fatalf("blank item %d is not flat", i)
				}
			}
		}
	}
	if got["wrong_label"] != 20 || got["noise"] != 10 || got["blank"] != 8 || got[format.TruthClean] != 42 {
		t.Errorf("counts %v, want wrong_label 20, noise 10, blank 8, clean 42", got)
	}
}

// TestSpoilRun runs the kind: its output is an instances dir whose
// truth.csv parses to one row per item and matches Spoil's.
func TestSpoilRun(t *testing.T) {
	in := blobs(30)
	src := t.TempDir()
	if err := in.Save(src); err != nil {
		t.Fatal(err)
	}
	k := Kind()
	p := k.Params().(*Params)
	p.BoxMask, p.Fragment, p.Seed = 0.2, 0.2, 1
	node, err := k.Construct(nodes.Build{}, p)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := node.Run(context.Background(), &nodes.Env{Inputs: map[string][]string{"instances": {src}}, OutDir: out, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	got, err := format.LoadInstances(out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, format.TruthFile))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := format.ParseTruth(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Spoil(clone(blobs(30)), *p)
	if got.N != 30 || !slices.Equal(truth, want) {
		t.Errorf("truth.csv %q, want %q", truth, want)
	}
}

// runKind runs kind k with params p on inputs and returns its output dir.
func runKind(t *testing.T, k *nodes.Kind, p any, inputs map[string][]string) string {
	t.Helper()
	node, err := k.Construct(nodes.Build{}, p)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := node.Run(context.Background(), &nodes.Env{Inputs: inputs, OutDir: out, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOracleDropsExactlyTheDefective: clean_only with the same rates and
// seed writes exactly the items the spoiled pool's truth.csv calls clean,
// in order, for both kinds.
func TestOracleDropsExactlyTheDefective(t *testing.T) {
	src := t.TempDir()
	if err := blobs(40).Save(src); err != nil {
		t.Fatal(err)
	}
	p := Params{WrongCategory: 0.1, BoxMask: 0.1, Fragment: 0.1, Multi: 0.1, Noise: 0.1, NoiseSigma: 80, Seed: 4}
	spoiled := runKind(t, Kind(), &p, map[string][]string{"instances": {src}})
	p.CleanOnly = true
	oracle := runKind(t, Kind(), &p, map[string][]string{"instances": {src}})
	b, _ := os.ReadFile(filepath.Join(spoiled, format.TruthFile))
	truth, err := format.ParseTruth(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := format.LoadInstances(spoiled)
	o, err := format.LoadInstances(oracle)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i, x := range truth {
		if x == format.TruthClean {
			want = append(want, i)
		}
	}
	hw := s.H * s.W
	if o.N != len(want) || len(want) != 20 {
		t.Fatalf("oracle has %d items, truth.csv %d clean of 40 (want 20)", o.N, len(want))
	}
	for k, i := range want {
		if !bytes.Equal(o.Images[k*hw:(k+1)*hw], s.Images[i*hw:(i+1)*hw]) || !bytes.Equal(o.Masks[k*hw:(k+1)*hw], s.Masks[i*hw:(i+1)*hw]) || o.Labels[k] != s.Labels[i] {
			t.Errorf("oracle item %d is not clean item %d", k, i)
		}
	}

	// The classification kind likewise.
	c := &format.Classification{N: 30, H: 4, W: 4, Images: make([]uint8, 30*16), Labels: make([]int64, 30), Meta: format.ClassMeta{Classes: []string{"a", "b"}}}
	for i := range c.Images {
		c.Images[i] = uint8(i * 7)
	}
	for i := range c.Labels {
		c.Labels[i] = int64(i % 2)
	}
	pool := filepath.Join(t.TempDir(), "pool")
	if err := c.Save(pool); err != nil {
		t.Fatal(err)
	}
	ip := ImagesParams{WrongLabel: 0.2, Blank: 0.2, Noise: 0.1, NoiseSigma: 80, Seed: 1}
	sp := runKind(t, ImagesKind(), &ip, map[string][]string{"pool": {pool}})
	ip.CleanOnly = true
	op := runKind(t, ImagesKind(), &ip, map[string][]string{"pool": {pool}})
	b, _ = os.ReadFile(filepath.Join(sp, format.TruthFile))
	if truth, err = format.ParseTruth(b); err != nil {
		t.Fatal(err)
	}
	sc, _ := format.LoadClassification(sp)
	oc, err := format.LoadClassification(op)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for i, x := range truth {
		if x != format.TruthClean {
			continue
		}
		if k >= oc.N || !bytes.Equal(oc.Image(k), sc.Image(i)) || oc.Labels[k] != sc.Labels[i] {
			t.Fatalf("oracle image %d is not clean item %d", k, i)
		}
		k++
	}
	if k != oc.N || k != 15 {
		t.Errorf("oracle has %d images, %d clean of 30 (want 15)", oc.N, k)
	}
}
