#include "textflag.h"

// AVX2 versions of the kernels in kernels.go. Each computes exactly what
// its Go counterpart computes, in the same order: products and sums are
// separate instructions (VMULPD, then VADDPD; never a fused multiply-add),
// and the vector lanes are the Go code's accumulators, so the results are
// the same bits.

// func cpuHasAVX2() bool
TEXT ·cpuHasAVX2(SB), NOSPLIT, $0-1
	MOVL $0, AX
	CPUID
	CMPL AX, $7
	JB   no
	MOVL $1, AX
	CPUID
	// OSXSAVE (bit 27) and AVX (bit 28)
	MOVL CX, DX
	ANDL $0x18000000, DX
	CMPL DX, $0x18000000
	JNE  no
	// the OS saves the XMM and YMM state
	MOVL $0, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	// AVX2 (bit 5)
	ANDL $0x20, BX
	JZ   no
	MOVB $1, ret+0(FP)
	RET
no:
	MOVB $0, ret+0(FP)
	RET

// func axpyAVX2(y []float64, a float64, x []float64)
// y[i] += a·x[i] for i < len(y); len(x) >= len(y).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	MOVQ         y_base+0(FP), DI
	MOVQ         y_len+8(FP), CX
	VBROADCASTSD a+24(FP), Y0
	MOVQ         x_base+32(FP), SI

loop8:
	CMPQ    CX, $8
	JL      loop4
	VMULPD  (SI), Y0, Y1
	VMULPD  32(SI), Y0, Y2
	VADDPD  (DI), Y1, Y1
	VADDPD  32(DI), Y2, Y2
	VMOVUPD Y1, (DI)
	VMOVUPD Y2, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $8, CX
	JMP     loop8

loop4:
	CMPQ    CX, $4
	JL      tail
	VMULPD  (SI), Y0, Y1
	VADDPD  (DI), Y1, Y1
	VMOVUPD Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $4, CX

tail:
	TESTQ  CX, CX
	JE     done
	VMULSD (SI), X0, X1
	VADDSD (DI), X1, X1
	VMOVSD X1, (DI)
	ADDQ   $8, SI
	ADDQ   $8, DI
	DECQ   CX
	JMP    tail

done:
	VZEROUPPER
	RET

// func dotAVX2(a, b []float64) float64
// Four lanes (s0..s3 of index mod 4) over the whole quads, the rest into
// s0, then (s0+s1)+(s2+s3), as dot does; len(b) >= len(a).
TEXT ·dotAVX2(SB), NOSPLIT, $0-56
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VXORPD Y1, Y1, Y1

dloop4:
	CMPQ   CX, $4
	JL     dtail0
	VMOVUPD (SI), Y2
	VMULPD (DI), Y2, Y2
	VADDPD Y2, Y1, Y1
	ADDQ   $32, SI
	ADDQ   $32, DI
	SUBQ   $4, CX
	JMP    dloop4

dtail0:
	VEXTRACTF128 $1, Y1, X3 // s2, s3

dtail:
	TESTQ  CX, CX
	JE     dsum
	VMOVSD (SI), X2
	VMULSD (DI), X2, X2
	VADDSD X2, X1, X1 // s0 += ; s1 kept
	ADDQ   $8, SI
	ADDQ   $8, DI
	DECQ   CX
	JMP    dtail

dsum:
	VHADDPD X1, X1, X1 // s0+s1
	VHADDPD X3, X3, X3 // s2+s3
	VADDSD  X3, X1, X1
	VMOVSD  X1, ret+48(FP)
	VZEROUPPER
	RET

// func axpyDotAVX2(y []float64, a float64, x, w []float64) float64
// y[i] += a·x[i] and returns Σ w[i]·x[i] in dot's lanes and order;
// len(x), len(w) >= len(y).
TEXT ·axpyDotAVX2(SB), NOSPLIT, $0-88
	MOVQ         y_base+0(FP), DI
	MOVQ         y_len+8(FP), CX
	VBROADCASTSD a+24(FP), Y0
	MOVQ         x_base+32(FP), SI
	MOVQ         w_base+56(FP), DX
	VXORPD       Y1, Y1, Y1

