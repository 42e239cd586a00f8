package learn

import "testing"

// TestBalancedSampler: on a long tail of 1, 10 and 100 images, balanced
// sampling draws each category about equally often, uniform sampling by size.
func TestBalancedSampler(t *testing.T) {
	d := &Dataset{N: 111, ByClass: [][]int{{0}, make([]int, 10), make([]int, 100)}}
	lab := make([]int, 111)
	for i := range d.ByClass[1] {
		d.ByClass[1][i] = 1 + i
		lab[1+i] = 1
	}
	for i := range d.ByClass[2] {
		d.ByClass[2][i] = 11 + i
		lab[11+i] = 2
	}
	for _, c := range []struct {
		mode string
		want []float64
	}{
		{"balanced", []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{"uniform", []float64{1.0 / 111, 10.0 / 111, 100.0 / 111}},
	} {
		s, err := NewSampler(d, c.mode, 1)
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]float64, 3)
		const draws = 111 * 60
		for _, i := range s.Next(draws) {
			counts[lab[i]]++
		}
		for k := range counts {
			if got := counts[k] / draws; got < c.want[k]-0.03 || got > c.want[k]+0.03 {
				t.Errorf("%s: category %d drawn %.3f of the time, want %.3f", c.mode, k, got, c.want[k])
			}
		}
	}
	// Uniform sampling covers every image once per epoch.
	s, _ := NewSampler(d, "uniform", 2)
	seen := map[int]bool{}
	for _, i := range s.Next(111) {
		seen[i] = true
	}
	if len(seen) != 111 {
		t.Errorf("one uniform epoch saw %d distinct images, want 111", len(seen))
	}
}
