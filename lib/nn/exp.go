package nn

import "math"

// exp32 is e^x for x ≤ 0 in float32 arithmetic, the exponential of the
// softmax (whose arguments are z − max z). It reduces x = n·ln2 + r with n
// the nearest integer to x·log₂e and |r| ≤ ln2/2 (ln2 split in two parts
// so that n·ln2hi is exact), takes the degree-7 Taylor polynomial of e^r by
// Horner's rule and scales by 2ⁿ. Its error is at most 1 ulp on
// [−87, 0] (TestExp32Accuracy); below −87 (e^x < 2⁻¹²⁵) it returns 0, and
// NaN stays NaN.
//
// Every operation is one float32 multiply, add or subtract, each rounded
// to float32 (the explicit conversions keep the compiler from fusing a
// multiply and an add), so the result has the same bits on every
// architecture, and expSub's vector code (exp_amd64.s), which runs the same
// operations in the same order, matches it bit for bit (TestExpSubBits).
func exp32(x float32) float32 {
	if x < expLo {
		return 0
	}
	t := float32(x*expLog2e) + expMagic // n in the low bits of t's mantissa
	n := t - expMagic
	r := x - float32(n*expLn2Hi)
	r -= float32(n * expLn2Lo)
	p := float32(expC7*r) + expC6
	p = float32(p*r) + expC5
	p = float32(p*r) + expC4
	p = float32(p*r) + expC3
	p = float32(p*r) + expC2
	p = float32(p*r) + 1
	p = float32(p*r) + 1
	scale := math.Float32frombits((math.Float32bits(t) - math.Float32bits(expMagic) + 127) << 23)
	return p * scale
}

const (
	expLo    float32 = -87
	expLog2e float32 = 1.44269504088896341
	expMagic float32 = 1 << 23 * 1.5
	expLn2Hi float32 = 0.693359375 // 355/512: n·expLn2Hi is exact for |n| < 2¹⁵
	expLn2Lo float32 = -2.12194440e-4
	expC2    float32 = 1.0 / 2
	expC3    float32 = 1.0 / 6
	expC4    float32 = 1.0 / 24
	expC5    float32 = 1.0 / 120
	expC6    float32 = 1.0 / 720
	expC7    float32 = 1.0 / 5040
)

// expSubGo is dst[i] = exp32(z[i] − m[i]) for i < len(dst).
func expSubGo(dst, z, m []float32) {
	z, m = z[:len(dst)], m[:len(dst)]
	for i := range dst {
		dst[i] = exp32(z[i] - m[i])
	}
}