aloop4:
	CMPQ    CX, $4
	JL      atail0
	VMOVUPD (SI), Y2
	VMULPD  Y2, Y0, Y3
	VADDPD  (DI), Y3, Y3
	VMOVUPD Y3, (DI)
	VMULPD  (DX), Y2, Y2
	VADDPD  Y2, Y1, Y1
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $4, CX
	JMP     aloop4

atail0:
	VEXTRACTF128 $1, Y1, X4

atail:
	TESTQ  CX, CX
	JE     asum
	VMOVSD (SI), X2
	VMULSD X2, X0, X3
	VADDSD (DI), X3, X3
	VMOVSD X3, (DI)
	VMULSD (DX), X2, X2
	VADDSD X2, X1, X1
	ADDQ   $8, SI
	ADDQ   $8, DI
	ADDQ   $8, DX
	DECQ   CX
	JMP    atail

asum:
	VHADDPD X1, X1, X1
	VHADDPD X4, X4, X4
	VADDSD  X4, X1, X1
	VMOVSD  X1, ret+80(FP)
	VZEROUPPER
	RET

// func combAVX2(out, c []float64, cs, n int, rows []float64, w, cols int)
// For the first cols columns (a multiple of 16) of out:
// out[k] = Σ_{j<n} c[j·cs]·rows[j·w+k], summed over j in ascending order
// from 0. Bounds are checked by the caller.
TEXT ·combAVX2(SB), NOSPLIT, $0-104
	MOVQ out_base+0(FP), DI
	MOVQ c_base+24(FP), SI
	MOVQ cs+48(FP), R8
	SHLQ $3, R8
	MOVQ n+56(FP), R9
	MOVQ rows_base+64(FP), R10
	MOVQ w+88(FP), R11
	SHLQ $3, R11
	MOVQ cols+96(FP), R12

	// 32 columns at a time: eight independent sums per coefficient
cloop32:
	CMPQ   R12, $32
	JL     cloop
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	MOVQ   SI, AX
	MOVQ   R10, DX
	MOVQ   R9, CX

jloop32:
	TESTQ        CX, CX
	JE           cstore32
	VBROADCASTSD (AX), Y0
	VMULPD       (DX), Y0, Y9
	VMULPD       32(DX), Y0, Y10
	VMULPD       64(DX), Y0, Y11
	VMULPD       96(DX), Y0, Y12
	VADDPD       Y9, Y1, Y1
	VADDPD       Y10, Y2, Y2
	VADDPD       Y11, Y3, Y3
	VADDPD       Y12, Y4, Y4
	VMULPD       128(DX), Y0, Y9
	VMULPD       160(DX), Y0, Y10
	VMULPD       192(DX), Y0, Y11
	VMULPD       224(DX), Y0, Y12
	VADDPD       Y9, Y5, Y5
	VADDPD       Y10, Y6, Y6
	VADDPD       Y11, Y7, Y7
	VADDPD       Y12, Y8, Y8
	ADDQ         R8, AX
	ADDQ         R11, DX
	DECQ         CX
	JMP          jloop32

cstore32:
	VMOVUPD Y1, (DI)
	VMOVUPD Y2, 32(DI)
	VMOVUPD Y3, 64(DI)
	VMOVUPD Y4, 96(DI)
	VMOVUPD Y5, 128(DI)
	VMOVUPD Y6, 160(DI)
	VMOVUPD Y7, 192(DI)
	VMOVUPD Y8, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, R10
	SUBQ    $32, R12
	JMP     cloop32

cloop:
	CMPQ   R12, $16
	JL     cdone
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	MOVQ   SI, AX
	MOVQ   R10, DX
	MOVQ   R9, CX

jloop:
	TESTQ        CX, CX
	JE           cstore
	VBROADCASTSD (AX), Y0
	VMULPD       (DX), Y0, Y5
	VMULPD       32(DX), Y0, Y6
	VMULPD       64(DX), Y0, Y7
	VMULPD       96(DX), Y0, Y8
	VADDPD       Y5, Y1, Y1
	VADDPD       Y6, Y2, Y2
	VADDPD       Y7, Y3, Y3
	VADDPD       Y8, Y4, Y4
	ADDQ         R8, AX
	ADDQ         R11, DX
	DECQ         CX
	JMP          jloop

