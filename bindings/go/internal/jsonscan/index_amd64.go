//go:build !purego

package jsonscan

// Index returns the index of the first byte of s that a JSON string cannot
// hold as is (a control character below 0x20, '"' or '\\') or that starts a
// non-ASCII character (which needs a UTF-8 check); len(s) when there is none.
// It tests 32 bytes per step with SSE2 instructions (part of every amd64 CPU).
func Index(s string) int { return index(s) }

//go:noescape
func index(s string) int
