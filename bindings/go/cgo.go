package raindrop

// The native library is found through pkg-config: install a prebuilt archive
// (in a checkout: make dev-prefix, into target/prefix) and point
// PKG_CONFIG_PATH at its lib/pkgconfig. No Rust toolchain is needed. The
// #cgo pkg-config lines are in cgo_static.go (the default: the static library,
// so Go binaries are self-contained) and cgo_shared.go (-tags raindrop_shared).

/*
#include <stdlib.h>
#include "raindrop_dspy.h"

static const char rd_go_empty[1] = "";
static const char *rd_go_empty_ptr(void) { return rd_go_empty; }
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// emptyCStr is a valid, NUL-terminated empty C string used for required
// string arguments whose Go value is "" (Go's empty string has no data pointer).
var emptyCStr = C.rd_go_empty_ptr()

// eventIDBufLen is enough for any event id plus NUL (from the header).
const eventIDBufLen = C.RD_EVENT_ID_BUF_LEN

// strArg returns a borrowed pointer+length for a required string argument
// passed directly to a C function (not stored inside a struct). The bytes of a
// Go string contain no Go pointers, so cgo allows passing them without a copy;
// the caller keeps s alive (runtime.KeepAlive) until the call returns.
func strArg(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return emptyCStr, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// optArg is strArg for an optional argument: "" becomes NULL (absent).
func optArg(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// pinOpt stores an optional string into a C struct field without copying. The
// struct lives in Go memory and is passed to C, so every Go pointer inside it
// must be pinned for the duration of the call (cgo pointer rules); "" is NULL.
func pinOpt(p *runtime.Pinner, ptr **C.char, n *C.size_t, s string) {
	if len(s) == 0 {
		*ptr, *n = nil, 0
		return
	}
	d := unsafe.StringData(s)
	p.Pin(d)
	*ptr, *n = (*C.char)(unsafe.Pointer(d)), C.size_t(len(s))
}

// errFrom converts a result code and the per-call rd_error into a Go error.
func errFrom(op string, rc C.rd_result, e *C.rd_error) error {
	if rc == C.RD_OK {
		return nil
	}
	msg := ""
	if e != nil && e.code != C.RD_OK {
		msg = C.GoString(&e.message[0])
	}
	return newError(op, Code(rc), msg)
}

// goStringN reads a NUL-terminated string from a Go byte buffer.
func goStringN(buf []byte) string {
	for i, b := range buf {
		if b == 0 {
			return string(buf[:i])
		}
	}
	return string(buf)
}

// Version returns the version of the native core library (rd_version).
func Version() string {
	return C.GoString(C.rd_version())
}

// rawHandle is a client handle as a plain integer (for tests, which cannot use
// cgo types directly).
type rawHandle = uint64

func toHandle(h rawHandle) C.rd_client { return C.rd_client{id: C.uint64_t(h)} }
