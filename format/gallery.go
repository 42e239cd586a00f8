package format

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"dagrun/lib/artifact"
)

// Gallery output of a train node: the folder under its output and the
// files in it. Row r of GalleryCSV describes tile r of GalleryImages and
// GalleryMasks.
const (
	GalleryDir = "gallery"
	// GalleryCSV has one row per shown item (GalleryHeader): accepted items
	// first, then rejected ones, each in the order training met them.
	GalleryCSV = "gallery.csv"
	// GalleryImages is uint8 [N, H, W]: each item's grey pixels, centred
	// in a tile as large as the largest shown item.
	GalleryImages = "images.npy"
	// GalleryMasks is uint8 [N, H, W]: 1 where the item is (the whole
	// image for a classification item, the instance mask for a pasted
	// instance), 0 on the tile's padding and the instance's background.
	GalleryMasks = "masks.npy"
	// GalleryK is the most items kept per decision (accepted, rejected).
	GalleryK = 48
)

// GalleryHeader is the header row of gallery.csv. iteration is 1-based as
// in decisions.csv, or 0 for an item dropped before training by the
// scores input (modes filter and offline), whose score is its per-item
// score and threshold the filter's tau (empty for offline). item is the
// index of the item in the pool input (classification: over the pool
// dirs in input order, see Pools; instances: over the kept instances in
// input order). pool_item is the item's pool identity: its position over
// the pool input's dirs concatenated in input order, counting every item
// of each dir (for classification the same as item; for instances it
// also counts the items train does not load, so that it is the row of
// the item in a spoil node's truth.csv when that is the only input).
var GalleryHeader = []string{"iteration", "accepted", "score", "threshold", "source", "category", "item", "pool_item"}

// GalleryItem is one generated item of a gallery: when training met it,
// its decision, score and threshold (NaN, written empty, when the mode has
// none), its source, category, item and pool item, and its W×H grey pixels with
// a 0/1 mask of where the item is. Items given to SaveGallery may differ in
// size; ParseGallery returns the tiles, all as large as the largest.
type GalleryItem struct {
	Iteration        int
	Accepted         bool
	Score, Threshold float64
	Source, Category string
	Item, PoolItem   int
	W, H             int
	Grey, Mask       []uint8
}

// SaveGallery writes items as dir/gallery/ (gallery.csv, images.npy,
// masks.npy), each item centred in a tile as large as the largest.
func SaveGallery(dir string, items []GalleryItem) error {
	if len(items) == 0 {
		return errors.New("write gallery: no items")
	}
	tw, th := 0, 0
	for _, x := range items {
		tw, th = max(tw, x.W), max(th, x.H)
	}
	images, masks := make([]uint8, len(items)*tw*th), make([]uint8, len(items)*tw*th)
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(GalleryHeader)
	for n, x := range items {
		ox, oy := (tw-x.W)/2, (th-x.H)/2
		for y := 0; y < x.H; y++ {
			for xx := 0; xx < x.W; xx++ {
				j := n*tw*th + (y+oy)*tw + xx + ox
				images[j], masks[j] = x.Grey[y*x.W+xx], x.Mask[y*x.W+xx]
			}
		}
		cw.Write([]string{strconv.Itoa(x.Iteration), strconv.FormatBool(x.Accepted), formatScore(x.Score), formatScore(x.Threshold),
			x.Source, x.Category, strconv.Itoa(x.Item), strconv.Itoa(x.PoolItem)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write gallery: %w", err)
	}
	out := filepath.Join(dir, GalleryDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("write gallery: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, GalleryCSV), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write gallery: %w", err)
	}
	if err := artifact.SaveNPY(filepath.Join(out, GalleryImages), artifact.U8Array(images, len(items), th, tw)); err != nil {
		return fmt.Errorf("write gallery: %w", err)
	}
	if err := artifact.SaveNPY(filepath.Join(out, GalleryMasks), artifact.U8Array(masks, len(items), th, tw)); err != nil {
		return fmt.Errorf("write gallery: %w", err)
	}
	return nil
}

// ParseGallery reads the contents of gallery.csv, images.npy and
// masks.npy. The header must hold every column of GalleryHeader and the
// arrays one tile per row; anything else is an error.
func ParseGallery(csvb, images, masks []byte) ([]GalleryItem, error) {
	t, err := readTable(csvb, GalleryHeader)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", GalleryCSV, err)
	}
	img, err := artifact.ReadNPY(bytes.NewReader(images))
	if err != nil {
		return nil, fmt.Errorf("read gallery %s: %w", GalleryImages, err)
	}
	msk, err := artifact.ReadNPY(bytes.NewReader(masks))
	if err != nil {
		return nil, fmt.Errorf("read gallery %s: %w", GalleryMasks, err)
	}
	if img.DType != "|u1" || len(img.Shape) != 3 || img.Shape[0] != len(t.rows) {
		return nil, fmt.Errorf("read gallery: images are %s %v, want uint8 [%d, H, W]", img.DType, img.Shape, len(t.rows))
	}
	if msk.DType != "|u1" || !slices.Equal(msk.Shape, img.Shape) {
		return nil, fmt.Errorf("read gallery: masks are %s %v, want uint8 %v", msk.DType, msk.Shape, img.Shape)
	}
	h, w := img.Shape[1], img.Shape[2]
	out := make([]GalleryItem, len(t.rows))
	for i := range t.rows {
		row := func(err error) error { return fmt.Errorf("read %s: row %d: %w", GalleryCSV, i+2, err) }
		g := GalleryItem{Source: t.get(i, "source"), Category: t.get(i, "category"), W: w, H: h,
			Grey: img.U8[i*h*w : (i+1)*h*w], Mask: msk.U8[i*h*w : (i+1)*h*w]}
		if g.Iteration, err = strconv.Atoi(t.get(i, "iteration")); err != nil {
			return nil, row(fmt.Errorf("iteration %q is not an integer", t.get(i, "iteration")))
		}
		if g.Accepted, err = strconv.ParseBool(t.get(i, "accepted")); err != nil {
			return nil, row(fmt.Errorf("accepted %q is not a boolean", t.get(i, "accepted")))
		}
		if g.Score, err = parseScore(t.get(i, "score")); err != nil {
			return nil, row(fmt.Errorf("score: %w", err))
		}
		if g.Threshold, err = parseScore(t.get(i, "threshold")); err != nil {
			return nil, row(fmt.Errorf("threshold: %w", err))
		}
		if g.Item, err = strconv.Atoi(t.get(i, "item")); err != nil {
			return nil, row(fmt.Errorf("item %q is not an integer", t.get(i, "item")))
		}
		if g.PoolItem, err = strconv.Atoi(t.get(i, "pool_item")); err != nil || g.PoolItem < 0 {
			return nil, row(fmt.Errorf("pool_item %q is not a non-negative integer", t.get(i, "pool_item")))
		}
		out[i] = g
	}
	return out, nil
}
