//go:build amd64 && !purego

#include "textflag.h"

// Eight windows at a time of pool.go's 2×2 max pool, with its bits. The
// pairs of a row are split into even and odd lanes (VSHUFPS, which
// leaves the windows in the order 0 1 4 5 | 2 3 6 7), and each strict
// comparison of the tournament is a VMAXPS or VCMPPS with the operands in
// the scalar code's order: VMAXPS a, b gives a when a > b and b otherwise
// (NaN included), as `if a > b` does. VPERMPD $0xD8 moves between the
// windows' order and that of the lanes (it is its own inverse), and
// VUNPCKLPS/VUNPCKHPS interleave the lanes back into rows.

// func pool2FwdAVX2(y, r0, r1 *float32, n int)
// y[j] = the max of the window at columns 2j, 2j+1 of rows r0 and r1 (or
// −MaxFloat32 when no value is greater), for j < n, n a multiple of 8.
TEXT ·pool2FwdAVX2(SB), NOSPLIT, $0-32
	MOVQ         y+0(FP), DI
	MOVQ         r0+8(FP), SI
	MOVQ         r1+16(FP), DX
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX
	JZ           done1
	MOVL         $0xff7fffff, AX // −MaxFloat32
	VMOVD        AX, X15
	VBROADCASTSS X15, Y15

loop1:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4 // v0: row 0, even columns
	VSHUFPS $0xdd, Y1, Y0, Y5 // v1: row 0, odd columns
	VSHUFPS $0x88, Y3, Y2, Y6 // v2
	VSHUFPS $0xdd, Y3, Y2, Y7 // v3
	VMAXPS  Y4, Y5, Y8        // va = v1 > v0 ? v1 : v0
	VMAXPS  Y6, Y7, Y9        // vb = v3 > v2 ? v3 : v2
	VMAXPS  Y8, Y9, Y10       // m = vb > va ? vb : va
	VMAXPS  Y15, Y10, Y10     // m > lowest ? m : lowest
	VPERMPD $0xd8, Y10, Y10
	VMOVUPS Y10, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop1

done1:
	VZEROUPPER
	RET

// func pool2BwdAVX2(d0, d1, r0, r1, gy *float32, n int)
// For j < n (a multiple of 8): columns 2j, 2j+1 of d0 and d1 get 0 + gy[j]
// at the window's first maximum in rows r0, r1 and zero elsewhere (all
// zero when no value beats −MaxFloat32).
TEXT ·pool2BwdAVX2(SB), NOSPLIT, $0-48
	MOVQ         d0+0(FP), DI
	MOVQ         d1+8(FP), R8
	MOVQ         r0+16(FP), SI
	MOVQ         r1+24(FP), DX
	MOVQ         gy+32(FP), BX
	MOVQ         n+40(FP), CX
	SHRQ         $3, CX
	JZ           done2
	MOVL         $0xff7fffff, AX
	VMOVD        AX, X15
	VBROADCASTSS X15, Y15
	VXORPS       Y14, Y14, Y14

loop2:
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   (DX), Y2
	VMOVUPS   32(DX), Y3
	VSHUFPS   $0x88, Y1, Y0, Y4
	VSHUFPS   $0xdd, Y1, Y0, Y5
	VSHUFPS   $0x88, Y3, Y2, Y6
	VSHUFPS   $0xdd, Y3, Y2, Y7
	VCMPPS    $0x1e, Y4, Y5, Y8   // a1: v1 > v0 (ordered, quiet)
	VMAXPS    Y4, Y5, Y4          // va
	VCMPPS    $0x1e, Y6, Y7, Y9   // b3: v3 > v2
	VMAXPS    Y6, Y7, Y6          // vb
	VCMPPS    $0x1e, Y4, Y6, Y10  // ba: vb > va
	VMAXPS    Y4, Y6, Y6          // m
	VCMPPS    $0x1e, Y15, Y6, Y11 // ok: m > lowest
	VMOVUPS   (BX), Y12
	VPERMPD   $0xd8, Y12, Y12
	VADDPS    Y12, Y14, Y12       // 0 + gy
	VANDPS    Y12, Y11, Y11       // ok ? 0 + gy : 0
	VANDNPS   Y11, Y10, Y0        // the first pair's share: !ba
	VANDPS    Y11, Y10, Y1        // the second pair's: ba
	VANDNPS   Y0, Y8, Y2          // position 0: !ba && !a1
	VANDPS    Y0, Y8, Y3          // position 1: !ba && a1
	VANDNPS   Y1, Y9, Y4          // position 2: ba && !b3
	VANDPS    Y1, Y9, Y5          // position 3: ba && b3
	VUNPCKLPS Y3, Y2, Y6
	VUNPCKHPS Y3, Y2, Y7
	VMOVUPS   Y6, (DI)
	VMOVUPS   Y7, 32(DI)
	VUNPCKLPS Y5, Y4, Y6
	VUNPCKHPS Y5, Y4, Y7
	VMOVUPS   Y6, (R8)
	VMOVUPS   Y7, 32(R8)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $32, BX
	ADDQ      $64, DI
	ADDQ      $64, R8
	DECQ      CX
	JNZ       loop2

done2:
	VZEROUPPER
	RET
