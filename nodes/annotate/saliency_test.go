package annotate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"dagrun/format"
	ot "dagrun/lib/onnx/onnxtest"
	"dagrun/nodes"
)

// saliencyModel is a tiny U2Net-shaped model: the channel mean of the
// normalised input, scaled by k, through a sigmoid. Output 0 is the
// inverted map sigmoid(−k·mean), output 1 the map itself. side < 0 makes
// the spatial size dynamic.
func saliencyModel(k float32, side int64) ot.Graph {
	w := []float32{k / 3, k / 3, k / 3}
	return ot.Graph{
		Nodes: []ot.Node{
			ot.Op("Conv", "c", []string{"x", "w"}, ot.Ints("kernel_shape", 1, 1)),
			ot.Op("Neg", "nc", []string{"c"}),
			ot.Op("Sigmoid", "inv", []string{"nc"}),
			ot.Op("Sigmoid", "d0", []string{"c"}),
		},
		Inits:   []ot.Tensor{{Name: "w", Dims: []int64{1, 3, 1, 1}, Float: w}},
		Inputs:  []ot.Value{{Name: "x", Shape: []int64{1, 3, side, side}}},
		Outputs: []ot.Value{{Name: "inv", Shape: []int64{1, 1, side, side}}, {Name: "d0", Shape: []int64{1, 1, side, side}}},
	}
}

type sha256Hasher struct{}

func (sha256Hasher) FileDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

func TestSaliencyEndToEnd(t *testing.T) {
	ot.Runtime(t)
	dir := t.TempDir()
	ot.WriteModel(t, dir, "dyn.onnx", saliencyModel(20, -1))
	fixed := ot.WriteModel(t, dir, "fixed.onnx", saliencyModel(20, 8))
	pool := writePool(t, 5, 8)
	p, err := format.LoadPool(pool)
	if err != nil {
		t.Fatal(err)
	}
	run := func(set func(*SaliencyParams)) (*format.Masks, error) {
		out, err := runKind(t, SaliencyKind(), nodes.Build{Dir: dir}, func(a any) {
			sp := a.(*SaliencyParams)
			sp.Normalize, sp.Output = NoNorm, 1
			set(sp)
		}, pool)
		if err != nil {
			return nil, err
		}
		return format.LoadMasks(out)
	}

	// At the pool's own size the resizes are the identity, so with mean
	// 0.5 and std 1 the map is sigmoid(20·(v/255 − 0.5)) and the mask is
	// exactly v > 127.5.
	want := ThresholdMask(p.Images, 127)
	for _, tc := range []struct {
		name string
		set  func(*SaliencyParams)
		want []uint8
	}{
		{"fixed size from the model", func(sp *SaliencyParams) { sp.Model = "fixed.onnx" }, want},
		{"dynamic model, size 8", func(sp *SaliencyParams) { sp.Model = "dyn.onnx"; sp.Size = 8 }, want},
		{"output 0 is the inverted map", func(sp *SaliencyParams) { sp.Model = "dyn.onnx"; sp.Size = 8; sp.Output = 0 }, invert(want)},
		// Padded by 3 to 14×14 and run at 14: the map is pointwise, so
		// cropping it back must give the unpadded mask (a wrong crop
		// offset shifts it).
		{"pad 3 at size 14", func(sp *SaliencyParams) { sp.Model = "dyn.onnx"; sp.Size = 14; sp.Pad = 3 }, want},
	} {
		m, err := run(tc.set)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(m.Masks, tc.want) {
			t.Errorf("%s: masks differ from the hand-computed ones", tc.name)
		}
	}

	// Through a 16×16 input the maps are resampled twice; pixels whose
	// whole 3×3 neighbourhood lies on one side of 127.5 keep their label.
	m, err := run(func(sp *SaliencyParams) { sp.Model = "dyn.onnx"; sp.Size = 16 })
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i := 0; i < p.N; i++ {
		img, mask := p.Image(i), m.Mask(i)
		for y := 1; y < 7; y++ {
			for x := 1; x < 7; x++ {
				same := true
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						same = same && (img[(y+dy)*8+x+dx] > 127) == (img[y*8+x] > 127)
					}
				}
				if same {
					checked++
					if mask[y*8+x] != want[i*64+y*8+x] {
						t.Errorf("size 16: item %d pixel (%d,%d) value %d: mask %d", i, y, x, img[y*8+x], mask[y*8+x])
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d interior pixels checked", checked)
	}

	// Min-max normalisation rescales each map; the sigmoid is monotone, so
	// the mask is still a threshold of the image: everything it marks is
	// brighter than everything it leaves out.
	m, err = run(func(sp *SaliencyParams) { sp.Model = "dyn.onnx"; sp.Size = 8; sp.Normalize = MinMax })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < p.N; i++ {
		lo, hi := 256, -1
		for j, v := range p.Image(i) {
			if m.Mask(i)[j] == 1 {
				lo = min(lo, int(v))
			} else {
				hi = max(hi, int(v))
			}
		}
		if lo <= hi || lo == 256 {
			t.Errorf("minmax: item %d: marked pixels from %d, unmarked up to %d", i, lo, hi)
		}
	}

	// Errors name the file, and what to set.
	for _, tc := range []struct {
		set  func(*SaliencyParams)
		want []string
	}{
		{func(sp *SaliencyParams) { sp.Model = "dyn.onnx" }, []string{"dyn.onnx", "set the size param"}},
		{func(sp *SaliencyParams) { sp.Model = "fixed.onnx"; sp.Size = 16 }, []string{"fixed.onnx", `input "x" has shape [1 3 8 8], want [1 3 16 16]`}},
		{func(sp *SaliencyParams) { sp.Model = "fixed.onnx"; sp.Input = "image" }, []string{"fixed.onnx", `no input "image"`}},
		{func(sp *SaliencyParams) { sp.Model = "fixed.onnx"; sp.Output = 2 }, []string{"fixed.onnx", "output 2 requested, the model has 2"}},
		{func(sp *SaliencyParams) { sp.Model = "gone.onnx" }, []string{"gone.onnx", "does not exist"}},
	} {
		_, err := run(tc.set)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error = %v, want it to say %q", err, w)
			}
		}
	}

	// The key sees the model's content, not its name.
	n, err := SaliencyKind().New(nodes.Build{Dir: dir}, &SaliencyParams{Model: "fixed.onnx", Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}, Normalize: NoNorm})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := n.(nodes.Fingerprinter).Fingerprint(context.Background(), sha256Hasher{})
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := sha256Hasher{}.FileDigest(fixed)
	if len(fp) != 1 || fp["model"] != wantDigest {
		t.Errorf("Fingerprint = %v, want model: %s", fp, wantDigest)
	}
}

func invert(m []uint8) []uint8 {
	out := make([]uint8, len(m))
	for i, v := range m {
		out[i] = 1 - v
	}
	return out
}
