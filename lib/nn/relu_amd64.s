//go:build amd64 && !purego

#include "textflag.h"

// Eight-lane versions of bias.go's branch-free float32 loops, with the same
// bits: an add rounds as the scalar add does, and the comparisons with
// zero (ordered, no denormals-are-zero) hold exactly where the scalar bit
// tests do (x < 0: sign set and magnitude nonzero, not NaN; y > 0: sign
// clear and magnitude nonzero, not NaN).

// func addReLUAVX2(y, x *float32, b float32, n int)
// y[i] = max(x[i] + b, 0) as biasReLU32 rounds it, for i < n, n a multiple of 8.
TEXT ·addReLUAVX2(SB), NOSPLIT, $0-32
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	VBROADCASTSS b+16(FP), Y3
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX
	JZ           done1
	VXORPS       Y2, Y2, Y2

loop1:
	VMOVUPS (SI), Y0
	VADDPS  Y3, Y0, Y0
	VCMPPS  $0x11, Y2, Y0, Y1 // x + b < 0 (ordered, quiet)
	VANDNPS Y0, Y1, Y0        // clear those lanes
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop1

done1:
	VZEROUPPER
	RET

// func reluMaskAVX2(d, y, gr *float32, n int)
// d[i] = g[i] where y[i] > 0, else 0, for i < n, n a multiple of 8.
TEXT ·reluMaskAVX2(SB), NOSPLIT, $0-32
	MOVQ   d+0(FP), DI
	MOVQ   y+8(FP), SI
	MOVQ   gr+16(FP), DX
	MOVQ   n+24(FP), CX
	SHRQ   $3, CX
	JZ     done2
	VXORPS Y2, Y2, Y2

loop2:
	VMOVUPS (SI), Y0
	VCMPPS  $0x1e, Y2, Y0, Y1 // y > 0 (ordered, quiet)
	VANDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop2

done2:
	VZEROUPPER
	RET
