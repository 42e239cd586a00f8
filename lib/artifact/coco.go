package artifact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
)

// COCO is an instance-segmentation annotation file in COCO format, with the
// LVIS additions on categories (frequency, image_count).
type COCO struct {
	Images      []COCOImage      `json:"images"`
	Annotations []COCOAnnotation `json:"annotations"`
	Categories  []COCOCategory   `json:"categories"`
}

// COCOImage is one entry of COCO.Images.
type COCOImage struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// COCOAnnotation is one instance of COCO.Annotations.
type COCOAnnotation struct {
	ID           int64        `json:"id"`
	ImageID      int64        `json:"image_id"`
	CategoryID   int64        `json:"category_id"`
	Segmentation Segmentation `json:"segmentation"`
	Area         float64      `json:"area"`
	// BBox is [x, y, width, height] in pixels.
	BBox    [4]float64 `json:"bbox"`
	IsCrowd int        `json:"iscrowd"`
}

// COCOCategory is one entry of COCO.Categories. Frequency is LVIS's group
// letter: "r" (rare), "c" (common) or "f" (frequent).
type COCOCategory struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Supercategory string `json:"supercategory,omitempty"`
	Frequency     string `json:"frequency,omitempty"`
	ImageCount    int    `json:"image_count,omitempty"`
	InstanceCount int    `json:"instance_count,omitempty"`
}

// Segmentation is an annotation's mask: either polygons (each a flat list
// x1, y1, x2, y2, … in pixel coordinates) or a run-length encoding. Exactly
// one of the two is set.
type Segmentation struct {
	Polygons [][]float64
	RLE      *RLE
}

// RLE is COCO's run-length encoding of a binary mask of Size = [height,
// width]: the mask is read in column-major order (down each column, then the
// next column) and Counts alternates runs of 0 and 1, starting with 0 (so the
// first count is 0 when the first pixel is set).
type RLE struct {
	Size   [2]int `json:"size"`
	Counts []int  `json:"counts"`
}

type rleJSON struct {
	Size   [2]int          `json:"size"`
	Counts json.RawMessage `json:"counts"`
}

// MarshalJSON writes polygons as a list of lists and an RLE with
// uncompressed counts.
func (s Segmentation) MarshalJSON() ([]byte, error) {
	if s.RLE != nil {
		return json.Marshal(s.RLE)
	}
	if s.Polygons == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(s.Polygons)
}

// UnmarshalJSON reads polygons, an uncompressed RLE or a compressed
// (string) RLE.
func (s *Segmentation) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*s = Segmentation{}
	switch {
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &s.Polygons)
	case len(b) > 0 && b[0] == '{':
		var r rleJSON
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("rle: %w", err)
		}
		out := &RLE{Size: r.Size}
		c := bytes.TrimSpace(r.Counts)
		if len(c) > 0 && c[0] == '"' {
			var str string
			if err := json.Unmarshal(c, &str); err != nil {
				return fmt.Errorf("rle counts: %w", err)
			}
			counts, err := DecompressRLE(str)
			if err != nil {
				return err
			}
			out.Counts = counts
		} else if err := json.Unmarshal(c, &out.Counts); err != nil {
			return fmt.Errorf("rle counts: %w", err)
		}
		s.RLE = out
		return nil
	}
	return fmt.Errorf("segmentation: want a polygon list or an rle object, got %.20q", b)
}

// Mask rasterizes the segmentation into a row-major h×w mask of 0 and 1.
func (s Segmentation) Mask(h, w int) ([]uint8, error) {
	if s.RLE != nil {
		if s.RLE.Size != [2]int{h, w} {
			return nil, fmt.Errorf("rle of size %v does not match image %dx%d", s.RLE.Size, h, w)
		}
		return s.RLE.Decode()
	}
	return RasterizePolygons(s.Polygons, h, w), nil
}

// EncodeRLE run-length encodes a row-major h×w mask (nonzero = set) in COCO's
// column-major order.
func EncodeRLE(mask []uint8, h, w int) RLE {
	r := RLE{Size: [2]int{h, w}, Counts: []int{}}
	cur, run := uint8(0), 0
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			v := uint8(0)
			if mask[y*w+x] != 0 {
				v = 1
			}
			if v != cur {
				r.Counts = append(r.Counts, run)
				cur, run = v, 0
			}
			run++
		}
	}
	r.Counts = append(r.Counts, run)
	return r
}

// Decode expands r into a row-major mask of 0 and 1.
func (r RLE) Decode() ([]uint8, error) {
	h, w := r.Size[0], r.Size[1]
	if h < 0 || w < 0 {
		return nil, fmt.Errorf("rle: bad size %v", r.Size)
	}
	mask := make([]uint8, h*w)
	p := 0
	for i, c := range r.Counts {
		if c < 0 || p+c > h*w {
			return nil, fmt.Errorf("rle: counts overrun a %dx%d mask at run %d", h, w, i)
		}
		if i%2 == 1 {
			for k := p; k < p+c; k++ {
				mask[(k%h)*w+k/h] = 1
			}
		}
		p += c
	}
	if p != h*w {
		return nil, fmt.Errorf("rle: counts cover %d of %d pixels", p, h*w)
	}
	return mask, nil
}

