package train

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"dagrun/format"
	"dagrun/lib/learn"
)

// blockScene is an s×s scene of background 0 with a w×h block of value 1
// and label lab (category lab−1) at (x0, y0).
func blockScene(s, x0, y0, w, h, lab int) ([]float32, []int) {
	x, y := make([]float32, s*s), make([]int, s*s)
	for r := y0; r < y0+h; r++ {
		for c := x0; c < x0+w; c++ {
			x[r*s+c], y[r*s+c] = 1, lab
		}
	}
	return x, y
}

// TestScaleCropPixelExact: on an 8×8 scene with a 4×4 block at (2, 2),
// halving (area averaging) and placing at (1, 3) gives the 2×2 block at
// (2, 4) with exact values; doubling (bilinear) and cropping at (5, 3)
// gives the labels of the 8×8 block at (−1, 1) clipped, and the image
// thresholded at ½ is exactly that mask (nearest-neighbour labels and the
// image's filter agree on the geometry).
func TestScaleCropPixelExact(t *testing.T) {
	const s = 8
	x, y := blockScene(s, 2, 2, 4, 4, 3)
	gx, gy := scaleCrop(x, y, s, s, 4, 4, 1, 3)
	wx, wy := blockScene(s, 2, 4, 2, 2, 3)
	if !slices.Equal(gx, wx) || !slices.Equal(gy, wy) {
		t.Errorf("halved at (1,3):\nimage %v\nlabels %v\nwant %v\n%v", gx, gy, wx, wy)
	}
	gx, gy = scaleCrop(x, y, s, s, 16, 16, 5, 3)
	_, wy = blockScene(s, 0, 1, 7, 7, 3)
	if !slices.Equal(gy, wy) {
		t.Errorf("doubled, cropped at (5,3): labels %v, want %v", gy, wy)
	}
	for p, v := range gx {
		if (v > 0.5) != (gy[p] != 0) {
			t.Errorf("doubled: pixel %d has value %v and label %d", p, v, gy[p])
		}
	}
}

// TestAugmentScaleKeepsMasksAligned: through apply, with the scale fixed
// at ½ (exact values) or 2 (threshold at ½), every scene's labels cover a
// block of the right size inside the scene (clipped by the crop) and the
// image agrees with them pixel for pixel; the offsets vary.
func TestAugmentScaleKeepsMasksAligned(t *testing.T) {
	const s, n = 8, 64
	ds := &learn.Dataset{Segmentation: true, N: n, H: s, W: s, Classes: []string{"a", "b", "c"}}
	for _, scale := range []float64{0.5, 2} {
		a, err := newAugmenter(AugmentParams{Scale: []float64{scale, scale}}, ds, 3)
		if err != nil {
			t.Fatal(err)
		}
		var b learn.Batch
		for range n {
			x, y := blockScene(s, 2, 2, 4, 4, 3)
			b.X, b.Y = append(b.X, x...), append(b.Y, y...)
		}
		a.apply(&b)
		corners := map[[2]int]bool{}
		for i := range n {
			x, y := b.X[i*s*s:(i+1)*s*s], b.Y[i*s*s:(i+1)*s*s]
			x0, y0, x1, y1 := s, s, -1, -1
			for p, l := range y {
				if l != 0 && l != 3 {
					t.Fatalf("scale %v scene %d: label %d", scale, i, l)
				}
				if l == 3 {
					x0, y0, x1, y1 = min(x0, p%s), min(y0, p/s), max(x1, p%s), max(y1, p/s)
				}
				on := x[p] > 0.5
				if scale == 0.5 && x[p] != 0 && x[p] != 1 {
					t.Fatalf("scale ½ scene %d pixel %d: value %v, want 0 or 1", i, p, x[p])
				}
				if on != (l == 3) {
					t.Fatalf("scale %v scene %d pixel %d: value %v, label %d", scale, i, p, x[p], l)
				}
			}
			side := int(4 * scale)
			w, h := x1-x0+1, y1-y0+1
			if w > side || h > side || (w < side && x0 != 0 && x1 != s-1) || (h < side && y0 != 0 && y1 != s-1) {
				t.Fatalf("scale %v scene %d: block %dx%d at (%d,%d), want %d×%d clipped only at the border", scale, i, w, h, x0, y0, side, side)
			}
			corners[[2]int{x0, y0}] = true
		}
		if len(corners) < 5 {
			t.Errorf("scale %v: %d distinct block positions over %d scenes, want the offsets to vary", scale, len(corners), n)
		}
	}
}

