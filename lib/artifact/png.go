package artifact

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
)

// LabelColor is the fixed colour of label k ≥ 1 (label 0, the background,
// is black).
func LabelColor(k int) color.RGBA {
	if k <= 0 {
		return color.RGBA{A: 255}
	}
	// Well separated colours for the first labels; later labels get hues
	// spaced by the golden angle.
	palette := [...]color.RGBA{
		{230, 25, 75, 255}, {60, 180, 75, 255}, {255, 225, 25, 255}, {0, 130, 200, 255},
		{245, 130, 48, 255}, {145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255},
		{210, 245, 60, 255}, {250, 190, 212, 255}, {0, 128, 128, 255}, {220, 190, 255, 255},
		{170, 110, 40, 255}, {255, 250, 200, 255}, {128, 0, 0, 255}, {170, 255, 195, 255},
		{128, 128, 0, 255}, {255, 215, 180, 255}, {0, 0, 128, 255}, {128, 128, 128, 255},
	}
	if k <= len(palette) {
		return palette[k-1]
	}
	h := math.Mod(float64(k)*137.50776405, 360)
	return hsv(h, 0.8, 0.95)
}

func hsv(h, s, v float64) color.RGBA {
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := v - c
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	u := func(f float64) uint8 { return uint8(math.Round((f + m) * 255)) }
	return color.RGBA{u(r), u(g), u(b), 255}
}

// Overlay renders a row-major h×w grey image with a label map on top: each
// pixel with class[i] > 0 is blended half and half with LabelColor(class[i]),
// and pixels on the border of an instance (a 4-neighbour with another
// instance id, or the image edge) take the full colour. instance may be nil,
// in which case class borders are drawn.
func Overlay(grey []uint8, h, w int, class, instance []int32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if instance == nil {
		instance = class
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			g := grey[i]
			c := color.RGBA{g, g, g, 255}
			if k := class[i]; k > 0 {
				lc := LabelColor(int(k))
				id := instance[i]
				edge := x == 0 || y == 0 || x == w-1 || y == h-1 ||
					instance[i-1] != id || instance[i+1] != id || instance[i-w] != id || instance[i+w] != id
				if edge {
					c = lc
				} else {
					c = color.RGBA{
						uint8((uint16(g) + uint16(lc.R)) / 2),
						uint8((uint16(g) + uint16(lc.G)) / 2),
						uint8((uint16(g) + uint16(lc.B)) / 2),
						255,
					}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// MaskOverlay draws a 0/1 mask over a grey h×w image in LabelColor(label)
// (Overlay with one class and no instances).
func MaskOverlay(grey, mask []uint8, h, w, label int) image.Image {
	cls := make([]int32, h*w)
	for i, v := range mask {
		if v != 0 {
			cls[i] = int32(label)
		}
	}
	return Overlay(grey, h, w, cls, nil)
}

// WriteGridPNG draws tiles, each magnified by an integer scale (nearest
// neighbour), into a grid of cols columns separated by gap pixels of dark
// grey, and writes it as PNG. The bytes depend only on the tiles and the
// layout. Tiles may differ in size; each cell is as large as the largest.
func WriteGridPNG(w io.Writer, tiles []image.Image, cols, gap, scale int) error {
	if len(tiles) == 0 {
		return errors.New("png grid: no tiles")
	}
	if cols < 1 || scale < 1 || gap < 0 {
		return fmt.Errorf("png grid: bad layout cols=%d gap=%d scale=%d", cols, gap, scale)
	}
	cw, ch := 0, 0
	for _, t := range tiles {
		b := t.Bounds()
		cw, ch = max(cw, b.Dx()*scale), max(ch, b.Dy()*scale)
	}
	cols = min(cols, len(tiles))
	rows := (len(tiles) + cols - 1) / cols
	W := cols*cw + (cols+1)*gap
	H := rows*ch + (rows+1)*gap
	out := image.NewRGBA(image.Rect(0, 0, W, H))
	bg := color.RGBA{32, 32, 32, 255}
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			out.SetRGBA(x, y, bg)
		}
	}
	for n, t := range tiles {
		ox := gap + (n%cols)*(cw+gap)
		oy := gap + (n/cols)*(ch+gap)
		b := t.Bounds()
		for y := 0; y < b.Dy()*scale; y++ {
			for x := 0; x < b.Dx()*scale; x++ {
				c := color.RGBAModel.Convert(t.At(b.Min.X+x/scale, b.Min.Y+y/scale)).(color.RGBA)
				out.SetRGBA(ox+x, oy+y, c)
			}
		}
	}
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	return enc.Encode(w, out)
}

// SaveGridPNG writes WriteGridPNG's image to path.
func SaveGridPNG(path string, tiles []image.Image, cols, gap, scale int) error {
	var b bytes.Buffer
	if err := WriteGridPNG(&b, tiles, cols, gap, scale); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
