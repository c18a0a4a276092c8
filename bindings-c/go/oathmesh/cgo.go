package oathmesh

// The static library is built by `cargo build --release -p oathmesh-c` into the workspace's
// target directory. `-l:liboathmesh.a` names the archive exactly, so the cdylib built beside
// it is never picked up and binaries need no LD_LIBRARY_PATH. A different CARGO_TARGET_DIR is
// added with CGO_LDFLAGS=-L<dir>/release (scripts/test-c-go.sh does this).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../../target/release -l:liboathmesh.a -lm -ldl -lpthread
#include "oathmesh.h"
*/
import "C"

import "unsafe"

// zeroByte gives empty inputs a non-NULL address: the C ABI refuses NULL for required inputs
// even when the length is 0, so that a forgotten pointer is never read as "empty".
var zeroByte byte

// strArg views a Go string as a C input for the duration of one cgo call. Passing a pointer
// to Go memory is allowed because the bytes hold no Go pointers, and the library keeps no
// pointer into its inputs after the call returns.
func strArg(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&zeroByte)), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// bytesArg is strArg for byte slices.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&zeroByte)), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// optionalStrArg is strArg where "" means "not given" (NULL).
func optionalStrArg(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return strArg(s)
}

// takeBytes copies library-owned bytes into Go memory and releases them.
func takeBytes(b *C.oathmesh_bytes) []byte {
	out := C.GoBytes(unsafe.Pointer(b.data), C.int(b.len))
	C.oathmesh_bytes_free(b)
	return out
}

// takeError turns the status and error of a failed call into an *Error and releases the C
// error. A missing error struct (allocation failed inside the library) still yields the
// status's family.
func takeError(status C.oathmesh_status, cerr *C.oathmesh_error) *Error {
	if cerr == nil {
		return &Error{status: uint32(status), Code: "unknown", Message: "liboathmesh returned no error details"}
	}
	defer C.oathmesh_error_free(cerr)
	err := &Error{
		status:     uint32(cerr.status),
		Code:       C.GoString(cerr.code),
		Step:       C.GoString(cerr.step),
		HTTPStatus: int(cerr.http_status),
		Message:    C.GoString(cerr.message),
		Fix:        C.GoString(cerr.fix),
	}
	if cerr.policy_rule != nil {
		err.PolicyRule = C.GoString(cerr.policy_rule)
	}
	return err
}

// Version is the version of the linked liboathmesh.
func Version() string {
	return C.GoString(C.oathmesh_version())
}

// cgoNoop is the cheapest call into the library, for measuring the cgo crossing itself.
func cgoNoop() {
	C.oathmesh_version()
}
