//go:build !purego

package jsonscan

// withEachPath runs f with each implementation this CPU has (SSE2, and AVX2
// when present).
func withEachPath(f func(name string)) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	useAVX2 = false
	f("sse2")
	if saved {
		useAVX2 = true
		f("avx2")
	}
}
