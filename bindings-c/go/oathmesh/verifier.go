package oathmesh

/*
#include <stdint.h>
#include "oathmesh.h"

// Defined in audit_bridge.c.
oathmesh_status oathmesh_go_verifier_new_with_audit(const uint8_t *config, size_t config_len, uintptr_t handle,
                                                    oathmesh_verifier **verifier_out, oathmesh_error **err_out);
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
)

// Verifier verifies Oath Tokens. Build one per service at start-up (keys and policy are
// parsed once) and share it: it is safe for concurrent use by any number of goroutines.
// Close releases it; a finalizer releases a forgotten one.
type Verifier struct {
	// mu lets Close wait for calls in flight: verifications hold it shared, Close exclusively,
	// so the C handle is never freed under a running call.
	mu  sync.RWMutex
	ptr *C.oathmesh_verifier
	// audit is the handle of the WithAuditHandler function the library calls back; released
	// after the C verifier, which is the only holder of its value.
	audit cgo.Handle
}

// RequestParts is the request a token may be bound to (PROTOCOL §4), exactly as received.
type RequestParts struct {
	Method string
	// PathAndQuery is the request target as sent, percent-encoding untouched ("/pay?x=1").
	PathAndQuery string
	Body         []byte
}

// VerifyOption adds per-call inputs to a verification.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	requestID      string
	requiredAction string
}

// WithRequestID correlates the audit event with the service's logs (X-Request-Id).
func WithRequestID(id string) VerifyOption {
	return func(o *verifyOptions) { o.requestID = id }
}

// WithRequiredAction makes the token's act equal action or fail with ErrPolicyDenied: the
// route says which action it serves.
func WithRequiredAction(action string) VerifyOption {
	return func(o *verifyOptions) { o.requiredAction = action }
}

// NewVerifier builds a verifier from a typed configuration.
func NewVerifier(config Config, opts ...VerifierOption) (*Verifier, error) {
	doc, err := json.Marshal(config)
	if err != nil {
		return nil, &Error{status: ErrConfigInvalid.status, Code: "config_invalid", Message: err.Error()}
	}
	return NewVerifierFromJSON(doc, opts...)
}

// NewVerifierFromJSON builds a verifier from the JSON configuration document of
// docs/configuration.md, passed to the core unchanged.
func NewVerifierFromJSON(config []byte, opts ...VerifierOption) (*Verifier, error) {
	var o verifierOptions
	for _, opt := range opts {
		opt(&o)
	}
	data, n := bytesArg(config)
	var ptr *C.oathmesh_verifier
	var cerr *C.oathmesh_error
	var status C.oathmesh_status
	var audit cgo.Handle
	if o.audit != nil {
		audit = cgo.NewHandle(o.audit)
		status = C.oathmesh_go_verifier_new_with_audit(data, n, C.uintptr_t(audit), &ptr, &cerr)
	} else {
		status = C.oathmesh_verifier_new(data, n, &ptr, &cerr)
	}
	runtime.KeepAlive(config)
	if status != C.OATHMESH_OK {
		if audit != 0 {
			audit.Delete()
		}
		return nil, takeError(status, cerr)
	}
	v := &Verifier{ptr: ptr, audit: audit}
	runtime.SetFinalizer(v, (*Verifier).Close)
	return v, nil
}

// Close releases the verifier. It waits for verifications in flight; later calls fail with
// ErrClosed. Calling Close again is a no-op.
func (v *Verifier) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ptr != nil {
		C.oathmesh_verifier_free(v.ptr)
		v.ptr = nil
		if v.audit != 0 {
			v.audit.Delete()
			v.audit = 0
		}
		runtime.SetFinalizer(v, nil)
	}
	return nil
}

// Verify runs the whole verification pipeline on a token (without the "OathMesh " scheme).
// request is the request for binding, or nil; passing it always is fine, since the core
// only uses it when the token carries rqh or binding is required. Failures are *Error.
func (v *Verifier) Verify(ctx context.Context, token string, request *RequestParts, opts ...VerifyOption) (*Caller, error) {
	return v.verify(ctx, false, token, request, opts)
}

// VerifyAuthorization verifies the value of an Authorization header ("OathMesh <token>");
// "" means the header was absent (claim_missing:token, step "00").
func (v *Verifier) VerifyAuthorization(ctx context.Context, header string, request *RequestParts, opts ...VerifyOption) (*Caller, error) {
	return v.verify(ctx, true, header, request, opts)
}

func (v *Verifier) verify(ctx context.Context, authorization bool, input string, request *RequestParts, opts []VerifyOption) (*Caller, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var o verifyOptions
	for _, opt := range opts {
		opt(&o)
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.ptr == nil {
		return nil, closedError("Verifier")
	}

	// The request struct lives in Go memory and points into Go memory: cgo allows that only
	// for pinned pointers, so pin what it points to for the duration of the call.
	var pinner runtime.Pinner
	defer pinner.Unpin()
	var creq *C.oathmesh_request
	if request != nil {
		creq = &C.oathmesh_request{}
		creq.method, creq.method_len = strArg(request.Method)
		creq.path_and_query, creq.path_and_query_len = strArg(request.PathAndQuery)
		creq.body, creq.body_len = bytesArg(request.Body)
		pinner.Pin(creq.method)
		pinner.Pin(creq.path_and_query)
		pinner.Pin(creq.body)
	}
	reqID, reqIDLen := optionalStrArg(o.requestID)
	action, actionLen := optionalStrArg(o.requiredAction)

	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	var status C.oathmesh_status
	if authorization {
		header, headerLen := optionalStrArg(input)
		status = C.oathmesh_verifier_verify_authorization(v.ptr, header, headerLen, creq, reqID, reqIDLen, action, actionLen, &out, &cerr)
	} else {
		token, tokenLen := strArg(input)
		status = C.oathmesh_verifier_verify(v.ptr, token, tokenLen, creq, reqID, reqIDLen, action, actionLen, &out, &cerr)
	}
	runtime.KeepAlive(input)
	runtime.KeepAlive(request)
	runtime.KeepAlive(o)
	if status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	return parseCaller(takeBytes(&out))
}

// PrewarmResult is the outcome of loading one trusted issuer's keys.
type PrewarmResult struct {
	Issuer string `json:"issuer"`
	OK     bool   `json:"ok"`
	// Keys is how many usable keys are now held for the issuer.
	Keys  int    `json:"keys"`
	Error string `json:"error,omitempty"`
}

// Prewarm fetches every trusted issuer's JWKS now (when keys are fetched rather than
// configured), so the first requests do not wait for it. Call it at start-up; a failed fetch
// is reported in its result, not as an error: requests fail closed (jwks_unavailable) until
// a later fetch succeeds. With static keys it returns nothing.
func (v *Verifier) Prewarm() ([]PrewarmResult, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.ptr == nil {
		return nil, closedError("Verifier")
	}
	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	if status := C.oathmesh_verifier_prewarm(v.ptr, &out, &cerr); status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	var results []PrewarmResult
	if err := json.Unmarshal(takeBytes(&out), &results); err != nil {
		return nil, &Error{status: ErrInternal.status, Code: "internal_panic", Message: err.Error()}
	}
	return results, nil
}
