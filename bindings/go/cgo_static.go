//go:build cgo && !raindrop_shared

package raindrop

// Default link: the static library (raindrop_dspy-static.pc names it by full
// path), so every Go binary built from this package is self-contained.
//
// Each link variant has its own file rather than a tagged #cgo line in cgo.go:
// go's build cache keys a package by its files, not by what pkg-config
// answers, so with one file a -tags raindrop_shared build would reuse the
// static build's link flags.

// #cgo pkg-config: --static raindrop_dspy-static
import "C"
