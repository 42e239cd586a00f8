//go:build amd64 && !purego

#include "textflag.h"

// expSubAVX2 is exp32 of exp.go on eight lanes: the same float32
// operations in the same order (no fused multiply-add), so the same bits.
// Constants: 8 copies each of exp.go's expLo, expLog2e, expMagic,
// expLn2Hi, expLn2Lo, expC7 … expC2, 1, and 127 − bits(expMagic).
DATA expc<>+0(SB)/4, $0xc2ae0000
DATA expc<>+4(SB)/4, $0xc2ae0000
DATA expc<>+8(SB)/4, $0xc2ae0000
DATA expc<>+12(SB)/4, $0xc2ae0000
DATA expc<>+16(SB)/4, $0xc2ae0000
DATA expc<>+20(SB)/4, $0xc2ae0000
DATA expc<>+24(SB)/4, $0xc2ae0000
DATA expc<>+28(SB)/4, $0xc2ae0000
DATA expc<>+32(SB)/4, $0x3fb8aa3b
DATA expc<>+36(SB)/4, $0x3fb8aa3b
DATA expc<>+40(SB)/4, $0x3fb8aa3b
DATA expc<>+44(SB)/4, $0x3fb8aa3b
DATA expc<>+48(SB)/4, $0x3fb8aa3b
DATA expc<>+52(SB)/4, $0x3fb8aa3b
DATA expc<>+56(SB)/4, $0x3fb8aa3b
DATA expc<>+60(SB)/4, $0x3fb8aa3b
DATA expc<>+64(SB)/4, $0x4b400000
DATA expc<>+68(SB)/4, $0x4b400000
DATA expc<>+72(SB)/4, $0x4b400000
DATA expc<>+76(SB)/4, $0x4b400000
DATA expc<>+80(SB)/4, $0x4b400000
DATA expc<>+84(SB)/4, $0x4b400000
DATA expc<>+88(SB)/4, $0x4b400000
DATA expc<>+92(SB)/4, $0x4b400000
DATA expc<>+96(SB)/4, $0x3f318000
DATA expc<>+100(SB)/4, $0x3f318000
DATA expc<>+104(SB)/4, $0x3f318000
DATA expc<>+108(SB)/4, $0x3f318000
DATA expc<>+112(SB)/4, $0x3f318000
DATA expc<>+116(SB)/4, $0x3f318000
DATA expc<>+120(SB)/4, $0x3f318000
DATA expc<>+124(SB)/4, $0x3f318000
DATA expc<>+128(SB)/4, $0xb95e8083
DATA expc<>+132(SB)/4, $0xb95e8083
DATA expc<>+136(SB)/4, $0xb95e8083
DATA expc<>+140(SB)/4, $0xb95e8083
DATA expc<>+144(SB)/4, $0xb95e8083
DATA expc<>+148(SB)/4, $0xb95e8083
DATA expc<>+152(SB)/4, $0xb95e8083
DATA expc<>+156(SB)/4, $0xb95e8083
DATA expc<>+160(SB)/4, $0x39500d01
DATA expc<>+164(SB)/4, $0x39500d01
DATA expc<>+168(SB)/4, $0x39500d01
DATA expc<>+172(SB)/4, $0x39500d01
DATA expc<>+176(SB)/4, $0x39500d01
DATA expc<>+180(SB)/4, $0x39500d01
DATA expc<>+184(SB)/4, $0x39500d01
DATA expc<>+188(SB)/4, $0x39500d01
DATA expc<>+192(SB)/4, $0x3ab60b61
DATA expc<>+196(SB)/4, $0x3ab60b61
DATA expc<>+200(SB)/4, $0x3ab60b61
DATA expc<>+204(SB)/4, $0x3ab60b61
DATA expc<>+208(SB)/4, $0x3ab60b61
DATA expc<>+212(SB)/4, $0x3ab60b61
DATA expc<>+216(SB)/4, $0x3ab60b61
DATA expc<>+220(SB)/4, $0x3ab60b61
DATA expc<>+224(SB)/4, $0x3c088889
DATA expc<>+228(SB)/4, $0x3c088889
DATA expc<>+232(SB)/4, $0x3c088889
DATA expc<>+236(SB)/4, $0x3c088889
DATA expc<>+240(SB)/4, $0x3c088889
DATA expc<>+244(SB)/4, $0x3c088889
DATA expc<>+248(SB)/4, $0x3c088889
DATA expc<>+252(SB)/4, $0x3c088889
DATA expc<>+256(SB)/4, $0x3d2aaaab
DATA expc<>+260(SB)/4, $0x3d2aaaab
DATA expc<>+264(SB)/4, $0x3d2aaaab
DATA expc<>+268(SB)/4, $0x3d2aaaab
DATA expc<>+272(SB)/4, $0x3d2aaaab
DATA expc<>+276(SB)/4, $0x3d2aaaab
DATA expc<>+280(SB)/4, $0x3d2aaaab
DATA expc<>+284(SB)/4, $0x3d2aaaab
DATA expc<>+288(SB)/4, $0x3e2aaaab
DATA expc<>+292(SB)/4, $0x3e2aaaab
DATA expc<>+296(SB)/4, $0x3e2aaaab
DATA expc<>+300(SB)/4, $0x3e2aaaab
DATA expc<>+304(SB)/4, $0x3e2aaaab
DATA expc<>+308(SB)/4, $0x3e2aaaab
DATA expc<>+312(SB)/4, $0x3e2aaaab
DATA expc<>+316(SB)/4, $0x3e2aaaab
DATA expc<>+320(SB)/4, $0x3f000000
DATA expc<>+324(SB)/4, $0x3f000000
DATA expc<>+328(SB)/4, $0x3f000000
DATA expc<>+332(SB)/4, $0x3f000000
DATA expc<>+336(SB)/4, $0x3f000000
DATA expc<>+340(SB)/4, $0x3f000000
DATA expc<>+344(SB)/4, $0x3f000000
DATA expc<>+348(SB)/4, $0x3f000000
DATA expc<>+352(SB)/4, $0x3f800000
DATA expc<>+356(SB)/4, $0x3f800000
DATA expc<>+360(SB)/4, $0x3f800000
DATA expc<>+364(SB)/4, $0x3f800000
DATA expc<>+368(SB)/4, $0x3f800000
DATA expc<>+372(SB)/4, $0x3f800000
DATA expc<>+376(SB)/4, $0x3f800000
DATA expc<>+380(SB)/4, $0x3f800000
DATA expc<>+384(SB)/4, $0xb4c0007f
DATA expc<>+388(SB)/4, $0xb4c0007f
DATA expc<>+392(SB)/4, $0xb4c0007f
DATA expc<>+396(SB)/4, $0xb4c0007f
DATA expc<>+400(SB)/4, $0xb4c0007f
DATA expc<>+404(SB)/4, $0xb4c0007f
DATA expc<>+408(SB)/4, $0xb4c0007f
DATA expc<>+412(SB)/4, $0xb4c0007f
GLOBL expc<>(SB), RODATA|NOPTR, $416