cstore:
	VMOVUPD Y1, (DI)
	VMOVUPD Y2, 32(DI)
	VMOVUPD Y3, 64(DI)
	VMOVUPD Y4, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, R10
	SUBQ    $16, R12
	JMP     cloop

cdone:
	VZEROUPPER
	RET

// func adamAVX2(p, m, v, g0, g1, g2, g3 []float64, k *adamConsts, flags int)
// adamGo's step on the first len(p)&^3 elements, four at a time; flags as
// adamGo's: adamDecay, adamShards.
TEXT ·adamAVX2(SB), NOSPLIT, $0-184
	MOVQ p_base+0(FP), DI
	MOVQ p_len+8(FP), CX
	ANDQ $-4, CX
	MOVQ m_base+24(FP), SI
	MOVQ v_base+48(FP), DX
	MOVQ g0_base+72(FP), R8
	MOVQ g1_base+96(FP), R9
	MOVQ g2_base+120(FP), R10
	MOVQ g3_base+144(FP), R11
	MOVQ k+168(FP), AX
	MOVQ flags+176(FP), BX
	VBROADCASTSD 0(AX), Y8   // b1
	VBROADCASTSD 8(AX), Y9   // 1-b1
	VBROADCASTSD 16(AX), Y10 // b2
	VBROADCASTSD 24(AX), Y11 // 1-b2
	VBROADCASTSD 32(AX), Y12 // wd
	VBROADCASTSD 40(AX), Y13 // lr
	VBROADCASTSD 48(AX), Y14 // c1
	VBROADCASTSD 56(AX), Y15 // c2
	VBROADCASTSD 64(AX), Y7  // eps
	VXORPD       Y5, Y5, Y5

ploop:
	CMPQ    CX, $4
	JL      pdone
	VMOVUPD (R8), Y0
	TESTQ   $2, BX
	JE      pone
	VADDPD  (R9), Y0, Y0
	VADDPD  (R10), Y0, Y0
	VADDPD  (R11), Y0, Y0
	VMOVUPD Y5, (R8)
	VMOVUPD Y5, (R9)
	VMOVUPD Y5, (R10)
	VMOVUPD Y5, (R11)
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11

pone:
	VMULPD  (SI), Y8, Y2 // b1·m
	VMULPD  Y0, Y9, Y1   // (1-b1)·g
	VADDPD  Y1, Y2, Y2   // mm
	VMOVUPD Y2, (SI)
	VMULPD  (DX), Y10, Y4 // b2·v
	VMULPD  Y0, Y0, Y1    // g·g
	VMULPD  Y1, Y11, Y1   // (1-b2)·g·g
	VADDPD  Y1, Y4, Y4    // vv
	VMOVUPD Y4, (DX)
	VMOVUPD (DI), Y6 // x
	TESTQ   $1, BX
	JE      pnodecay
	VMULPD  Y6, Y12, Y1
	VSUBPD  Y1, Y6, Y6 // x - wd·x

pnodecay:
	VMULPD  Y14, Y2, Y2 // mm·c1
	VMULPD  Y2, Y13, Y2 // lr·(mm·c1)
	VMULPD  Y15, Y4, Y4 // vv·c2
	VSQRTPD Y4, Y4
	VADDPD  Y7, Y4, Y4
	VDIVPD  Y4, Y2, Y2
	VSUBPD  Y2, Y6, Y6
	VMOVUPD Y6, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	SUBQ    $4, CX
	JMP     ploop

pdone:
	VZEROUPPER
	RET

// func combIdxAVX2(out, init, c, rows []float64, idx []int32, w, cols int)
// For the first cols columns (a multiple of 16) of out:
// out[k] = init[k] + Σ_{j in idx} c[j]·rows[j·w+k], summed in idx's order.
// Bounds are checked by the caller.
TEXT ·combIdxAVX2(SB), NOSPLIT, $0-136
	MOVQ out_base+0(FP), DI
	MOVQ init_base+24(FP), R13
	MOVQ c_base+48(FP), SI
	MOVQ rows_base+72(FP), R10
	MOVQ idx_base+96(FP), R14
	MOVQ idx_len+104(FP), R9
	MOVQ w+120(FP), R11
	SHLQ $3, R11
	MOVQ cols+128(FP), R12

