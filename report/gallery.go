package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	imgdraw "image/draw"
	"image/png"
	"math"
	"os"
	"sort"

	"dagrun/dag"
	"dagrun/format"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Paths of a train node's gallery files in its output (format.GalleryDir).
const (
	galleryCSV    = format.GalleryDir + "/" + format.GalleryCSV
	galleryImages = format.GalleryDir + "/" + format.GalleryImages
	galleryMasks  = format.GalleryDir + "/" + format.GalleryMasks
)

// GalleryItem is one generated item of a train node's gallery
// (format.GalleryItem): when training met it (iteration 0: left out
// before training by a score node), its decision, score and threshold
// (NaN when the mode has none), its source, category and pool item, and
// its W×H grey pixels with a 0/1 mask of where the item is.
type GalleryItem = format.GalleryItem

// ParseGallery reads gallery.csv with the images.npy and masks.npy (uint8
// [N, H, W]) whose tile r row r describes (format.ParseGallery).
func ParseGallery(csvb, images, masks []byte) ([]GalleryItem, error) {
	return format.ParseGallery(csvb, images, masks)
}

// readGallery returns the gallery of a cached train node: none when it is
// not cached or has no gallery, an error naming the node and the file
// when a gallery file is missing or malformed.
func (r *Report) readGallery(it *dag.PlanItem) ([]GalleryItem, error) {
	c, ok := r.readFile(it, galleryCSV)
	if !ok {
		return nil, nil
	}
	files := [][]byte{c, nil, nil}
	for k, name := range []string{galleryImages, galleryMasks} {
		b, ok := r.readFile(it, name)
		if !ok {
			return nil, fmt.Errorf("node %q: %s without %s", it.Node.Name(), galleryCSV, name)
		}
		files[k+1] = b
	}
	items, err := ParseGallery(files[0], files[1], files[2])
	if err != nil {
		return nil, fmt.Errorf("node %q: %s: %w", it.Node.Name(), format.GalleryDir, err)
	}
	return items, nil
}

// Gallery layout, in pixels.
const (
	galCols    = 8   // tiles per row on each side
	galTile    = 56  // the longer side of a tile is magnified to about this
	galGap     = 6   // between tiles
	galCaption = 13  // below each tile, for its category
	galMargin  = 14  // around the figure and between the sides
	galTitle   = 30  // the title line
	galHead    = 22  // the side headings and each source's band heading
	galFrame   = 2   // the tile frame in the decision's colour
	galDPI     = dpi // as the other plots
)

var (
	galBackground = color.RGBA{255, 255, 255, 255}
	galOutside    = color.RGBA{52, 60, 78, 255} // tile pixels outside the item's mask
	galRule       = color.RGBA{216, 221, 230, 255}
	galText       = color.RGBA{29, 35, 48, 255}
)