// func expSubAVX2(dst, z, m *float32, n int)
// dst[i] = exp32(z[i] − m[i]) for i < n, n a multiple of 8.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ z+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VSUBPS  (DX), Y0, Y0                // x = z − m
	VCMPPS  $5, expc<>+0(SB), Y0, Y1    // keep = !(x < lo)
	VMULPS  expc<>+32(SB), Y0, Y2
	VADDPS  expc<>+64(SB), Y2, Y2       // t = x·log2e + magic
	VSUBPS  expc<>+64(SB), Y2, Y3       // n = t − magic
	VMULPS  expc<>+96(SB), Y3, Y6
	VSUBPS  Y6, Y0, Y4                  // r = x − n·ln2hi
	VMULPS  expc<>+128(SB), Y3, Y6
	VSUBPS  Y6, Y4, Y4                  // r −= n·ln2lo
	VMULPS  expc<>+160(SB), Y4, Y5
	VADDPS  expc<>+192(SB), Y5, Y5      // p = c7·r + c6
	VMULPS  Y4, Y5, Y5
	VADDPS  expc<>+224(SB), Y5, Y5      // p = p·r + c5
	VMULPS  Y4, Y5, Y5
	VADDPS  expc<>+256(SB), Y5, Y5      // c4
	VMULPS  Y4, Y5, Y5
	VADDPS  expc<>+288(SB), Y5, Y5      // c3
	VMULPS  Y4, Y5, Y5
	VADDPS  expc<>+320(SB), Y5, Y5      // c2
	VMULPS  Y4, Y5, Y5
	VADDPS  expc<>+352(SB), Y5, Y5      // 1
	VMULPS  Y4, Y5, Y5
	VADDPS  expc<>+352(SB), Y5, Y5      // 1
	VPADDD  expc<>+384(SB), Y2, Y2
	VPSLLD  $23, Y2, Y2                 // 2ⁿ
	VMULPS  Y2, Y5, Y5
	VANDPS  Y1, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
