package resample

import (
	"math"
	"testing"
)

func TestArea(t *testing.T) {
	for _, tc := range []struct {
		name           string
		src            []float64
		sw, sh, dw, dh int
		want           []float64
	}{
		{"mean of 2x2", []float64{1, 2, 3, 4}, 2, 2, 1, 1, []float64{2.5}},
		{"3 to 2 by area", []float64{0, 3, 6}, 3, 1, 2, 1, []float64{1, 5}},
		{"1 to 3 copies", []float64{7}, 1, 1, 3, 1, []float64{7, 7, 7}},
		{"identity", []float64{1, 2, 3, 4, 5, 6}, 3, 2, 3, 2, []float64{1, 2, 3, 4, 5, 6}},
	} {
		got := Area(tc.src, tc.sw, tc.sh, tc.dw, tc.dh)
		for i := range tc.want {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func TestToByte(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want uint8
	}{{-3, 0}, {math.NaN(), 0}, {0.49, 0}, {0.5, 1}, {127.5, 128}, {254.6, 255}, {300, 255}} {
		if got := ToByte(tc.in); got != tc.want {
			t.Errorf("ToByte(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestBilinear(t *testing.T) {
	src := []float32{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15} // 4×4
	// 4→2 samples source coordinates 0.5 and 2.5: the 2×2 block means.
	if got, want := Bilinear(src, 4, 4, 2, 2), []float32{2.5, 10.5, 4.5, 12.5}; !equalF(got, want, 1e-6) {
		t.Errorf("Bilinear 4→2 = %v, want %v", got, want)
	}
	// 2→4 samples −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
	if got, want := Bilinear([]float32{0, 8}, 1, 2, 1, 4), []float32{0, 2, 6, 8}; !equalF(got, want, 1e-6) {
		t.Errorf("Bilinear 2→4 = %v, want %v", got, want)
	}
	if got := Bilinear(src, 4, 4, 4, 4); !equalF(got, src, 0) {
		t.Errorf("Bilinear to the same size = %v", got)
	}
}

func equalF(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}
