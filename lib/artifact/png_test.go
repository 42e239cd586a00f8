package artifact

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func TestGridPNG(t *testing.T) {
	grey := []uint8{
		10, 10, 10,
		10, 200, 10,
		10, 10, 10,
	}
	class := []int32{0, 0, 0, 0, 3, 0, 0, 0, 0}
	tile := Overlay(grey, 3, 3, class, nil)
	if got, want := tile.RGBAAt(1, 1), LabelColor(3); got != want {
		t.Errorf("single-pixel instance is its own border: colour %v, want %v", got, want)
	}
	if got, want := tile.RGBAAt(0, 0), (color.RGBA{10, 10, 10, 255}); got != want {
		t.Errorf("background pixel = %v, want %v", got, want)
	}
	tiles := []image.Image{tile, tile, tile}
	var a, b bytes.Buffer
	if err := WriteGridPNG(&a, tiles, 2, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := WriteGridPNG(&b, tiles, 2, 1, 2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same tiles gave different PNG bytes")
	}
	img, err := png.Decode(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// 2 columns of 6 px + 3 gaps; 2 rows of 6 px + 3 gaps.
	if got, want := img.Bounds().Size(), image.Pt(15, 15); got != want {
		t.Errorf("grid size = %v, want %v", got, want)
	}
	// Tile 1 (second column) starts at x = 1+6+1 = 8; its centre pixel
	// (1,1) scaled ×2 covers x 10..11, y 3..4.
	if got, want := color.RGBAModel.Convert(img.At(10, 3)).(color.RGBA), LabelColor(3); got != want {
		t.Errorf("scaled instance pixel = %v, want %v", got, want)
	}
	if err := WriteGridPNG(&a, nil, 2, 1, 1); err == nil {
		t.Error("WriteGridPNG with no tiles: nil error, want one")
	}
}

func TestLabelColorDistinct(t *testing.T) {
	seen := map[color.RGBA]int{}
	for k := 1; k <= 40; k++ {
		c := LabelColor(k)
		if j, dup := seen[c]; dup {
			t.Errorf("LabelColor(%d) = LabelColor(%d) = %v", k, j, c)
		}
		seen[c] = k
	}
}
