package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/lib/artifact"
)

// galleryFixture is a train node's gallery of 6 items on 8×8 tiles: item k
// has grey 100+15k on a (2+k%3)-pixel square mask at the top left and
// nothing else; source "good" has 3 accepted and 1 rejected items,
// "bad" 2 rejected. It returns gallery.csv, images.npy and masks.npy.
func galleryFixture(t testing.TB) (csvb, images, masks []byte) {
	t.Helper()
	const s, n = 8, 6
	rows := []string{
		"3,true,0.5,0.1,good,cat,11,11", "9,true,0.25,0.2,good,dog,12,12", "20,true,0.75,0.2,good,a-very-long-category-name,13,13",
		"4,false,-0.5,0.1,bad,cat,31,31", "12,false,-0.25,0.2,good,dog,14,14", "21,false,-0.75,0.2,bad,dog,32,32",
	}
	img, msk := make([]uint8, n*s*s), make([]uint8, n*s*s)
	for k := range n {
		side := 2 + k%3
		for y := range side {
			for x := range side {
				img[k*s*s+y*s+x], msk[k*s*s+y*s+x] = uint8(100+15*k), 1
			}
		}
		img[k*s*s+s*s-1] = 7 // under the mask's 0: never drawn
	}
	var bi, bm bytes.Buffer
	if err := artifact.WriteNPY(&bi, artifact.U8Array(img, n, s, s)); err != nil {
		t.Fatal(err)
	}
	if err := artifact.WriteNPY(&bm, artifact.U8Array(msk, n, s, s)); err != nil {
		t.Fatal(err)
	}
	return []byte("iteration,accepted,score,threshold,source,category,item,pool_item\n" + strings.Join(rows, "\n") + "\n"), bi.Bytes(), bm.Bytes()
}

// writeGalleryDir writes the fixture as a gallery folder.
func writeGalleryDir(t testing.TB, dir string) {
	t.Helper()
	c, i, m := galleryFixture(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"gallery.csv": c, "images.npy": i, "masks.npy": m} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseGallery(t *testing.T) {
	c, i, m := galleryFixture(t)
	items, err := ParseGallery(c, i, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 6 {
		t.Fatalf("%d items, want 6", len(items))
	}
	x := items[3]
	if x.Iteration != 4 || x.Accepted || x.Score != -0.5 || x.Threshold != 0.1 || x.Source != "bad" || x.Category != "cat" ||
		x.W != 8 || x.H != 8 || x.Grey[0] != 145 || x.Mask[0] != 1 || x.Mask[63] != 0 {
		t.Errorf("item 3 = %+v", x)
	}
	// One row more than tiles is an error.
	if _, err := ParseGallery(append(c, "5,true,,,good,cat,1,1\n"...), i, m); err == nil || !strings.Contains(err.Error(), "want uint8 [7") {
		t.Errorf("7 rows for 6 tiles: %v", err)
	}
}

// TestSaveGallery: every item's pixels under its mask, and only those,
// appear magnified in its decision's half (accepted left, rejected
// right), and the band of the source with the lower acceptance rate comes
// first.
func TestSaveGallery(t *testing.T) {
	c, i, m := galleryFixture(t)
	items, err := ParseGallery(c, i, m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "g.png")
	if err := SaveGallery(path, Figure{Title: "accepted vs rejected"}, items, map[string]float64{"good": 0.75, "bad": 0}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	scale := galTile / 8
	wantW := 3*galMargin + 2*galCols*(8*scale+2*galFrame+galGap)
	if b := img.Bounds(); b.Dx() != wantW {
		t.Errorf("width %d, want %d", b.Dx(), wantW)
	}
	// Where each item's grey (an exact grey: text, frames and background
	// are not) appears.
	type span struct{ n, minX, maxX, minY int }
	found := map[uint8]*span{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl || r>>8 == 255 {
				continue
			}
			v := uint8(r >> 8)
			s := found[v]
			if s == nil {
				s = &span{minX: x, maxX: x, minY: y}
				found[v] = s
			}
			s.n++
			s.minX, s.maxX, s.minY = min(s.minX, x), max(s.maxX, x), min(s.minY, y)
		}
	}
	if s := found[7]; s != nil {
		t.Errorf("a pixel outside a mask was drawn %d times", s.n)
	}
	mid := b.Dx() / 2
	for k, it := range items {
		s := found[uint8(100+15*k)]
		side := 2 + k%3
		if s == nil || s.n != side*side*scale*scale {
			t.Errorf("item %d: %v, want %d pixels", k, s, side*side*scale*scale)
			continue
		}
		if left := s.maxX < mid; left != it.Accepted || !left && s.minX < mid {
			t.Errorf("item %d (accepted %v) drawn at x %d..%d, middle %d", k, it.Accepted, s.minX, s.maxX, mid)
		}
	}
	// "bad" (rate 0) is the first band, above every "good" item.
	for k, it := range items {
		if it.Source != "good" {
			continue
		}
		for j, jt := range items {
			if jt.Source == "bad" && found[uint8(100+15*j)].minY >= found[uint8(100+15*k)].minY {
				t.Errorf("bad item %d at y %d is not above good item %d at y %d", j, found[uint8(100+15*j)].minY, k, found[uint8(100+15*k)].minY)
			}
		}
	}
}

// TestSaveGalleryAcceptedOnly: a mode that accepts everything draws the
// accepted side alone, without failing on the empty one.
func TestSaveGalleryAcceptedOnly(t *testing.T) {
	c, i, m := galleryFixture(t)
	items, err := ParseGallery(c, i, m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "g.png")
	if err := SaveGallery(path, Figure{Title: "all"}, items[:3], nil, nil); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 0, 0)
}
