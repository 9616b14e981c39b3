//go:build !purego

package jsonscan

// Index returns the index of the first byte of s that a JSON string cannot
// hold as is (a control character below 0x20, '"' or '\\') or that starts a
// non-ASCII character (which needs a UTF-8 check); len(s) when there is none.
// It tests 64 bytes per step with AVX2 where the CPU and OS support it, else
// 32 with SSE2 (part of every amd64 CPU).
func Index(s string) int { return index(s) }

//go:noescape
func index(s string) int

// useAVX2: the CPU has AVX2 and the OS saves the YMM registers. Read by index.
var useAVX2 = hasAVX2()

func hasAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 || xgetbv()&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax uint32)