xloop:
	CMPQ    R12, $16
	JL      xdone
	VMOVUPD (R13), Y1
	VMOVUPD 32(R13), Y2
	VMOVUPD 64(R13), Y3
	VMOVUPD 96(R13), Y4
	MOVQ    R14, BX
	MOVQ    R9, CX

xjloop:
	TESTQ        CX, CX
	JE           xstore
	MOVLQSX      (BX), AX
	VBROADCASTSD (SI)(AX*8), Y0
	IMULQ        R11, AX
	ADDQ         R10, AX
	VMULPD       (AX), Y0, Y5
	VMULPD       32(AX), Y0, Y6
	VMULPD       64(AX), Y0, Y7
	VMULPD       96(AX), Y0, Y8
	VADDPD       Y5, Y1, Y1
	VADDPD       Y6, Y2, Y2
	VADDPD       Y7, Y3, Y3
	VADDPD       Y8, Y4, Y4
	ADDQ         $4, BX
	DECQ         CX
	JMP          xjloop

xstore:
	VMOVUPD Y1, (DI)
	VMOVUPD Y2, 32(DI)
	VMOVUPD Y3, 64(DI)
	VMOVUPD Y4, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, R13
	ADDQ    $128, R10
	SUBQ    $16, R12
	JMP     xloop

xdone:
	VZEROUPPER
	RET

// func backHiddenAVX2(gh, h, ge, gw2, w2 []float64, idx []int32, d int)
// For each k in idx: gw2[k·d:][:d] += h[k]·ge and gh[k] = w2[k·d:][:d]·ge
// in axpyDot's lanes and order; d is a multiple of 4. Bounds are checked
// by the caller.
TEXT ·backHiddenAVX2(SB), NOSPLIT, $0-152
	MOVQ gh_base+0(FP), R8
	MOVQ h_base+24(FP), R9
	MOVQ ge_base+48(FP), R10
	MOVQ gw2_base+72(FP), R11
	MOVQ w2_base+96(FP), R12
	MOVQ idx_base+120(FP), R13
	MOVQ idx_len+128(FP), R14
	MOVQ d+144(FP), R15
	MOVQ R15, BX
	SHLQ $3, BX // row bytes

	// two units at a time: two independent dot products
bkloop2:
	CMPQ         R14, $2
	JL           bkloop
	MOVLQSX      (R13), AX
	MOVLQSX      4(R13), DX
	VBROADCASTSD (R9)(AX*8), Y0 // h[k1]
	VBROADCASTSD (R9)(DX*8), Y5 // h[k2]
	MOVQ         AX, CX
	IMULQ        BX, CX
	LEAQ         (R11)(CX*1), DI // gw2 row k1
	LEAQ         (R12)(CX*1), SI // w2 row k1
	MOVQ         DX, CX
	IMULQ        BX, CX
	LEAQ         (R11)(CX*1), R15 // gw2 row k2
	LEAQ         (R12)(CX*1), R8  // w2 row k2 (gh's base is reloaded below)
	XORQ         CX, CX           // byte offset in the rows
	VXORPD       Y1, Y1, Y1
	VXORPD       Y6, Y6, Y6

bq2loop:
	CMPQ    CX, BX
	JGE     bq2done
	VMOVUPD (R10)(CX*1), Y2
	VMULPD  Y2, Y0, Y3
	VADDPD  (DI)(CX*1), Y3, Y3
	VMOVUPD Y3, (DI)(CX*1)
	VMULPD  Y2, Y5, Y7
	VADDPD  (R15)(CX*1), Y7, Y7
	VMOVUPD Y7, (R15)(CX*1)
	VMULPD  (SI)(CX*1), Y2, Y3
	VADDPD  Y3, Y1, Y1
	VMULPD  (R8)(CX*1), Y2, Y7
	VADDPD  Y7, Y6, Y6
	ADDQ    $32, CX
	JMP     bq2loop