// TestAugmentFlipPixelExact: with flip on and every category
// mirror-safe, each scene comes out as it was or as its exact mirror
// (image and labels together), each about half the time.
func TestAugmentFlipPixelExact(t *testing.T) {
	const s, n = 8, 400
	ds := &learn.Dataset{Segmentation: true, N: n, H: s, W: s, Classes: []string{"a", "b"}, MirrorSafe: []bool{true, true}}
	a, err := newAugmenter(AugmentParams{Flip: true}, ds, 5)
	if err != nil {
		t.Fatal(err)
	}
	x0, y0 := blockScene(s, 1, 2, 3, 4, 2)
	for p := range x0 {
		x0[p] += float32(p) / 1000 // no two pixels alike
	}
	mx, my := slices.Clone(x0), slices.Clone(y0)
	flipRows(mx, s, s)
	flipRows(my, s, s)
	var b learn.Batch
	for range n {
		b.X, b.Y = append(b.X, x0...), append(b.Y, y0...)
	}
	a.apply(&b)
	flipped := 0
	for i := range n {
		x, y := b.X[i*s*s:(i+1)*s*s], b.Y[i*s*s:(i+1)*s*s]
		switch {
		case slices.Equal(x, x0) && slices.Equal(y, y0):
		case slices.Equal(x, mx) && slices.Equal(y, my):
			flipped++
		default:
			t.Fatalf("scene %d is neither the scene nor its mirror", i)
		}
	}
	if math.Abs(float64(flipped)/n-0.5) > 0.1 {
		t.Errorf("%d of %d scenes flipped, want about half", flipped, n)
	}
}

// TestAugmentNeverFlipsUnsafe: over many draws, a scene showing a
// category that is not mirror-safe is never flipped, even beside a safe
// one; nor is a classification image of such a label, while the safe
// label's images are flipped about half the time.
func TestAugmentNeverFlipsUnsafe(t *testing.T) {
	const s, n = 8, 500
	seg := &learn.Dataset{Segmentation: true, N: n, H: s, W: s, Classes: []string{"digit", "shoe"}, MirrorSafe: []bool{false, true}}
	a, err := newAugmenter(AugmentParams{Flip: true}, seg, 7)
	if err != nil {
		t.Fatal(err)
	}
	x0, y0 := blockScene(s, 0, 0, 2, 3, 1) // a digit (label 1) at the left
	x1, y1 := blockScene(s, 5, 4, 2, 2, 2) // a shoe at the right
	for p := range x0 {
		x0[p] += x1[p]
		y0[p] += y1[p]
	}
	var b learn.Batch
	for range n {
		b.X, b.Y = append(b.X, x0...), append(b.Y, y0...)
	}
	a.apply(&b)
	for i := range n {
		if !slices.Equal(b.X[i*s*s:(i+1)*s*s], x0) || !slices.Equal(b.Y[i*s*s:(i+1)*s*s], y0) {
			t.Fatalf("scene %d with a category that is not mirror-safe was changed", i)
		}
	}

	cls := &learn.Dataset{N: n, H: s, W: s, Classes: []string{"digit", "shoe"}, MirrorSafe: []bool{false, true}}
	a, err = newAugmenter(AugmentParams{Flip: true}, cls, 7)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := blockScene(s, 0, 0, 3, 3, 1)
	b = learn.Batch{}
	for i := range n {
		b.X, b.Y = append(b.X, img...), append(b.Y, i%2) // labels 0 (digit), 1 (shoe) alternately
	}
	a.apply(&b)
	flipped := [2]int{}
	for i := range n {
		if !slices.Equal(b.X[i*s*s:(i+1)*s*s], img) {
			flipped[i%2]++
		}
	}
	if flipped[0] != 0 {
		t.Errorf("%d digit images flipped, want none", flipped[0])
	}
	if math.Abs(float64(flipped[1])/(n/2)-0.5) > 0.12 {
		t.Errorf("%d of %d shoe images flipped, want about half", flipped[1], n/2)
	}
}

// TestAugmentPadCrop: pad p shifts each image by (dx, dy) in [−p, p]²
// with zeros coming in, every shift occurring.
func TestAugmentPadCrop(t *testing.T) {
	const s, n, pad = 6, 300, 2
	ds := &learn.Dataset{N: n, H: s, W: s, Classes: []string{"a"}}
	a, err := newAugmenter(AugmentParams{Pad: pad}, ds, 11)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, s*s)
	for p := range img {
		img[p] = float32(p + 1)
	}
	var b learn.Batch
	for range n {
		b.X, b.Y = append(b.X, img...), append(b.Y, 0)
	}
	a.apply(&b)
	seen := map[[2]int]bool{}
	for i := range n {
		x := b.X[i*s*s : (i+1)*s*s]
		found := false
		for dy := -pad; dy <= pad && !found; dy++ {
			for dx := -pad; dx <= pad && !found; dx++ {
				if slices.Equal(x, shift(img, s, s, dx, dy)) {
					found, seen[[2]int{dx, dy}] = true, true
				}
			}
		}
		if !found {
			t.Fatalf("image %d is no shift of the input by at most %d: %v", i, pad, x)
		}
	}
	if len(seen) != (2*pad+1)*(2*pad+1) {
		t.Errorf("%d distinct shifts, want all %d", len(seen), (2*pad+1)*(2*pad+1))
	}
	if got := shift(img, s, s, 1, -1); got[0] != 0 || got[s] != img[1] {
		t.Errorf("shift by (1, −1): %v", got)
	}
}

