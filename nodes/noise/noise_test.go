package noise

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

func meanStd(xs []uint8) (float64, float64) {
	var s, ss float64
	for _, x := range xs {
		s += float64(x)
	}
	m := s / float64(len(xs))
	for _, x := range xs {
		ss += (float64(x) - m) * (float64(x) - m)
	}
	return m, math.Sqrt(ss / float64(len(xs)))
}

// TestApplyStatistics: away from the clip, the noise has mean 0 and std σ;
// at 0 it is clipped, so about half the pixels stay 0; σ = 0 is identity.
func TestApplyStatistics(t *testing.T) {
	grey := bytes.Repeat([]uint8{128}, 40000)
	for _, sigma := range []float64{10, 40} {
		m, s := meanStd(Apply(grey, sigma, 1))
		if math.Abs(m-128) > 0.02*sigma+0.1 || math.Abs(s-sigma)/sigma > 0.02 {
			t.Errorf("σ=%v on grey 128: mean %.3f std %.3f", sigma, m, s)
		}
	}
	black := make([]uint8, 40000)
	zeros := 0
	for _, v := range Apply(black, 200, 2) {
		if v == 0 {
			zeros++
		}
	}
	// P(200·z < 0.5) = Φ(0.0025) ≈ 0.501.
	if f := float64(zeros) / 40000; math.Abs(f-0.501) > 0.01 {
		t.Errorf("σ=200 on black: %.3f of pixels stay 0, want about 0.501", f)
	}
	ramp := make([]uint8, 256)
	for i := range ramp {
		ramp[i] = uint8(i)
	}
	if !slices.Equal(Apply(ramp, 0, 3), ramp) {
		t.Error("σ=0 changed the image")
	}
	if slices.Equal(Apply(grey, 40, 1), Apply(grey, 40, 2)) || !slices.Equal(Apply(grey, 40, 1), Apply(grey, 40, 1)) {
		t.Error("noise is not a function of the seed")
	}
}

// TestRun: the node writes a pool dir that keeps labels and classes, tags
// its source, and is byte-identical across runs.
func TestRun(t *testing.T) {
	src := &format.Classification{N: 3, H: 4, W: 4, Images: bytes.Repeat([]uint8{100}, 48), Labels: []int64{0, 1, 1},
		Meta: format.ClassMeta{Classes: []string{"x", "y"}}}
	in := filepath.Join(t.TempDir(), "in")
	if err := src.Save(in); err != nil {
		t.Fatal(err)
	}
	k := Kind()
	var outs [][]byte
	for _, c := range []struct{ source, want string }{{"", "noise-σ40"}, {"", "noise-σ40"}, {"mine", "mine"}} {
		p := k.Params().(*Params)
		p.Source = c.source
		node, err := k.New(nodes.Build{}, p)
		if err != nil {
			t.Fatal(err)
		}
		env := &nodes.Env{Inputs: map[string][]string{"dataset": {in}}, OutDir: t.TempDir()}
		if err := node.Run(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		pool, err := format.LoadPools([]string{env.OutDir})
		if err != nil {
			t.Fatal(err)
		}
		if pool.Sources[0] != c.want || !slices.Equal(pool.Labels, []int{0, 1, 1}) || !slices.Equal(pool.Classes, src.Meta.Classes) {
			t.Errorf("pool source %q labels %v classes %v", pool.Sources[0], pool.Labels, pool.Classes)
		}
		if slices.Equal(pool.Images, src.Images) {
			t.Error("no noise was added")
		}
		b, _ := os.ReadFile(filepath.Join(env.OutDir, "images.npy"))
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two runs differ")
	}
	if _, err := k.New(nodes.Build{}, &Params{Sigma: -1}); err == nil {
		t.Error("negative sigma accepted")
	}
}