bq2done:
	MOVQ         gh_base+0(FP), R8
	MOVQ         d+144(FP), R15
	VEXTRACTF128 $1, Y1, X4
	VHADDPD      X1, X1, X1
	VHADDPD      X4, X4, X4
	VADDSD       X4, X1, X1
	VMOVSD       X1, (R8)(AX*8)
	VEXTRACTF128 $1, Y6, X4
	VHADDPD      X6, X6, X6
	VHADDPD      X4, X4, X4
	VADDSD       X4, X6, X6
	VMOVSD       X6, (R8)(DX*8)
	ADDQ         $8, R13
	SUBQ         $2, R14
	JMP          bkloop2

bkloop:
	TESTQ        R14, R14
	JE           bkdone
	MOVLQSX      (R13), AX
	VBROADCASTSD (R9)(AX*8), Y0 // a = h[k]
	MOVQ         AX, DX
	IMULQ        BX, DX
	LEAQ         (R11)(DX*1), DI // gw2 row
	LEAQ         (R12)(DX*1), SI // w2 row
	MOVQ         R10, DX         // ge
	MOVQ         R15, CX
	VXORPD       Y1, Y1, Y1

bqloop:
	CMPQ    CX, $4
	JL      bqdone
	VMOVUPD (DX), Y2
	VMULPD  Y2, Y0, Y3
	VADDPD  (DI), Y3, Y3
	VMOVUPD Y3, (DI)
	VMULPD  (SI), Y2, Y2
	VADDPD  Y2, Y1, Y1
	ADDQ    $32, DX
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $4, CX
	JMP     bqloop

bqdone:
	VEXTRACTF128 $1, Y1, X4
	VHADDPD      X1, X1, X1
	VHADDPD      X4, X4, X4
	VADDSD       X4, X1, X1
	VMOVSD       X1, (R8)(AX*8)
	ADDQ         $4, R13
	DECQ         R14
	JMP          bkloop

bkdone:
	VZEROUPPER
	RET

// func cpuHasFMA() bool: FMA (CPUID.1:ECX bit 12), as package math tests it
// (with AVX and the OS's YMM state, which cpuHasAVX2 checks).
TEXT ·cpuHasFMA(SB), NOSPLIT, $0-1
	MOVL $1, AX
	MOVL $0, CX
	CPUID
	SHRL $12, CX
	ANDL $1, CX
	MOVB CX, ret+0(FP)
	RET

#define LN2U 0.69314718055966295651160180568695068359375
#define LN2L 0.28235290563031577122588448175013436025525412068e-12
#define LOG2E 1.4426950408889634073599246810018920

DATA expvdata<>+0(SB)/8, $0.5
DATA expvdata<>+8(SB)/8, $1.0
DATA expvdata<>+16(SB)/8, $2.0
DATA expvdata<>+24(SB)/8, $1.6666666666666666667e-1
DATA expvdata<>+32(SB)/8, $4.1666666666666666667e-2
DATA expvdata<>+40(SB)/8, $8.3333333333333333333e-3
DATA expvdata<>+48(SB)/8, $1.3888888888888888889e-3
DATA expvdata<>+56(SB)/8, $1.9841269841269841270e-4
DATA expvdata<>+64(SB)/8, $2.4801587301587301587e-5
DATA expvdata<>+72(SB)/8, $-700.0
DATA expvdata<>+80(SB)/8, $700.0
DATA expvdata<>+88(SB)/8, $0.0625
DATA expvdata<>+96(SB)/8, $1023
GLOBL expvdata<>+0(SB), RODATA, $104

// func expShiftAVX2(row []float64, mx float64, done []uint8)
// For each whole quad q of row whose values x = row[c] − mx all lie in
// [−700, 700]: row[c] = exp(x) with exactly the operations of package
// math's amd64 exp on a CPU with FMA (its useFMA path), and done[q] = 1;
// other quads are left as they are, with done[q] = 0.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-56
	MOVQ         row_base+0(FP), DI
	MOVQ         row_len+8(FP), CX
	SHRQ         $2, CX
	VBROADCASTSD mx+24(FP), Y15
	MOVQ         done_base+32(FP), R8
	VBROADCASTSD expvdata<>+72(SB), Y14 // -700
	VBROADCASTSD expvdata<>+80(SB), Y13 // 700
	MOVSD        $LOG2E, X12
	VBROADCASTSD X12, Y12
	MOVSD        $LN2U, X11
	VBROADCASTSD X11, Y11
	MOVSD        $LN2L, X10
	VBROADCASTSD X10, Y10
	VBROADCASTSD expvdata<>+16(SB), Y9 // 2
	VBROADCASTSD expvdata<>+8(SB), Y8  // 1