// Area is the number of set pixels.
func (r RLE) Area() int {
	a := 0
	for i := 1; i < len(r.Counts); i += 2 {
		a += r.Counts[i]
	}
	return a
}

// CompressRLE writes counts in COCO's compact string form: each count (from
// the third on, as the difference to the count two places before) is
// written as little-endian groups of 5 bits, each as a character 48+v, with
// bit 0x20 marking that more groups follow and the sign taken from bit 0x10
// of the last group.
func CompressRLE(counts []int) string {
	var b []byte
	for i, c := range counts {
		x := int64(c)
		if i > 2 {
			x -= int64(counts[i-2])
		}
		for more := true; more; {
			ch := byte(x & 0x1f)
			x >>= 5
			if ch&0x10 != 0 {
				more = x != -1
			} else {
				more = x != 0
			}
			if more {
				ch |= 0x20
			}
			b = append(b, ch+48)
		}
	}
	return string(b)
}

// DecompressRLE reads COCO's compact string form written by CompressRLE.
func DecompressRLE(s string) ([]int, error) {
	var counts []int
	p := 0
	for p < len(s) {
		var x int64
		k := 0
		for more := true; more; {
			if p >= len(s) {
				return nil, errors.New("rle: compressed counts end inside a number")
			}
			if k > 12 {
				return nil, errors.New("rle: compressed count is too long")
			}
			c := int64(s[p]) - 48
			if c < 0 || c > 63 {
				return nil, fmt.Errorf("rle: bad character %q in compressed counts", s[p])
			}
			x |= (c & 0x1f) << (5 * k)
			more = c&0x20 != 0
			p++
			k++
			if !more && c&0x10 != 0 {
				x |= -1 << (5 * k)
			}
		}
		if m := len(counts); m > 2 {
			x += int64(counts[m-2])
		}
		if x < 0 || x > math.MaxInt32 {
			return nil, fmt.Errorf("rle: decoded count %d is out of range", x)
		}
		counts = append(counts, int(x))
	}
	return counts, nil
}

// RasterizePolygons fills the polygons (flat x, y lists in pixel
// coordinates, pixel (i, j) covering [i, i+1)×[j, j+1)) into a row-major h×w
// mask with the even-odd rule: a pixel is set when its centre lies inside.
// Several polygons are united. This samples centres, so boundary pixels may
// differ from pycocotools, which rasterizes at 5× and rounds.
func RasterizePolygons(polys [][]float64, h, w int) []uint8 {
	mask := make([]uint8, h*w)
	var xs []float64
	for _, p := range polys {
		n := len(p) / 2
		if n < 3 {
			continue
		}
		for y := 0; y < h; y++ {
			cy := float64(y) + 0.5
			xs = xs[:0]
			for i := 0; i < n; i++ {
				x0, y0 := p[2*i], p[2*i+1]
				j := (i + 1) % n
				x1, y1 := p[2*j], p[2*j+1]
				if (y0 <= cy) == (y1 <= cy) {
					continue
				}
				xs = append(xs, x0+(cy-y0)*(x1-x0)/(y1-y0))
			}
			sort.Float64s(xs)
			for k := 0; k+1 < len(xs); k += 2 {
				// Centres cx = x+0.5 with xs[k] <= cx < xs[k+1].
				from := int(math.Ceil(xs[k] - 0.5))
				to := int(math.Ceil(xs[k+1]-0.5)) - 1
				from = max(from, 0)
				to = min(to, w-1)
				for x := from; x <= to; x++ {
					mask[y*w+x] = 1
				}
			}
		}
	}
	return mask
}

// MaskBBox returns the COCO box [x, y, width, height] of the set pixels of a
// row-major h×w mask and their count; an empty mask gives a zero box.
func MaskBBox(mask []uint8, h, w int) ([4]float64, int) {
	x0, y0, x1, y1, n := w, h, -1, -1, 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask[y*w+x] != 0 {
				n++
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	if n == 0 {
		return [4]float64{}, 0
	}
	return [4]float64{float64(x0), float64(y0), float64(x1 - x0 + 1), float64(y1 - y0 + 1)}, n
}

// LoadCOCO reads a COCO or LVIS annotation file.
func LoadCOCO(path string) (*COCO, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c COCO
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read coco %q: %w", path, err)
	}
	return &c, nil
}

// SaveCOCO writes c as indented JSON (deterministic: struct field order,
// uncompressed RLE counts).
func SaveCOCO(path string, c *COCO) error {
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return fmt.Errorf("write coco %q: %w", path, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