// TestAugmentDeterministic: the same seed gives the same bits, another
// seed other bits; params for the other task are refused.
func TestAugmentDeterministic(t *testing.T) {
	const s, n = 8, 16
	ds := &learn.Dataset{Segmentation: true, N: n, H: s, W: s, Classes: []string{"a", "b"}, MirrorSafe: []bool{true, true}}
	p := AugmentParams{Scale: []float64{0.6, 1.7}, Flip: true}
	out := func(seed uint64) learn.Batch {
		a, err := newAugmenter(p, ds, seed)
		if err != nil {
			t.Fatal(err)
		}
		var b learn.Batch
		for i := range n {
			x, y := blockScene(s, i%4, i%3, 3, 4, 1+i%2)
			b.X, b.Y = append(b.X, x...), append(b.Y, y...)
		}
		a.apply(&b)
		return b
	}
	a, b, c := out(1), out(1), out(2)
	if !slices.Equal(a.X, b.X) || !slices.Equal(a.Y, b.Y) {
		t.Error("equal seeds gave different augmentations")
	}
	if slices.Equal(a.X, c.X) {
		t.Error("seeds 1 and 2 gave the same augmentation")
	}
	if _, err := newAugmenter(AugmentParams{Pad: 2}, ds, 1); err == nil {
		t.Error("pad on a segmentation set: no error")
	}
	if _, err := newAugmenter(AugmentParams{Scale: []float64{1, 2}}, &learn.Dataset{N: 1, H: s, W: s}, 1); err == nil {
		t.Error("scale on a classification set: no error")
	}
	if a, err := newAugmenter(AugmentParams{}, ds, 1); a != nil || err != nil {
		t.Errorf("all off: augmenter %v, error %v; want none", a, err)
	}
	for _, bad := range []AugmentParams{{Scale: []float64{0.5}}, {Scale: []float64{2, 1}}, {Scale: []float64{0, 1}}, {Scale: []float64{1, 5}}, {Pad: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// batchRecorder proposes nothing and records every real batch it is shown.
type batchRecorder struct{ batches []learn.Batch }

func (r *batchRecorder) Propose(_ context.Context, _ Step, b learn.Batch) (Proposal, bool, error) {
	r.batches = append(r.batches, learn.Batch{X: slices.Clone(b.X), Y: slices.Clone(b.Y), Index: slices.Clone(b.Index)})
	return Proposal{}, false, nil
}

// TestAugmentBeforeProposing: the real batch the proposer is shown (what
// the paster copies, and what a rejected iteration trains on) is the
// sampled batch augmented, from augmentation's own stream: the same
// images are sampled with augmentation on as off, and an augmenter of the
// same seed applied to them gives exactly what the proposer saw.
func TestAugmentBeforeProposing(t *testing.T) {
	s, err := format.LoadSegmentation(writeSegmentation(t, 12, 21))
	if err != nil {
		t.Fatal(err)
	}
	s.Meta.MirrorSafe = []bool{true, false, true}
	dir := filepath.Join(t.TempDir(), "seg")
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	p := DefaultParams()
	p.Arch, p.Iterations, p.BatchSize, p.Seed = "fcn", 6, 4, 3
	p.Select.Mode = ModeAll
	seen := func(aug AugmentParams) []learn.Batch {
		p.Augment = aug
		env, _ := newEnv(t, dir, "")
		rec := &batchRecorder{}
		if err := run(t, p, env, rec); err != nil {
			t.Fatal(err)
		}
		return rec.batches
	}
	plain := seen(AugmentParams{})
	aug := AugmentParams{Scale: []float64{0.5, 1.5}, Flip: true}
	augd := seen(aug)
	ds, _, err := loadDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := newAugmenter(aug, ds, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := range plain {
		if !slices.Equal(plain[i].Index, augd[i].Index) {
			t.Fatalf("iteration %d: images %v with augmentation, %v without", i+1, augd[i].Index, plain[i].Index)
		}
		want := ds.Batch(plain[i].Index)
		if !slices.Equal(want.X, plain[i].X) {
			t.Fatalf("iteration %d: without augmentation the proposer saw other pixels than the sampled images'", i+1)
		}
		replay.apply(&want)
		if !slices.Equal(want.Y, augd[i].Y) {
			t.Fatalf("iteration %d: the proposer saw labels other than the augmented batch's", i+1)
		}
		if !slices.Equal(want.X, augd[i].X) {
			t.Fatalf("iteration %d: the proposer saw pixels other than the augmented batch's", i+1)
		}
		if !slices.Equal(augd[i].X, plain[i].X) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("augmentation changed no batch")
	}
}
