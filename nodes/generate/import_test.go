package generate

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// filled is a w×h RGBA image of one colour.
func filled(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestPoolImport(t *testing.T) {
	root := t.TempDir()
	white := color.RGBA{255, 255, 255, 255}
	// Category "b" by name, category 2 by id; "a" has no folder.
	writePNG(t, filepath.Join(root, "b", "2.png"), filled(16, 8, white)) // → 8×4 band
	writePNG(t, filepath.Join(root, "b", "1.png"), filled(8, 8, color.RGBA{0, 255, 0, 255}))
	writePNG(t, filepath.Join(root, "2", "x.png"), filled(4, 4, color.RGBA{0, 0, 0, 0}))
	if err := os.WriteFile(filepath.Join(root, "log.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "b", "notes.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := func(p *ImportParams) { p.Size, p.Classes, p.Source = 8, []string{"a", "b", "c"}, "sd" }
	pool, err := format.LoadPool(runKind(t, ImportKind(), nodes.Build{}, set, map[string][]string{"images": {root}}))
	if err != nil {
		t.Fatal(err)
	}
	if pool.N != 3 || pool.H != 8 {
		t.Fatalf("pool of %d items of size %d, want 3 of 8", pool.N, pool.H)
	}
	if want := []int64{1, 1, 2}; pool.Labels[0] != want[0] || pool.Labels[1] != want[1] || pool.Labels[2] != want[2] {
		t.Errorf("labels = %v, want %v", pool.Labels, want)
	}
	if pool.Meta.Source != "sd" || pool.Meta.PerClass != 2 || pool.Meta.Task != "pool" {
		t.Errorf("meta = %+v", pool.Meta)
	}
	// 1.png first (file name order): pure green has Go luma 150.
	if got := pool.Images[0]; got != 150 {
		t.Errorf("green pixel is %d, want 150", got)
	}
	// 2.png: a 16×8 white image becomes an 8×4 band on rows 2..5.
	band := pool.Images[64:128]
	for y := range 8 {
		want := uint8(0)
		if y >= 2 && y < 6 {
			want = 255
		}
		if band[y*8+3] != want {
			t.Errorf("band row %d is %d, want %d", y, band[y*8+3], want)
		}
	}
	// Transparent pixels are black.
	for _, v := range pool.Images[128:] {
		if v != 0 {
			t.Fatalf("transparent image has pixel %d, want 0", v)
		}
	}
	inv, err := format.LoadPool(runKind(t, ImportKind(), nodes.Build{}, func(p *ImportParams) { set(p); p.Invert, p.PerClass = true, 1 },
		map[string][]string{"images": {root}}))
	if err != nil {
		t.Fatal(err)
	}
	if inv.N != 2 || inv.Images[0] != 255-150 {
		t.Errorf("invert, per_class 1: %d items, first pixel %d, want 2 and %d", inv.N, inv.Images[0], 255-150)
	}

	writePNG(t, filepath.Join(root, "zebra", "1.png"), filled(2, 2, white))
	_, err = tryRunKind(t, ImportKind(), nodes.Build{}, set, map[string][]string{"images": {root}})
	if err == nil || !strings.Contains(err.Error(), `"zebra"`) {
		t.Errorf("unknown folder: error = %v, want it to name \"zebra\"", err)
	}
	_, err = tryRunKind(t, ImportKind(), nodes.Build{}, func(p *ImportParams) {}, map[string][]string{"images": {root}})
	if err == nil || !strings.Contains(err.Error(), "classes") {
		t.Errorf("no class names: error = %v", err)
	}
}
