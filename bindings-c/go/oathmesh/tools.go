package oathmesh

/*
#include "oathmesh.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
)

// CanonicalRequestHash is the request-binding hash of PROTOCOL §4 ("sha256:<64 hex>"): the
// rqh a caller mints into a token bound to this request.
func CanonicalRequestHash(method, pathAndQuery string, body []byte) (string, error) {
	m, mLen := strArg(method)
	p, pLen := strArg(pathAndQuery)
	b, bLen := bytesArg(body)
	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	status := C.oathmesh_canonical_request_hash(m, mLen, p, pLen, b, bLen, &out, &cerr)
	runtime.KeepAlive(method)
	runtime.KeepAlive(pathAndQuery)
	runtime.KeepAlive(body)
	if status != C.OATHMESH_OK {
		return "", takeError(status, cerr)
	}
	return string(takeBytes(&out)), nil
}

// GeneratedKey is a fresh Ed25519 key pair in the forms operators store and publish.
type GeneratedKey struct {
	// PrivatePEM is PKCS#8 PEM: store it like any private key (mode 0600, a secret store).
	PrivatePEM string `json:"private_pem"`
	// PublicPEM is SPKI PEM.
	PublicPEM string `json:"public_pem"`
	// KID is the RFC 7638 thumbprint of the public key.
	KID string `json:"kid"`
	// JWK is the public key as a JWK, ready for a JWKS document.
	JWK json.RawMessage `json:"jwk"`
}

// JWKS wraps the public key in a JWKS document ({"keys": [jwk]}), a Config's JWKS.
func (k *GeneratedKey) JWKS() json.RawMessage {
	doc, _ := json.Marshal(map[string][]json.RawMessage{"keys": {k.JWK}})
	return doc
}

// GenerateKey generates an Ed25519 key from the operating system's RNG.
func GenerateKey() (*GeneratedKey, error) {
	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	if status := C.oathmesh_generate_key(&out, &cerr); status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	var key GeneratedKey
	if err := json.Unmarshal(takeBytes(&out), &key); err != nil {
		return nil, &Error{status: ErrInternal.status, Code: "internal_panic", Message: err.Error()}
	}
	return &key, nil
}
