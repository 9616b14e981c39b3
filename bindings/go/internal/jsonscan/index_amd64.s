//go:build !purego

#include "textflag.h"

// func index(s string) int
//
// A byte is fine when, as a signed byte, it is greater than 0x1f (0x20..0x7f:
// control characters and non-ASCII bytes are not) and it is neither '"' nor
// '\\'. With AVX2, two 32-byte blocks per step while 64 bytes are left; then
// two 16-byte blocks per step while 32 bytes are left, then one, then the rest.
TEXT ·index(SB), NOSPLIT, $0-24
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), BX
	XORQ AX, AX
	MOVQ $0x2222222222222222, DX
	MOVQ DX, X1
	PUNPCKLQDQ X1, X1
	MOVQ $0x5c5c5c5c5c5c5c5c, DX
	MOVQ DX, X2
	PUNPCKLQDQ X2, X2
	MOVQ $0x1f1f1f1f1f1f1f1f, DX
	MOVQ DX, X3
	PUNPCKLQDQ X3, X3
	CMPB ·useAVX2(SB), $0
	JEQ  loop32

	// AVX2: two 32-byte blocks per step while 64 bytes are left, then the
	// SSE2 steps below for the rest (VZEROUPPER keeps X1-X3).
	VPBROADCASTB X1, Y1
	VPBROADCASTB X2, Y2
	VPBROADCASTB X3, Y3

loop64:
	LEAQ 64(AX), CX
	CMPQ CX, BX
	JA   end64
	VMOVDQU (SI)(AX*1), Y0
	VMOVDQU 32(SI)(AX*1), Y6
	VPCMPEQB Y1, Y0, Y4
	VPCMPEQB Y2, Y0, Y5
	VPOR     Y5, Y4, Y4
	VPCMPGTB Y3, Y0, Y0
	VPANDN   Y0, Y4, Y4
	VPCMPEQB Y1, Y6, Y7
	VPCMPEQB Y2, Y6, Y5
	VPOR     Y5, Y7, Y7
	VPCMPGTB Y3, Y6, Y6
	VPANDN   Y6, Y7, Y7
	VPAND    Y7, Y4, Y5
	VPMOVMSKB Y5, DX
	CMPL DX, $0xffffffff
	JNE  found64
	MOVQ CX, AX
	JMP  loop64

found64:
	VPMOVMSKB Y4, DX
	CMPL DX, $0xffffffff
	JNE  found64at
	ADDQ $32, AX
	VPMOVMSKB Y7, DX

found64at:
	VZEROUPPER
	NOTL DX
	BSFL DX, DX
	ADDQ DX, AX
	MOVQ AX, ret+16(FP)
	RET

end64:
	VZEROUPPER

loop32:
	LEAQ 32(AX), CX
	CMPQ CX, BX
	JA   one16
	MOVOU (SI)(AX*1), X0
	MOVOU 16(SI)(AX*1), X6
	// first block: X4 = fine bytes
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	POR     X5, X4
	PCMPGTB X3, X0
	PANDN   X0, X4
	// second block: X7 = fine bytes
	MOVO    X6, X7
	PCMPEQB X1, X7
	MOVO    X6, X5
	PCMPEQB X2, X5
	POR     X5, X7
	PCMPGTB X3, X6
	PANDN   X6, X7
	MOVO    X4, X5
	PAND    X7, X5
	PMOVMSKB X5, DX
	CMPL DX, $0xffff
	JNE  found32
	MOVQ CX, AX
	JMP  loop32

found32:
	PMOVMSKB X4, DX
	CMPL DX, $0xffff
	JNE  found
	ADDQ $16, AX
	PMOVMSKB X7, DX
	JMP  found

one16:
	LEAQ 16(AX), CX
	CMPQ CX, BX
	JA   tail
	MOVOU (SI)(AX*1), X0
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	POR     X5, X4
	PCMPGTB X3, X0
	PANDN   X0, X4
	PMOVMSKB X4, DX
	CMPL DX, $0xffff
	JNE  found
	MOVQ CX, AX

tail:
	// Fewer than 16 bytes left. With 16 or more in all, test the last 16
	// (the ones before AX are fine, so the first special one found is the
	// first from AX); else short.
	CMPQ AX, BX
	JEQ  done
	CMPQ BX, $16
	JB   short
	MOVQ BX, AX
	SUBQ $16, AX
	MOVOU (SI)(AX*1), X0
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	POR     X5, X4
	PCMPGTB X3, X0
	PANDN   X0, X4
	PMOVMSKB X4, DX
	CMPL DX, $0xffff
	JNE  found
	MOVQ BX, AX
	JMP  done

short:
	// A text of fewer than 16 bytes (AX is 0), such as a map key: from 8
	// bytes, its first 8 and its last 8 (overlapping) in one register; from
	// 4, its first 4 and last 4; else one byte at a time. A special byte
	// found in the second part, and not in the first, is past the overlap:
	// at BX - 16 + its bit (8 + 8) or BX - 8 + its bit (4 + 4).
	CMPQ BX, $8
	JB   short4
	MOVQ (SI), X0
	MOVQ -8(SI)(BX*1), X6
	PUNPCKLQDQ X6, X0
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	POR     X5, X4
	PCMPGTB X3, X0
	PANDN   X0, X4
	PMOVMSKB X4, DX
	NOTL DX
	ANDL $0xffff, DX
	JEQ  all
	TESTL $0xff, DX
	JNE  shortfound
	LEAQ -16(BX), AX
	JMP  shortfound

short4:
	CMPQ BX, $4
	JB   bytes
	MOVL (SI), X0
	MOVL -4(SI)(BX*1), X6
	PUNPCKLLQ X6, X0
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	POR     X5, X4
	PCMPGTB X3, X0
	PANDN   X0, X4
	PMOVMSKB X4, DX
	NOTL DX
	ANDL $0xff, DX
	JEQ  all
	TESTL $0xf, DX
	JNE  shortfound
	LEAQ -8(BX), AX

shortfound:
	// DX: one bit per special byte.
	BSFL DX, DX
	ADDQ DX, AX
	MOVQ AX, ret+16(FP)
	RET

all:
	MOVQ BX, AX
	JMP  done

bytes:
	MOVBLZX (SI)(AX*1), DX
	CMPB DX, $0x20
	JB   done
	CMPB DX, $0x80
	JAE  done
	CMPB DX, $0x22
	JEQ  done
	CMPB DX, $0x5c
	JEQ  done
	INCQ AX
	CMPQ AX, BX
	JB   bytes

done:
	MOVQ AX, ret+16(FP)
	RET

found:
	// DX: one bit per fine byte; the first clear bit is the first special byte.
	NOTL DX
	BSFL DX, DX
	ADDQ DX, AX
	MOVQ AX, ret+16(FP)
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	RET
