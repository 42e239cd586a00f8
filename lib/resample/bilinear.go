package resample

// Bilinear resamples a row-major h×w plane to oh×ow bilinearly with
// half-pixel centres and clamped edges (PyTorch's interpolate with
// mode="bilinear", align_corners=False, no antialiasing — what U2Net and
// ISNet were trained with). Output pixel x samples source coordinate
// (x+0.5)·w/ow − 0.5.
func Bilinear(src []float32, h, w, oh, ow int) []float32 {
	out := make([]float32, oh*ow)
	if h == oh && w == ow {
		copy(out, src)
		return out
	}
	type tap struct {
		i0, i1 int
		f      float32
	}
	taps := func(n, on int) []tap {
		t := make([]tap, on)
		scale := float64(n) / float64(on)
		for o := range t {
			s := (float64(o)+0.5)*scale - 0.5
			if s < 0 {
				s = 0
			}
			i0 := int(s)
			if i0 > n-1 {
				i0 = n - 1
			}
			i1 := min(i0+1, n-1)
			t[o] = tap{i0, i1, float32(s - float64(i0))}
		}
		return t
	}
	ty, tx := taps(h, oh), taps(w, ow)
	for y, a := range ty {
		r0, r1 := src[a.i0*w:(a.i0+1)*w], src[a.i1*w:(a.i1+1)*w]
		for x, b := range tx {
			top := r0[b.i0] + (r0[b.i1]-r0[b.i0])*b.f
			bot := r1[b.i0] + (r1[b.i1]-r1[b.i0])*b.f
			out[y*ow+x] = top + (bot-top)*a.f
		}
	}
	return out
}
