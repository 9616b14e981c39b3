//go:build !cgo

package raindrop

// Built only without cgo: the package links the native library through cgo, so
// stop here with one line that says what to do, rather than a list of
// undefined names.
var _ = raindrop_dspy_needs_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler
