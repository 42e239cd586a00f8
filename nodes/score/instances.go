package score

import (
	"context"
	"fmt"
	"math"
	"slices"

	"dagrun/format"
	"dagrun/lib/bsgal"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/lib/resample"
	"dagrun/nodes"
)

// instanceUnits scores instances dirs against a segmentation model
// (offline BSGAL on lt-seg). Each item becomes one scene of the real set's
// size: a flat ground of the real scenes' mean background level, with the
// item's mask crop resized bilinearly so that its longer side is its
// category's mean real instance side (meta.json size_stats; the mask
// re-thresholded at one half) and centred, labelled with its category
// where its mask is; the scene's loss is weighted on those pixels only,
// as online BSGAL weighs a pasted batch. A unit is `batch` consecutive
// items of one dir, scored by the gradient of their scenes' mean loss.
// An item whose mask is empty (or vanishes when resized) gets score NaN
// and is scored in no unit; a unit of such items only is NaN too.
func (n *Node) instanceUnits(ctx context.Context, env *nodes.Env, model *nn.Model, realDir string, dirs []string) (*scored, error) {
	p := n.Params
	seg, err := format.LoadSegmentation(realDir)
	if err != nil {
		return nil, err
	}
	real, err := learn.Segmentation(seg.Images, seg.Semantic, seg.N, seg.H, seg.W, seg.Meta.Classes, seg.Meta.Groups)
	if err != nil {
		return nil, fmt.Errorf("load dataset %q: %w", realDir, err)
	}
	cfg := model.Config()
	if !cfg.Segmentation() || cfg.H != real.H || cfg.W != real.W || cfg.Classes != len(real.Classes) {
		return nil, fmt.Errorf("model (%s, %dx%d, %d classes) and real set (segmentation, %dx%d, %d classes) must be one segmentation task",
			cfg.Arch, cfg.H, cfg.W, cfg.Classes, real.H, real.W, len(real.Classes))
	}
	_, gR, err := RealGradient(ctx, model, real, p.RealBatch, p.Subset)
	if err != nil {
		return nil, err
	}
	ground := backgroundLevel(seg)
	out := &scored{}
	for k, dir := range dirs {
		in, err := format.LoadInstances(dir)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(in.Meta.Classes, real.Classes) {
			return nil, fmt.Errorf("instances %q: classes %q differ from the real set's %q", dir, in.Meta.Classes, real.Classes)
		}
		src := in.Meta.Source
		if src == "" {
			src = fmt.Sprintf("pool%d", k)
		}
		base := len(out.items)
		for range in.N {
			out.items = append(out.items, math.NaN())
			out.source = append(out.source, src)
		}
		hw := in.H * in.W
		for lo := 0; lo < in.N; lo += p.Batch {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var b learn.Batch
			var members []int
			for i := lo; i < min(in.N, lo+p.Batch); i++ {
				x, y, w, ok := scene(in.Images[i*hw:(i+1)*hw], in.Masks[i*hw:(i+1)*hw], in.H, in.W, real.H, real.W, int(in.Labels[i]),
					seg.Meta.SizeStats[real.Classes[in.Labels[i]]], ground)
				if !ok {
					continue
				}
				b.X, b.Y, b.W = append(b.X, x...), append(b.Y, y...), append(b.W, w...)
				members = append(members, base+i)
			}
			u := math.NaN()
			if len(members) > 0 {
				_, g, err := model.FlatGrad(b.X, b.Y, b.W, p.Subset)
				if err != nil {
					return nil, fmt.Errorf("items %d to %d of %q: %w", lo, lo+len(members)-1, dir, err)
				}
				u = bsgal.Score(gR, g, p.Normalize)
			}
			idx := make([]int, 0, p.Batch)
			for i := lo; i < min(in.N, lo+p.Batch); i++ {
				idx = append(idx, base+i)
			}
			for _, i := range members {
				out.items[i] = u
			}
			out.units = append(out.units, u)
			out.members = append(out.members, idx)
		}
		env.Report(k+1, len(dirs))
	}
	out.gradNorm = math.Sqrt(bsgal.Dot(gR, gR))
	return out, nil
}

// backgroundLevel is the mean value, in [0, 1], of the real scenes'
// background pixels (semantic label 0); 0 when there are none.
func backgroundLevel(s *format.Segmentation) float32 {
	var sum float64
	n := 0
	for i, v := range s.Semantic {
		if v == 0 {
			sum += float64(s.Images[i])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float32(sum / float64(n) / 255)
}

// scene builds an item's scene (see instanceUnits): pixels, labels and
// loss weights of an sh×sw scene; ok is false when the item's mask is
// empty or vanishes at its size.
func scene(img, mask []uint8, h, w, sh, sw, cat int, st format.SizeStat, ground float32) (x []float32, y []int, wt []float32, ok bool) {
	x0, y0, x1, y1 := w, h, -1, -1
	for i, m := range mask {
		if m != 0 {
			x0, y0, x1, y1 = min(x0, i%w), min(y0, i/w), max(x1, i%w), max(y1, i/w)
		}
	}
	if x1 < 0 {
		return nil, nil, nil, false
	}
	cw, ch := x1-x0+1, y1-y0+1
	vals, msk := make([]float32, cw*ch), make([]float32, cw*ch)
	for yy := range ch {
		for xx := range cw {
			j := (y0+yy)*w + x0 + xx
			vals[yy*cw+xx] = float32(img[j]) / 255
			if mask[j] != 0 {
				msk[yy*cw+xx] = 1
			}
		}
	}
	side := int(math.Round(st.SideMean))
	if st.Count == 0 || side < 2 {
		side = max(cw, ch)
	}
	side = min(side, sh, sw)
	ow, oh := max(1, int(math.Round(float64(cw)*float64(side)/float64(max(cw, ch))))), max(1, int(math.Round(float64(ch)*float64(side)/float64(max(cw, ch)))))
	rv, rm := resample.Bilinear(vals, ch, cw, oh, ow), resample.Bilinear(msk, ch, cw, oh, ow)
	x, y, wt = make([]float32, sh*sw), make([]int, sh*sw), make([]float32, sh*sw)
	for i := range x {
		x[i] = ground
	}
	ox, oy := (sw-ow)/2, (sh-oh)/2
	for yy := range oh {
		for xx := range ow {
			if rm[yy*ow+xx] < 0.5 {
				continue
			}
			j := (oy+yy)*sw + ox + xx
			x[j], y[j], wt[j], ok = rv[yy*ow+xx], cat+1, 1, true
		}
	}
	return x, y, wt, ok
}
