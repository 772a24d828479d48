#include "textflag.h"

// func dotAVX2(a, b []float32) float32
// len(a) is a multiple of 8 and len(b) >= len(a). Four independent
// accumulators of eight lanes take 32 components per iteration.
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

loop32:
	CMPQ CX, $32
	JLT  loop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32

loop8:
	CMPQ CX, $8
	JLT  reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8

reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VZEROUPPER
	VMOVSS X0, ret+48(FP)
	RET

// func dotsAVX2(q, vecs []float32, ids []uint32, out []float32)
// For each k < len(ids): out[k] = dot(q, vecs[ids[k]*len(q):][:len(q)]).
// len(q) is a multiple of 8; the caller checks every row is in vecs and
// len(out) >= len(ids). Rows of 32 components, the lab's dimension, keep
// the query in registers.
TEXT ·dotsAVX2(SB), NOSPLIT, $0-96
	MOVQ q_base+0(FP), SI
	MOVQ q_len+8(FP), DX
	MOVQ vecs_base+24(FP), R8
	MOVQ ids_base+48(FP), R9
	MOVQ ids_len+56(FP), R10
	MOVQ out_base+72(FP), R11
	XORQ BX, BX
	CMPQ R10, $0
	JEQ  end
	CMPQ DX, $32
	JNE  general

	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VMOVUPS 64(SI), Y10
	VMOVUPS 96(SI), Y11

row32:
	MOVL (R9)(BX*4), AX
	SHLQ $7, AX
	LEAQ (R8)(AX*1), DI
	VMULPS (DI), Y8, Y0
	VMULPS 32(DI), Y9, Y1
	VFMADD231PS 64(DI), Y10, Y0
	VFMADD231PS 96(DI), Y11, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, (R11)(BX*4)
	INCQ BX
	CMPQ BX, R10
	JLT  row32
	JMP  end

general:
	MOVL (R9)(BX*4), AX
	IMULQ DX, AX
	LEAQ (R8)(AX*4), DI
	MOVQ SI, R12
	MOVQ DX, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

inner16:
	CMPQ CX, $16
	JLT  inner8
	VMOVUPS (R12), Y4
	VMOVUPS 32(R12), Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	ADDQ $64, R12
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  inner16

inner8:
	CMPQ CX, $8
	JLT  rowdone
	VMOVUPS (R12), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, R12
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  inner8

rowdone:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, (R11)(BX*4)
	INCQ BX
	CMPQ BX, R10
	JLT  general

end:
	VZEROUPPER
	RET

// func dotsQ32AVX2(q []int8, rows []byte, ids []uint32, out []float32)
// Rows are quantRowSize (36) bytes: 32 int8 components, then a float32
// factor. For each k < len(ids): out[k] = (Σ q[j]·row[j]) · factor of row
// ids[k]. len(q) is 32; the caller checks the rows are inside rows.
TEXT ·dotsQ32AVX2(SB), NOSPLIT, $0-96
	MOVQ q_base+0(FP), SI
	MOVQ rows_base+24(FP), R8
	MOVQ ids_base+48(FP), R9
	MOVQ ids_len+56(FP), R10
	MOVQ out_base+72(FP), R11
	XORQ BX, BX
	CMPQ R10, $0
	JEQ  qend
	VPMOVSXBW (SI), Y8
	VPMOVSXBW 16(SI), Y9

qrow:
	MOVL (R9)(BX*4), AX
	IMUL3Q $36, AX, AX
	LEAQ (R8)(AX*1), DI
	VPMOVSXBW (DI), Y0
	VPMOVSXBW 16(DI), Y1
	VPMADDWD Y8, Y0, Y0
	VPMADDWD Y9, Y1, Y1
	VPADDD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPADDD X1, X0, X0
	VCVTDQ2PS X0, X0
	VMULSS 32(DI), X0, X0
	VMOVSS X0, (R11)(BX*4)
	INCQ BX
	CMPQ BX, R10
	JLT  qrow

qend:
	VZEROUPPER
	RET

// func prefetch2(p *uint32)
// Asks the CPU to fetch the two cache lines from p on into its caches.
TEXT ·prefetch2(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	RET
