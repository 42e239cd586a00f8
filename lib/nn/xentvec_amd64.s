//go:build amd64 && !purego

#include "textflag.h"

// Vector forms of xentForward32's per-pixel loops with the scalar code's
// bits: each lane is one pixel and runs the scalar instructions' packed
// twins (MINPS for MINSS, CVTPS2PD for CVTSS2SD, ADDPD for ADDSD, …), so
// the pixels' chains over the classes keep their order.

// func maxIntoAVX2(mx, z *float32, n int)
// mx[i] = max(mx[i], z[i]) for i < n (a multiple of 8), by the sequence
// the compiler emits for Go's max: −min'(min(−mx, −z), −mx) with the two
// MINs' results ORed, which gives +0 for max(−0, +0) and keeps NaNs.
TEXT ·maxIntoAVX2(SB), NOSPLIT, $0-24
	MOVQ         mx+0(FP), DI
	MOVQ         z+8(FP), SI
	MOVQ         n+16(FP), CX
	SHRQ         $3, CX
	JZ           done1
	MOVL         $0x80000000, AX
	VMOVD        AX, X15
	VBROADCASTSS X15, Y15

loop1:
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VXORPS  Y15, Y0, Y0 // a = −mx
	VXORPS  Y15, Y1, Y1 // b = −z
	VMINPS  Y1, Y0, Y2  // m1 = a < b ? a : b
	VMINPS  Y0, Y2, Y3  // m2 = m1 < a ? m1 : a
	VORPS   Y2, Y3, Y3
	VXORPS  Y15, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop1

done1:
	VZEROUPPER
	RET

// func widenAddAVX2(acc *float64, x *float32, n int)
// acc[i] += float64(x[i]) for i < n (a multiple of 8).
TEXT ·widenAddAVX2(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   done2

loop2:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VADDPD    (DI), Y0, Y0
	VADDPD    32(DI), Y1, Y1
	VMOVUPD   Y0, (DI)
	VMOVUPD   Y1, 32(DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       loop2

done2:
	VZEROUPPER
	RET

// func xentGradAVX2(q, t *float32, sc, ts *float64, n int)
// q[i] = float32(float64(q[i])·sc[i] − float64(t[i])) where ts[i] ≠ 0
// (NaN included), else +0, for i < n (a multiple of 8).
TEXT ·xentGradAVX2(SB), NOSPLIT, $0-40
	MOVQ   q+0(FP), DI
	MOVQ   t+8(FP), SI
	MOVQ   sc+16(FP), DX
	MOVQ   ts+24(FP), BX
	MOVQ   n+32(FP), CX
	SHRQ   $3, CX
	JZ     done3
	VXORPD Y15, Y15, Y15

loop3:
	VCVTPS2PD  (DI), Y0
	VCVTPS2PD  16(DI), Y1
	VMULPD     (DX), Y0, Y0
	VMULPD     32(DX), Y1, Y1
	VCVTPS2PD  (SI), Y2
	VCVTPS2PD  16(SI), Y3
	VSUBPD     Y2, Y0, Y0
	VSUBPD     Y3, Y1, Y1
	VCMPPD     $4, (BX), Y15, Y4  // ts ≠ 0 (unordered: true)
	VCMPPD     $4, 32(BX), Y15, Y5
	VANDPD     Y4, Y0, Y0
	VANDPD     Y5, Y1, Y1
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y1, X1
	VMOVUPS    X0, (DI)
	VMOVUPS    X1, 16(DI)
	ADDQ       $32, DI
	ADDQ       $32, SI
	ADDQ       $64, DX
	ADDQ       $64, BX
	DECQ       CX
	JNZ        loop3

done3:
	VZEROUPPER
	RET

// func nonzeroMasksAVX2(m *uint8, t *float32, n int)
// Bit j of m[i] is t[8i+j] ≠ 0 (NaN included; not ±0), for i < n/8 (n a
// multiple of 8).
TEXT ·nonzeroMasksAVX2(SB), NOSPLIT, $0-24
	MOVQ   m+0(FP), DI
	MOVQ   t+8(FP), SI
	MOVQ   n+16(FP), CX
	SHRQ   $3, CX
	JZ     done4
	VXORPS Y15, Y15, Y15

loop4:
	VCMPPS    $4, (SI), Y15, Y0 // ≠ 0, unordered true
	VMOVMSKPS Y0, AX
	MOVB      AL, (DI)
	ADDQ      $32, SI
	INCQ      DI
	DECQ      CX
	JNZ       loop4

done4:
	VZEROUPPER
	RET
