//go:build !amd64 || purego

package jsonscan

import (
	"encoding/binary"
	"unsafe"
)

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// Index returns the index of the first byte of s that a JSON string cannot
// hold as is (a control character below 0x20, '"' or '\\') or that starts a
// non-ASCII character (which needs a UTF-8 check); len(s) when there is none.
// It tests eight bytes per step (amd64 has an SSE2 version).
func Index(s string) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// Each term has the high bit of a byte set where that byte is special.
		if (x|(x-0x20*ones)|hasByte(x, '"')|hasByte(x, '\\'))&highs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if special(b[i]) {
			return i
		}
	}
	return i
}

// hasByte sets the high bit of the bytes of x equal to c (exact once x has no
// byte >= 0x80, which the caller tests in the same expression).
func hasByte(x uint64, c byte) uint64 {
	v := x ^ (uint64(c) * ones)
	return (v - ones) &^ v
}
