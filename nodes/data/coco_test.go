package data

import (
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

// writeCOCOFixture writes two 8×6 images (an RGB PNG and a JPEG) and a COCO
// file with a polygon, a compressed RLE, an overlapping later polygon and a
// crowd annotation.
func writeCOCOFixture(t *testing.T, jpegW int) string {
	t.Helper()
	dir := t.TempDir()
	rgb := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for y := 0; y < 6; y++ {
		for x := 0; x < 8; x++ {
			rgb.Set(x, y, color.RGBA{uint8(30 * x), 0, 200, 255})
		}
	}
	f, _ := os.Create(filepath.Join(dir, "a.png"))
	png.Encode(f, rgb)
	f.Close()
	g := image.NewGray(image.Rect(0, 0, jpegW, 6))
	f, _ = os.Create(filepath.Join(dir, "b.jpg"))
	jpeg.Encode(f, g, nil)
	f.Close()
	// b: a 2×2 square at x 1..2, y 0..1, as compressed RLE (column-major):
	// column 0 is 6 zeros; columns 1 and 2 are 1 1 0 0 0 0; then 30 zeros.
	// Runs: 6, 2, 4, 2, 34 → "6", "2", "4", 2−2=0 → "0", 34−4=30 → "N0"?
	// 30 has bit 0x10 set, so it needs a second group: 30 → 'N' with the
	// continue bit: 30|32 = 62 → 'n', then 0 → '0'.
	rle := artifact.CompressRLE([]int{6, 2, 4, 2, 34})
	if rle != "6240n0" {
		t.Fatalf("fixture RLE = %q, want 6240n0", rle)
	}
	seg := `{"size": [6, 8], "counts": "` + rle + `"}`
	if jpegW != 8 {
		seg = `[[1,0,3,0,3,2,1,2]]`
	}
	js := `{
 "images": [{"id": 20, "file_name": "b.jpg", "width": ` + strconv.Itoa(jpegW) + `, "height": 6},
            {"id": 10, "file_name": "a.png", "width": 8, "height": 6}],
 "categories": [{"id": 9, "name": "nine", "frequency": "f"}, {"id": 5, "name": "five"}],
 "annotations": [
  {"id": 1, "image_id": 10, "category_id": 5, "segmentation": [[0,0,4,0,4,3,0,3]], "iscrowd": 0},
  {"id": 2, "image_id": 10, "category_id": 9, "segmentation": [[3,2,6,2,6,5,3,5]], "iscrowd": 0},
  {"id": 3, "image_id": 10, "category_id": 9, "segmentation": [[0,4,8,4,8,6,0,6]], "iscrowd": 1},
  {"id": 4, "image_id": 20, "category_id": 9, "segmentation": ` + seg + `, "iscrowd": 0}
 ]
}`
	if err := os.WriteFile(filepath.Join(dir, "ann.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCOCOKind(t *testing.T) {
	dir := writeCOCOFixture(t, 8)
	set := func(p *COCOParams) { p.Annotations, p.Images = "ann.json", "." }
	b := nodes.Build{Dir: dir}
	out := runKind(t, COCOKind(), b, set, nil)
	s, err := format.LoadSegmentation(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 2 || s.H != 6 || s.W != 8 {
		t.Fatalf("dataset %d×%dx%d, want 2×6x8", s.N, s.H, s.W)
	}
	if !reflect.DeepEqual(s.Meta.MirrorSafe, []bool{true, true}) {
		t.Errorf("mirror_safe = %v, want every category (the default)", s.Meta.MirrorSafe)
	}
	if !reflect.DeepEqual(s.Meta.Classes, []string{"five", "nine"}) {
		t.Errorf("classes = %v, want five, nine (id order)", s.Meta.Classes)
	}
	// "nine" carries frequency f; "five" is in 1 image → rare.
	if want := map[string]string{"five": format.Rare, "nine": format.Frequent}; !reflect.DeepEqual(s.Meta.Groups, want) {
		t.Errorf("groups = %v, want %v", s.Meta.Groups, want)
	}
	// Image 0 is a.png (id 10): the five covers x 0..3, y 0..2; the later
	// nine covers x 3..5, y 2..4 and wins the overlap at (3,2); the crowd
	// annotation is skipped.
	wantInst := [][]int32{
		{1, 1, 1, 1, 0, 0, 0, 0},
		{1, 1, 1, 1, 0, 0, 0, 0},
		{1, 1, 1, 2, 2, 2, 0, 0},
		{0, 0, 0, 2, 2, 2, 0, 0},
		{0, 0, 0, 2, 2, 2, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0},
	}
	for y, row := range wantInst {
		for x, id := range row {
			p := y*8 + x
			wantSem := []uint8{0, 1, 2}[id]
			if s.Instances[p] != id || s.Semantic[p] != wantSem {
				t.Errorf("a.png (%d,%d): instance %d semantic %d, want %d and %d", x, y, s.Instances[p], s.Semantic[p], id, wantSem)
			}
		}
	}
	// Grey from RGB (30x, 0, 200) by the standard luma weights.
	for x := 0; x < 8; x++ {
		want := 0.299*float64(30*x) + 0.114*200
		if got := float64(s.Images[x]); got < want-1 || got > want+1 {
			t.Errorf("grey of (%d,0,200) = %v, want %.2f ± 1", 30*x, got, want)
		}
	}
	// Image 1 is b.jpg with the 2×2 square of the compressed RLE.
	off := 48
	for y := 0; y < 6; y++ {
		for x := 0; x < 8; x++ {
			want := int32(0)
			if x >= 1 && x <= 2 && y <= 1 {
				want = 1
			}
			if s.Instances[off+y*8+x] != want {
				t.Errorf("b.jpg (%d,%d): instance %d, want %d", x, y, s.Instances[off+y*8+x], want)
			}
		}
	}
	if n := len(s.COCO.Annotations); n != 3 {
		t.Errorf("%d annotations, want 3", n)
	}
	if a := s.COCO.Annotations[0]; a.CategoryID != 1 || a.Area != 11 || a.BBox != [4]float64{0, 0, 4, 3} {
		t.Errorf("first annotation = %+v, want category 1, area 11 (12 less the overlap), box [0 0 4 3]", a)
	}

	// Fingerprint names the annotation file and each image.
	n, _ := COCOKind().Construct(b, &COCOParams{Annotations: "ann.json", Images: ".", RareMax: 10, CommonMax: 100})
	fp, err := n.(nodes.Fingerprinter).Fingerprint(context.Background(), &countingHasher{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) != 3 || fp["annotations"] == "" || fp["image:a.png"] == "" || fp["image:b.jpg"] == "" {
		t.Errorf("Fingerprint = %v, want annotations, image:a.png, image:b.jpg", fp)
	}

	// Resizing doubles everything.
	out = runKind(t, COCOKind(), b, func(p *COCOParams) { set(p); p.Size = 12 }, nil)
	if s, err = format.LoadSegmentation(out); err != nil || s.H != 12 || s.W != 12 {
		t.Fatalf("resized: %v, %v", s, err)
	}
}

func TestCOCOKindSizeMismatch(t *testing.T) {
	dir := writeCOCOFixture(t, 7)
	_, err := tryRunKind(t, COCOKind(), nodes.Build{Dir: dir}, func(p *COCOParams) { p.Annotations, p.Images = "ann.json", "." }, nil)
	if err == nil || !strings.Contains(err.Error(), "set size") {
		t.Errorf("images of two sizes without size: error %v, want one saying to set size", err)
	}
}
