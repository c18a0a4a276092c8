package oathmesh

/*
#include "oathmesh.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
)

// Issuer signs Oath Tokens for one issuer URL. Safe for concurrent use; Close releases it
// (a finalizer releases a forgotten one).
type Issuer struct {
	mu  sync.RWMutex
	ptr *C.oathmesh_issuer
}

// MintRequest is what a caller asks to be minted. Callers never choose iat, exp or jti.
type MintRequest struct {
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Act string `json:"act"`
	// TTLHint is the wished lifetime in seconds: 0 means 120, anything above 300 means 300.
	TTLHint int64    `json:"ttl_hint,omitempty"`
	Scope   []string `json:"scope,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Env     string   `json:"env,omitempty"`
	Tenant  string   `json:"tenant,omitempty"`
	// RQH binds the token to one request: CanonicalRequestHash of it.
	RQH         string  `json:"rqh,omitempty"`
	Src         *Source `json:"src,omitempty"`
	DelegatedBy string  `json:"delegated_by,omitempty"`
}

// MintedToken is a signed token and what the caller needs to use it.
type MintedToken struct {
	Token string `json:"token"`
	// ExpiresIn is the lifetime in seconds.
	ExpiresIn int64 `json:"expires_in"`
	// TokenType is "OathMesh", the Authorization scheme.
	TokenType string `json:"token_type"`
}

// NewIssuer builds an issuer from a typed configuration.
func NewIssuer(config IssuerConfig) (*Issuer, error) {
	doc, err := json.Marshal(config)
	if err != nil {
		return nil, &Error{status: ErrConfigInvalid.status, Code: "config_invalid", Message: err.Error()}
	}
	return NewIssuerFromJSON(doc)
}

// NewIssuerFromJSON builds an issuer from {"issuer", "private_key_pem" | "private_key_file",
// "kid"?}.
func NewIssuerFromJSON(config []byte) (*Issuer, error) {
	data, n := bytesArg(config)
	var ptr *C.oathmesh_issuer
	var cerr *C.oathmesh_error
	status := C.oathmesh_issuer_new(data, n, &ptr, &cerr)
	runtime.KeepAlive(config)
	if status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	i := &Issuer{ptr: ptr}
	runtime.SetFinalizer(i, (*Issuer).Close)
	return i, nil
}

// Close releases the issuer; later calls fail with ErrClosed. Calling it again is a no-op.
func (i *Issuer) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr != nil {
		C.oathmesh_issuer_free(i.ptr)
		i.ptr = nil
		runtime.SetFinalizer(i, nil)
	}
	return nil
}

// Mint signs a token. A request outside the protocol's rules fails with
// ErrMintClaimInvalid (Code names the claim: "claim_invalid:sub").
func (i *Issuer) Mint(request MintRequest) (*MintedToken, error) {
	doc, err := json.Marshal(request)
	if err != nil {
		return nil, &Error{status: ErrMintClaimInvalid.status, Code: "claim_invalid:request", Message: err.Error()}
	}
	return i.MintJSON(doc)
}

// MintJSON signs a token from the mint request JSON document (unknown keys refused).
func (i *Issuer) MintJSON(request []byte) (*MintedToken, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return nil, closedError("Issuer")
	}
	data, n := bytesArg(request)
	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	status := C.oathmesh_issuer_mint(i.ptr, data, n, &out, &cerr)
	runtime.KeepAlive(request)
	if status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	var minted MintedToken
	if err := json.Unmarshal(takeBytes(&out), &minted); err != nil {
		return nil, &Error{status: ErrInternal.status, Code: "internal_panic", Message: err.Error()}
	}
	return &minted, nil
}

// JWKS is the JWKS document this issuer publishes ({"keys": [...]}); a Config's JWKS.
func (i *Issuer) JWKS() (json.RawMessage, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return nil, closedError("Issuer")
	}
	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	if status := C.oathmesh_issuer_jwks(i.ptr, &out, &cerr); status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	return takeBytes(&out), nil
}