// SaveGallery draws accepted (left) and rejected (right) generated items
// side by side in bands, one per source: each band is headed by the
// source, its acceptance rate from rates (when known) and the items shown,
// and holds that source's accepted and rejected items; each tile is the
// item magnified (nearest neighbour), dark outside its mask, framed in its
// decision's colour and labelled with its category. Sources are ordered by
// rate, lowest first, then by name. f.Title is the title; the size
// follows from the items. With truth (the truth of each pool item; nil:
// none known), a defective item's tile is labelled with its defect type
// instead of its category on a band of the type's colour (TruthColor),
// its pixels outside the item's mask are tinted with a darker shade of it
// (clean items keep the dark ground and their category), and a legend
// under the title names the colours.
func SaveGallery(path string, f Figure, items []GalleryItem, rates map[string]float64, truth []string) error {
	truthOf := func(it GalleryItem) string {
		if it.PoolItem < 0 || it.PoolItem >= len(truth) {
			return ""
		}
		return truth[it.PoolItem]
	}
	present := map[string]bool{}
	for _, it := range items {
		if t := truthOf(it); t != "" {
			present[t] = true
		}
	}
	legend := truthOrder(present)
	tw, th := 1, 1
	for _, it := range items {
		tw, th = max(tw, it.W), max(th, it.H)
	}
	scale := max(1, galTile/max(tw, th))
	cellW, cellH := tw*scale+2*galFrame+galGap, th*scale+2*galFrame+galCaption+galGap
	sideW := galCols * cellW
	width := 2*galMargin + 2*sideW + galMargin

	bySource := map[string][2][]GalleryItem{}
	nAcc, nRej, nPre := 0, 0, 0
	for _, it := range items {
		s := bySource[it.Source]
		if it.Accepted {
			s[0], nAcc = append(s[0], it), nAcc+1
		} else {
			s[1], nRej = append(s[1], it), nRej+1
			if it.Iteration == 0 {
				nPre++
			}
		}
		bySource[it.Source] = s
	}
	sources := sortedKeys(bySource)
	rate := func(s string) float64 {
		if r, ok := rates[s]; ok && finite(r) {
			return r
		}
		return math.Inf(1)
	}
	sort.SliceStable(sources, func(i, j int) bool { return rate(sources[i]) < rate(sources[j]) })
	rows := func(n int) int { return (n + galCols - 1) / galCols }
	height := galMargin + galTitle + galHead
	if len(legend) > 0 {
		height += galHead
	}
	for _, s := range sources {
		height += galHead + max(rows(len(bySource[s][0])), rows(len(bySource[s][1])), 1)*cellH
	}
	height += galMargin

	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), galBackground)
	// Text is rendered on a transparent vg canvas laid over the raster at
	// the end (a vg canvas made from an image would paint over it).
	var labels []func(dc draw.Canvas)
	text := func(x, y int, size float64, col color.Color, align draw.XAlignment, s string) {
		sty := draw.TextStyle{Color: col, Font: galFont(size), XAlign: align, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
		labels = append(labels, func(dc draw.Canvas) { dc.FillText(sty, vg.Point{X: px(x), Y: px(height - y)}, s) })
	}
	left, right := galMargin, 2*galMargin+sideW
	y := galMargin
	text(width/2, y, 13, galText, draw.XCenter, f.Title)
	y += galTitle
	if len(legend) > 0 {
		text(left, y, 10, galText, draw.XLeft, "truth of the item (band under its tile):")
		x := left + 230
		for _, t := range legend {
			if t == format.TruthClean {
				fill(img, image.Rect(x, y+1, x+12, y+13), galOutside)
			} else {
				fill(img, image.Rect(x, y+1, x+12, y+13), truthColors[t])
			}
			text(x+16, y, 10, galText, draw.XLeft, t)
			x += 24 + 8*len(t)
		}
		y += galHead
	}
	accHead := fmt.Sprintf("accepted (%d shown)", nAcc)
	rejHead := fmt.Sprintf("rejected (%d shown)", nRej)
	switch {
	case nRej == 0:
		rejHead = "rejected: none (every proposal was accepted)"
	case nPre == nRej:
		rejHead = fmt.Sprintf("rejected before training by the scores input (%d shown)", nRej)
	}
	text(left, y, 11, acceptedColor, draw.XLeft, accHead)
	text(right, y, 11, rejectedColor, draw.XLeft, rejHead)
	y += galHead
	for _, s := range sources {
		acc, rej := bySource[s][0], bySource[s][1]
		fill(img, image.Rect(galMargin, y+2, width-galMargin, y+3), galRule)
		head := fmt.Sprintf("source %s: %d accepted, %d rejected shown", s, len(acc), len(rej))
		if r, ok := rates[s]; ok && finite(r) {
			head = fmt.Sprintf("source %s (acceptance rate %.2f): %d accepted, %d rejected shown", s, r, len(acc), len(rej))
		}
		text(left, y+5, 9, galText, draw.XLeft, head)
		y += galHead
		for side, part := range [][]GalleryItem{acc, rej} {
			x0 := left
			frame := acceptedColor
			if side == 1 {
				x0, frame = right, rejectedColor
			}
			for n, it := range part {
				cx, cy := x0+(n%galCols)*cellW, y+(n/galCols)*cellH
				fill(img, image.Rect(cx, cy, cx+tw*scale+2*galFrame, cy+th*scale+2*galFrame), frame)
				t := truthOf(it)
				fill(img, image.Rect(cx+galFrame, cy+galFrame, cx+galFrame+tw*scale, cy+galFrame+th*scale), tint(t))
				drawTile(img, it, cx+galFrame+(tw-it.W)*scale/2, cy+galFrame+(th-it.H)*scale/2, scale)
				name := it.Category
				if t != "" && t != format.TruthClean {
					name = t
					// The band under the tile in the truth's colour (the
					// ground may be hidden: a box_mask item covers it).
					fill(img, image.Rect(cx, cy+th*scale+2*galFrame, cx+tw*scale+2*galFrame, cy+th*scale+2*galFrame+galCaption), truthColors[t])
				}
				label := fit(name, tw*scale+2*galFrame, 7)
				text(cx+(tw*scale+2*galFrame)/2, cy+th*scale+2*galFrame+1, 7, galText, draw.XCenter, label)
			}
		}
		y += max(rows(len(acc)), rows(len(rej)), 1) * cellH
	}
	c := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(galDPI), vgimg.UseBackgroundColor(color.Transparent))
	dc := draw.New(c)
	for _, l := range labels {
		l(dc)
	}
	imgdraw.Draw(img, img.Bounds(), c.Image(), image.Point{}, imgdraw.Over)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("encode %q: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// tint is the ground of a tile whose item has truth t: the dark ground
// for clean items and unknown truth, else the truth's colour darkened so
// that the item's grey pixels stay readable on it.
func tint(t string) color.RGBA {
	c, ok := truthColors[t]
	if !ok || t == format.TruthClean {
		return galOutside
	}
	return color.RGBA{R: c.R * 3 / 5, G: c.G * 3 / 5, B: c.B * 3 / 5, A: 255}
}

func galFont(size float64) font.Font {
	return font.Font{Typeface: plot.DefaultFont.Typeface, Variant: "Sans", Size: vg.Points(size)}
}

// px converts pixels to vg lengths at the figure's DPI.
func px(n int) vg.Length { return vg.Length(n) * vg.Inch / galDPI }

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// drawTile draws the pixels of it under its mask, magnified by scale, with
// the top-left corner at (x0, y0).
func drawTile(img *image.RGBA, it GalleryItem, x0, y0, scale int) {
	for y := 0; y < it.H*scale; y++ {
		for x := 0; x < it.W*scale; x++ {
			j := (y/scale)*it.W + x/scale
			if it.Mask[j] == 0 {
				continue
			}
			g := it.Grey[j]
			img.SetRGBA(x0+x, y0+y, color.RGBA{g, g, g, 255})
		}
	}
}

// fit shortens s with an ellipsis until it is at most w pixels wide at
// the given size.
func fit(s string, w int, size float64) string {
	fnt := galFont(size)
	r := []rune(s)
	for n := len(r); n > 0; n-- {
		t := string(r[:n])
		if n < len(r) {
			t += "…"
		}
		if wd, _, _ := plot.DefaultTextHandler.Box(t, fnt); wd <= px(w) {
			return t
		}
	}
	return ""
}
