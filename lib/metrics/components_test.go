package metrics

import (
	"math"
	"slices"
	"testing"
)

// grid is 5 wide, 4 high, background 0:
//
//	1 1 0 2 2      idx  0  1  2  3  4
//	0 1 0 0 2           5  6  7  8  9
//	3 0 1 0 0          10 11 12 13 14
//	3 3 0 0 1          15 16 17 18 19
var grid = []int{
	1, 1, 0, 2, 2,
	0, 1, 0, 0, 2,
	3, 0, 1, 0, 0,
	3, 3, 0, 0, 1,
}

func gridProbs() []float32 {
	p := make([]float32, 4*20)
	set := func(c, px int, v float32) { p[c*20+px] = v }
	set(1, 0, 0.9)
	set(1, 1, 0.8)
	set(1, 6, 0.7)
	set(1, 12, 0.6)
	set(1, 19, 0.5)
	set(2, 3, 1.0)
	set(2, 4, 0.5)
	set(2, 9, 0.6)
	set(3, 10, 0.3)
	set(3, 15, 0.6)
	set(3, 16, 0.9)
	return p
}

func TestComponents(t *testing.T) {
	type inst struct {
		cat   int
		pix   []int32
		score float64
	}
	tests := []struct {
		name string
		opt  ComponentOptions
		want []inst
	}{
		{"four", ComponentOptions{Width: 5, Height: 4, Connectivity: Four}, []inst{
			{1, []int32{0, 1, 6}, 0.8},
			{2, []int32{3, 4, 9}, 0.7},
			{3, []int32{10, 15, 16}, 0.6},
			{1, []int32{12}, 0.6}, // touches {0,1,6} only at a corner
			{1, []int32{19}, 0.5},
		}},
		{"zero value is four", ComponentOptions{Width: 5, Height: 4}, []inst{
			{1, []int32{0, 1, 6}, 0.8},
			{2, []int32{3, 4, 9}, 0.7},
			{3, []int32{10, 15, 16}, 0.6},
			{1, []int32{12}, 0.6},
			{1, []int32{19}, 0.5},
		}},
		{"eight", ComponentOptions{Width: 5, Height: 4, Connectivity: Eight}, []inst{
			{1, []int32{0, 1, 6, 12}, 0.75}, // (0.9+0.8+0.7+0.6)/4
			{2, []int32{3, 4, 9}, 0.7},
			{3, []int32{10, 15, 16}, 0.6}, // 12 is diagonal to 16 but of another class
			{1, []int32{19}, 0.5},
		}},
		{"min pixels", ComponentOptions{Width: 5, Height: 4, MinPixels: 2}, []inst{
			{1, []int32{0, 1, 6}, 0.8},
			{2, []int32{3, 4, 9}, 0.7},
			{3, []int32{10, 15, 16}, 0.6},
		}},
		{"background 1", ComponentOptions{Width: 5, Height: 4, Background: 1}, []inst{
			// class 0 now forms instances (its probabilities are 0); 5 and 11
			// are cut off from the rest by classes 1 and 3.
			{0, []int32{2, 7, 8, 13, 14, 17, 18}, 0},
			{2, []int32{3, 4, 9}, 0.7},
			{0, []int32{5}, 0},
			{3, []int32{10, 15, 16}, 0.6},
			{0, []int32{11}, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Components(7, grid, gridProbs(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d instances %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Image != 7 || g.Category != w.cat || !slices.Equal(g.Pixels, w.pix) || math.Abs(g.Score-w.score) > 1e-6 {
					t.Errorf("instance %d = %+v, want category %d pixels %v score %v", i, g, w.cat, w.pix, w.score)
				}
			}
		})
	}
}

func TestComponentsNilProbs(t *testing.T) {
	got, err := Components(0, []int{0, 2, 2, 0}, nil, ComponentOptions{Width: 2, Height: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 4-connected: pixel 1 (x1,y0) and 2 (x0,y1) touch only diagonally.
	if len(got) != 2 || got[0].Score != 1 || !slices.Equal(got[0].Pixels, []int32{1}) || !slices.Equal(got[1].Pixels, []int32{2}) {
		t.Errorf("got %+v, want two score-1 instances {1} and {2}", got)
	}
}

func TestComponentsErrors(t *testing.T) {
	tests := []struct {
		name    string
		classes []int
		probs   []float32
		opt     ComponentOptions
	}{
		{"size", grid, nil, ComponentOptions{Width: 0, Height: 4}},
		{"map length", grid[:19], nil, ComponentOptions{Width: 5, Height: 4}},
		{"connectivity", grid, nil, ComponentOptions{Width: 5, Height: 4, Connectivity: 6}},
		{"ragged probs", grid, make([]float32, 21), ComponentOptions{Width: 5, Height: 4}},
		{"class beyond channels", grid, make([]float32, 3*20), ComponentOptions{Width: 5, Height: 4}},
	}
	for _, tt := range tests {
		if _, err := Components(0, tt.classes, tt.probs, tt.opt); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestPixelsOf(t *testing.T) {
	if got := PixelsOf([]bool{false, true, true, false, true}); !slices.Equal(got, []int32{1, 2, 4}) {
		t.Errorf("PixelsOf = %v, want [1 2 4]", got)
	}
}
