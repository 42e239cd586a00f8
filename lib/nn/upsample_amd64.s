//go:build amd64 && !purego

#include "textflag.h"

// Eight pixels at a time of upsample.go's loops, with their bits.

// func up2RowAVX2(y0, y1, x *float32, n int)
// y0[2j] = y0[2j+1] = y1[2j] = y1[2j+1] = x[j] for j < n (a multiple of 8).
TEXT ·up2RowAVX2(SB), NOSPLIT, $0-32
	MOVQ y0+0(FP), DI
	MOVQ y1+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   done1

loop1:
	VMOVUPS    (SI), Y0
	VUNPCKLPS  Y0, Y0, Y1        // x0 x0 x1 x1 | x4 x4 x5 x5
	VUNPCKHPS  Y0, Y0, Y2        // x2 x2 x3 x3 | x6 x6 x7 x7
	VPERM2F128 $0x20, Y2, Y1, Y3 // x0 … x3, each twice
	VPERM2F128 $0x31, Y2, Y1, Y4 // x4 … x7, each twice
	VMOVUPS    Y3, (DI)
	VMOVUPS    Y4, 32(DI)
	VMOVUPS    Y3, (R8)
	VMOVUPS    Y4, 32(R8)
	ADDQ       $32, SI
	ADDQ       $64, DI
	ADDQ       $64, R8
	DECQ       CX
	JNZ        loop1

done1:
	VZEROUPPER
	RET

// func down2RowAVX2(y, r0, r1 *float32, n int)
// y[j] = ((r0[2j] + r0[2j+1]) + r1[2j]) + r1[2j+1] for j < n (a multiple
// of 8): the pairs split into even and odd lanes as in pool_amd64.s, the
// sums in the scalar code's order, VPERMPD $0xD8 to put the windows back
// in order.
TEXT ·down2RowAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   done2

loop2:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4 // r0, even columns
	VSHUFPS $0xdd, Y1, Y0, Y5 // r0, odd columns
	VSHUFPS $0x88, Y3, Y2, Y6 // r1, even
	VSHUFPS $0xdd, Y3, Y2, Y7 // r1, odd
	VADDPS  Y5, Y4, Y4
	VADDPS  Y6, Y4, Y4
	VADDPS  Y7, Y4, Y4
	VPERMPD $0xd8, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop2

done2:
	VZEROUPPER
	RET
