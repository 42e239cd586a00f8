//go:build amd64 && !purego

#include "textflag.h"

// func momentumScoreAVX2(c *float64, g, y *float32, n int, m, k float64, l *lanes)
// For i < n (a multiple of 4): cc[i] = m·cc[i] + k·g[i]; x = cc[i] rounded
// to float32 and back; then, in lane i mod 4 of l, d += x·y[i],
// a += x·x, b += y[i]·y[i], each product and sum rounded on its own as
// UpdateScore's scalar loop rounds them.
TEXT ·momentumScoreAVX2(SB), NOSPLIT, $0-56
	MOVQ         c+0(FP), DI
	MOVQ         gr+8(FP), SI
	MOVQ         y+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSD m+32(FP), Y14
	VBROADCASTSD k+40(FP), Y15
	MOVQ         l+48(FP), R8
	VMOVUPD      0(R8), Y8   // d0..d3
	VMOVUPD      32(R8), Y9  // a0..a3
	VMOVUPD      64(R8), Y10 // b0..b3
	SHRQ         $2, CX
	JZ           done

loop:
	VMOVUPD    (DI), Y0
	VMULPD     Y14, Y0, Y0 // m·cc
	VCVTPS2PD  (SI), Y1    // float64(g)
	VMULPD     Y15, Y1, Y1 // k·g
	VADDPD     Y1, Y0, Y0  // m·cc + k·g
	VMOVUPD    Y0, (DI)
	VCVTPD2PSY Y0, X2      // float32(cc)
	VCVTPS2PD  X2, Y2      // x
	VCVTPS2PD  (DX), Y3    // y
	VMULPD     Y3, Y2, Y4
	VADDPD     Y4, Y8, Y8  // d += x·y
	VMULPD     Y2, Y2, Y5
	VADDPD     Y5, Y9, Y9  // a += x·x
	VMULPD     Y3, Y3, Y6
	VADDPD     Y6, Y10, Y10 // b += y·y
	ADDQ       $32, DI
	ADDQ       $16, SI
	ADDQ       $16, DX
	DECQ       CX
	JNZ        loop

done:
	VMOVUPD Y8, 0(R8)
	VMOVUPD Y9, 32(R8)
	VMOVUPD Y10, 64(R8)
	VZEROUPPER
	RET

// func nonFiniteAVX2(x *float32, n int) bool
// Whether one of x[0:n] (n a multiple of 8) has all its exponent bits set
// (±Inf or NaN): the lanes' matches are or-ed, then tested once.
TEXT ·nonFiniteAVX2(SB), NOSPLIT, $0-17
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVL         $0x7f800000, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	VPXOR        Y14, Y14, Y14
	SHRQ         $3, CX
	JZ           tested

scan:
	VPAND    (SI), Y15, Y0
	VPCMPEQD Y15, Y0, Y0
	VPOR     Y0, Y14, Y14
	ADDQ     $32, SI
	DECQ     CX
	JNZ      scan

tested:
	VPTEST Y14, Y14
	SETNE  ret+16(FP)
	VZEROUPPER
	RET