eloop:
	TESTQ   CX, CX
	JE      edone
	VMOVUPD (DI), Y0
	VSUBPD  Y15, Y0, Y0 // x = row - mx
	VCMPPD  $0x1D, Y14, Y0, Y1 // x >= -700 (ordered)
	VCMPPD  $0x12, Y13, Y0, Y2 // x <= 700 (ordered)
	VANDPD  Y2, Y1, Y1
	VMOVMSKPD Y1, AX
	CMPL    AX, $15
	JNE     eskip
	VMULPD  Y12, Y0, Y1 // LOG2E·x
	VCVTPD2DQY Y1, X1   // k (int32, rounded as MXCSR says)
	VCVTDQ2PD X1, Y2    // k as float64
	VFNMADD231PD Y11, Y2, Y0 // x -= k·LN2U (fused)
	VFNMADD231PD Y10, Y2, Y0 // x -= k·LN2L (fused)
	VBROADCASTSD expvdata<>+88(SB), Y3
	VMULPD  Y3, Y0, Y0 // x·0.0625
	VBROADCASTSD expvdata<>+64(SB), Y3 // p
	VBROADCASTSD expvdata<>+56(SB), Y4
	VFMADD213PD Y4, Y0, Y3 // p = p·x + c
	VBROADCASTSD expvdata<>+48(SB), Y4
	VFMADD213PD Y4, Y0, Y3
	VBROADCASTSD expvdata<>+40(SB), Y4
	VFMADD213PD Y4, Y0, Y3
	VBROADCASTSD expvdata<>+32(SB), Y4
	VFMADD213PD Y4, Y0, Y3
	VBROADCASTSD expvdata<>+24(SB), Y4
	VFMADD213PD Y4, Y0, Y3
	VBROADCASTSD expvdata<>+0(SB), Y4
	VFMADD213PD Y4, Y0, Y3
	VFMADD213PD Y8, Y0, Y3
	VMULPD  Y3, Y0, Y0 // x·p
	VADDPD  Y9, Y0, Y3 // t = x+2
	VMULPD  Y3, Y0, Y0 // x·t
	VADDPD  Y9, Y0, Y3
	VMULPD  Y3, Y0, Y0
	VADDPD  Y9, Y0, Y3
	VMULPD  Y3, Y0, Y0
	VADDPD  Y9, Y0, Y3
	VFMADD213PD Y8, Y3, Y0 // x = t·x + 1
	// times 2^k: (k + 1023) << 52, k in range by the check above
	VPMOVSXDQ X1, Y1
	VPBROADCASTQ expvdata<>+96(SB), Y4
	VPADDQ  Y4, Y1, Y1
	VPSLLQ  $52, Y1, Y1
	VMULPD  Y1, Y0, Y0
	VMOVUPD Y0, (DI)
	MOVB    $1, (R8)
	JMP     enext

eskip:
	MOVB $0, (R8)

enext:
	ADDQ $32, DI
	INCQ R8
	DECQ CX
	JMP  eloop

edone:
	VZEROUPPER
	RET

DATA negInf<>+0(SB)/8, $0xFFF0000000000000
GLOBL negInf<>+0(SB), RODATA, $8

// func logitsAVX2(row, lq []float64, invTau float64) float64
// row[c] = row[c]·invTau − lq[c] for the whole quads of row; returns their
// largest value (−Inf for none). len(lq) >= len(row).
TEXT ·logitsAVX2(SB), NOSPLIT, $0-64
	MOVQ         row_base+0(FP), DI
	MOVQ         row_len+8(FP), CX
	SHRQ         $2, CX
	MOVQ         lq_base+24(FP), SI
	VBROADCASTSD invTau+48(FP), Y15
	VBROADCASTSD negInf<>+0(SB), Y14

