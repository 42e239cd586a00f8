package artifact

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
)

// A 3×2 mask worked by hand (h=3, w=2), row-major:
//
//	0 1
//	1 1
//	0 0
//
// Column-major it reads 0 1 0 | 1 1 0, so the runs are 1 zero, 1 one,
// 1 zero, 2 ones, 1 zero. Compressed: 1,1,1 as themselves; the fourth is
// 2−counts[1] = 1; the fifth 1−counts[2] = 0; each fits one 5-bit group, so
// the characters are '0'+v: "11110".
func TestRLEHandWorked(t *testing.T) {
	mask := []uint8{0, 1, 1, 1, 0, 0}
	r := EncodeRLE(mask, 3, 2)
	if want := []int{1, 1, 1, 2, 1}; !reflect.DeepEqual(r.Counts, want) {
		t.Fatalf("EncodeRLE = %v, want %v", r.Counts, want)
	}
	if got, want := r.Area(), 3; got != want {
		t.Errorf("Area() = %d, want %d", got, want)
	}
	if got, want := CompressRLE(r.Counts), "11110"; got != want {
		t.Errorf("CompressRLE = %q, want %q", got, want)
	}
	back, err := r.Decode()
	if err != nil || !reflect.DeepEqual(back, mask) {
		t.Errorf("Decode = %v, %v; want %v", back, err, mask)
	}
}

func TestCompressRLEHandWorked(t *testing.T) {
	tests := []struct {
		name   string
		counts []int
		want   string
	}{
		// 100 = 4 + 3·32: low group 4 with the continue bit (4|32 = 36 → 'T'),
		// then 3 → '3'.
		{"two groups", []int{100}, "T3"},
		// Fourth count 1 − counts[1] = −2: low 5 bits 30 (sign bit 0x10 set),
		// the rest is −1, so it stops: 30+48 = 78 → 'N'.
		{"negative delta", []int{5, 3, 1, 1}, "531N"},
		// A mask starting with a set pixel begins with a 0 run.
		{"leading zero", []int{0, 4}, "04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompressRLE(tt.counts); got != tt.want {
				t.Errorf("CompressRLE(%v) = %q, want %q", tt.counts, got, tt.want)
			}
			got, err := DecompressRLE(tt.want)
			if err != nil || !reflect.DeepEqual(got, tt.counts) {
				t.Errorf("DecompressRLE(%q) = %v, %v; want %v", tt.want, got, err, tt.counts)
			}
		})
	}
}

func TestRLERoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		h, w := 1+rng.IntN(40), 1+rng.IntN(40)
		p := rng.Float64()
		mask := make([]uint8, h*w)
		area := 0
		for i := range mask {
			if rng.Float64() < p {
				mask[i] = 1
				area++
			}
		}
		r := EncodeRLE(mask, h, w)
		sum := 0
		for _, c := range r.Counts {
			sum += c
		}
		if sum != h*w || r.Area() != area {
			t.Fatalf("trial %d: counts sum %d area %d, want %d and %d", trial, sum, r.Area(), h*w, area)
		}
		back, err := r.Decode()
		if err != nil || !reflect.DeepEqual(back, mask) {
			t.Fatalf("trial %d: decode mismatch (%v)", trial, err)
		}
		c, err := DecompressRLE(CompressRLE(r.Counts))
		if err != nil || !reflect.DeepEqual(c, r.Counts) {
			t.Fatalf("trial %d: compressed round trip %v, %v; want %v", trial, c, err, r.Counts)
		}
	}
}

func TestRLEDecodeRejects(t *testing.T) {
	tests := []RLE{
		{Size: [2]int{2, 2}, Counts: []int{1, 1}},  // too short
		{Size: [2]int{2, 2}, Counts: []int{1, 4}},  // overrun
		{Size: [2]int{2, 2}, Counts: []int{-1, 5}}, // negative
	}
	for _, r := range tests {
		if _, err := r.Decode(); err == nil {
			t.Errorf("Decode(%v) = nil error, want one", r.Counts)
		}
	}
	if _, err := DecompressRLE("1T"); err == nil {
		t.Error("DecompressRLE of a truncated number: nil error, want one")
	}
}

func TestRasterizePolygons(t *testing.T) {
	// Axis-aligned rectangle from (1,1) to (4,3): pixel centres x+0.5 in
	// (1,4) and y+0.5 in (1,3) → x = 1..3, y = 1..2.
	got := RasterizePolygons([][]float64{{1, 1, 4, 1, 4, 3, 1, 3}}, 4, 5)
	want := []uint8{
		0, 0, 0, 0, 0,
		0, 1, 1, 1, 0,
		0, 1, 1, 1, 0,
		0, 0, 0, 0, 0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rectangle = %v, want %v", got, want)
	}
	// Right triangle (0,0),(4,0),(0,4): centre (x+.5, y+.5) inside when
	// x+y+1 < 4, i.e. x+y ≤ 2: 6 pixels.
	tri := RasterizePolygons([][]float64{{0, 0, 4, 0, 0, 4}}, 4, 4)
	n := 0
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			in := x+y <= 2
			if (tri[y*4+x] == 1) != in {
				t.Errorf("triangle pixel (%d,%d) = %d, want inside=%v", x, y, tri[y*4+x], in)
			}
			n += int(tri[y*4+x])
		}
	}
	if n != 6 {
		t.Errorf("triangle area = %d, want 6", n)
	}
}

func TestSegmentationJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []uint8
	}{
		{"polygon", `[[0,0,2,0,2,1,0,1]]`, []uint8{1, 1, 0, 0}},
		{"uncompressed rle", `{"size":[2,2],"counts":[0,1,1,1,1]}`, []uint8{1, 1, 0, 0}},
		// Counts 0,1,1,1,1: from the fourth on as deltas to two before: 0, 0.
		{"compressed rle", `{"size":[2,2],"counts":"01100"}`, []uint8{1, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Segmentation
			if err := json.Unmarshal([]byte(tt.json), &s); err != nil {
				t.Fatal(err)
			}
			m, err := s.Mask(2, 2)
			if err != nil || !reflect.DeepEqual(m, tt.want) {
				t.Errorf("Mask = %v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestCOCOSaveLoad(t *testing.T) {
	mask := []uint8{0, 1, 1, 1, 0, 0}
	r := EncodeRLE(mask, 3, 2)
	box, area := MaskBBox(mask, 3, 2)
	if want := [4]float64{0, 0, 2, 2}; box != want || area != 3 {
		t.Errorf("MaskBBox = %v, %d; want %v, 3", box, area, want)
	}
	c := &COCO{
		Images:      []COCOImage{{ID: 1, FileName: "a.png", Width: 2, Height: 3}},
		Annotations: []COCOAnnotation{{ID: 1, ImageID: 1, CategoryID: 7, Segmentation: Segmentation{RLE: &r}, Area: float64(area), BBox: box}},
		Categories:  []COCOCategory{{ID: 7, Name: "seven", Frequency: "r", ImageCount: 1}},
	}
	p := filepath.Join(t.TempDir(), "a.json")
	if err := SaveCOCO(p, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCOCO(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip = %+v, want %+v", got, c)
	}
}
