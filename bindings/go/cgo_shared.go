//go:build cgo && raindrop_shared

package raindrop

// With -tags raindrop_shared: the shared library (raindrop_dspy.pc, with an
// rpath to its folder). Use it when another Rust static library is linked into
// the same program (two Rust staticlibs clash on shared symbols).

// #cgo pkg-config: raindrop_dspy
import "C"