lgloop:
	TESTQ   CX, CX
	JE      lgdone
	VMOVUPD (DI), Y0
	VMULPD  Y15, Y0, Y0
	VSUBPD  (SI), Y0, Y0
	VMOVUPD Y0, (DI)
	VMAXPD  Y0, Y14, Y14
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JMP     lgloop

lgdone:
	VEXTRACTF128 $1, Y14, X1
	VMAXPD       X1, X14, X14
	VPERMILPD    $1, X14, X1
	VMAXSD       X1, X14, X14
	VMOVSD       X14, ret+56(FP)
	VZEROUPPER
	RET

// func divScaleAVX2(row []float64, z, a float64)
// row[c] = (row[c]/z)·a for the whole quads of row.
TEXT ·divScaleAVX2(SB), NOSPLIT, $0-40
	MOVQ         row_base+0(FP), DI
	MOVQ         row_len+8(FP), CX
	SHRQ         $2, CX
	VBROADCASTSD z+24(FP), Y15
	VBROADCASTSD a+32(FP), Y14

dsloop:
	TESTQ   CX, CX
	JE      dsdone
	VMOVUPD (DI), Y0
	VDIVPD  Y15, Y0, Y0
	VMULPD  Y14, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JMP     dsloop

dsdone:
	VZEROUPPER
	RET

// func dotRowsAVX2(out, u, rows []float64, d int)
// out[i] = dot(u[:d], rows[i·d:(i+1)·d]) for every i < len(out), for d a
// positive multiple of four: each row in dotAVX2's lanes and order, four
// rows at a time with one accumulator each (then the rest one by one).
// SUMLANES stores to dst the sum of y's four lanes as dotAVX2 sums them,
// (s0+s1)+(s2+s3); x is y's lower half, X9 is scratch.
#define SUMLANES(y, x, dst) \
	VEXTRACTF128 $1, y, X9; \
	VHADDPD      x, x, x;   \
	VHADDPD      X9, X9, X9; \
	VADDSD       X9, x, x;  \
	VMOVSD       x, dst

TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DX
	MOVQ out_len+8(FP), BX
	MOVQ u_base+24(FP), SI
	MOVQ rows_base+48(FP), DI
	MOVQ d+72(FP), R8
	SHLQ $3, R8               // a row's bytes
	LEAQ (R8)(R8*2), R10      // three rows' bytes

rquad:
	CMPQ   BX, $4
	JL     rone
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	XORQ   AX, AX

rqloop:
	VMOVUPD (SI)(AX*1), Y0
	LEAQ    (DI)(AX*1), R11
	VMULPD  (R11), Y0, Y5
	VADDPD  Y5, Y1, Y1
	VMULPD  (R11)(R8*1), Y0, Y6
	VADDPD  Y6, Y2, Y2
	VMULPD  (R11)(R8*2), Y0, Y7
	VADDPD  Y7, Y3, Y3
	VMULPD  (R11)(R10*1), Y0, Y8
	VADDPD  Y8, Y4, Y4
	ADDQ    $32, AX
	CMPQ    AX, R8
	JL      rqloop

	SUMLANES(Y1, X1, 0(DX))
	SUMLANES(Y2, X2, 8(DX))
	SUMLANES(Y3, X3, 16(DX))
	SUMLANES(Y4, X4, 24(DX))
	ADDQ $32, DX
	LEAQ (DI)(R8*4), DI
	SUBQ $4, BX
	JMP  rquad

rone:
	TESTQ  BX, BX
	JE     rdone
	VXORPD Y1, Y1, Y1
	XORQ   AX, AX

roloop:
	VMOVUPD (SI)(AX*1), Y0
	VMULPD  (DI)(AX*1), Y0, Y5
	VADDPD  Y5, Y1, Y1
	ADDQ    $32, AX
	CMPQ    AX, R8
	JL      roloop

	SUMLANES(Y1, X1, 0(DX))
	ADDQ $8, DX
	ADDQ R8, DI
	DECQ BX
	JMP  rone

rdone:
	VZEROUPPER
	RET
