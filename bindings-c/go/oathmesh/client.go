package oathmesh

/*
#include "oathmesh.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
)

// ClientConfig is how a service reaches its issuer (`oathmesh serve`) and proves who it is:
// exactly one of ClientSecret (HTTP Basic) and ClientKeyPEM (a signed Ed25519 assertion per
// call). The core parses and checks it.
type ClientConfig struct {
	// IssuerURL is the issuer's URL, the iss of the tokens it mints.
	IssuerURL    string `json:"issuer_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// ClientKeyPEM is the client's PKCS#8 PEM Ed25519 private key.
	ClientKeyPEM string `json:"client_key_pem,omitempty"`
	// TimeoutMS bounds each mint (connect, send, answer); 0 means the default, 5000.
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// TokenURL reaches the issuer somewhere other than IssuerURL (a sidecar);
	// mints go to TokenURL + "/v1/token".
	TokenURL string `json:"token_url,omitempty"`
}

// Client asks an issuer for tokens: one fresh token per call, never cached, since tokens
// are single-use. Safe for concurrent use; Close releases it.
type Client struct {
	mu  sync.RWMutex
	ptr *C.oathmesh_client
}

// IssuerError is a mint the issuer refused, or an issuer that could not be reached. Match it
// with errors.As, or with errors.Is(err, ErrIssuerRejected) / errors.Is(err,
// ErrIssuerUnavailable).
type IssuerError struct {
	// Code is the issuer's error code: "mint_denied", "invalid_client", "rate_limited", ...,
	// or "issuer_unavailable" when it could not be reached.
	Code string
	// Status is the issuer's HTTP status (403, 401, 429, ...), or 503 when unreachable.
	Status int
	// Message explains what went wrong; it never contains a secret or a token.
	Message string
	// Fix is one actionable sentence.
	Fix string

	status uint32
}

func (e *IssuerError) Error() string {
	return fmt.Sprintf("oathmesh: issuer: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Is reports whether target is ErrIssuerRejected or ErrIssuerUnavailable, as fits e.
func (e *IssuerError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.status == e.status
}

// NewClient builds a client. No connection is made until the first Mint.
func NewClient(config ClientConfig) (*Client, error) {
	doc, err := json.Marshal(config)
	if err != nil {
		return nil, &Error{status: ErrConfigInvalid.status, Code: "config_invalid", Message: err.Error()}
	}
	return NewClientFromJSON(doc)
}

// NewClientFromJSON builds a client from {"issuer_url", "client_id", "client_secret" |
// "client_key_pem", "timeout_ms"?, "token_url"?}.
func NewClientFromJSON(config []byte) (*Client, error) {
	data, n := bytesArg(config)
	var ptr *C.oathmesh_client
	var cerr *C.oathmesh_error
	status := C.oathmesh_client_new(data, n, &ptr, &cerr)
	runtime.KeepAlive(config)
	if status != C.OATHMESH_OK {
		return nil, takeError(status, cerr)
	}
	c := &Client{ptr: ptr}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// Close releases the client. It waits for mints in flight; later calls fail with ErrClosed.
// Calling it again is a no-op.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr != nil {
		C.oathmesh_client_free(c.ptr)
		c.ptr = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// Mint asks the issuer for one new token. It returns when ctx is done even if the issuer has
// not answered yet (the request then finishes in the background, bounded by TimeoutMS).
// The issuer's refusals are *IssuerError.
func (c *Client) Mint(ctx context.Context, request MintRequest) (*MintedToken, error) {
	return c.mint(ctx, request, nil)
}

// MintForRequest asks for one new token bound to the exact request about to be sent: the
// method, the request target as it goes on the wire ("/pay?x=1") and the body. The
// receiver accepts it for that request only.
func (c *Client) MintForRequest(ctx context.Context, request MintRequest, bindTo RequestParts) (*MintedToken, error) {
	return c.mint(ctx, request, &bindTo)
}

func (c *Client) mint(ctx context.Context, request MintRequest, bindTo *RequestParts) (*MintedToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc, err := json.Marshal(request)
	if err != nil {
		return nil, &Error{status: ErrMintClaimInvalid.status, Code: "claim_invalid:request", Message: err.Error()}
	}
	type result struct {
		minted *MintedToken
		err    error
	}
	// The C call blocks its thread for one HTTP round trip and cannot be interrupted, so it
	// runs on its own goroutine and ctx decides how long the caller waits for it.
	done := make(chan result, 1)
	go func() {
		minted, err := c.mintBlocking(doc, bindTo)
		done <- result{minted, err}
	}()
	select {
	case r := <-done:
		return r.minted, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Client) mintBlocking(request []byte, bindTo *RequestParts) (*MintedToken, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return nil, closedError("Client")
	}
	// As in Verifier.verify: the request struct points into Go memory, so pin it.
	var pinner runtime.Pinner
	defer pinner.Unpin()
	var creq *C.oathmesh_request
	if bindTo != nil {
		creq = &C.oathmesh_request{}
		creq.method, creq.method_len = strArg(bindTo.Method)
		creq.path_and_query, creq.path_and_query_len = strArg(bindTo.PathAndQuery)
		creq.body, creq.body_len = bytesArg(bindTo.Body)
		pinner.Pin(creq.method)
		pinner.Pin(creq.path_and_query)
		pinner.Pin(creq.body)
	}
	data, n := bytesArg(request)
	var out C.oathmesh_bytes
	var cerr *C.oathmesh_error
	status := C.oathmesh_client_mint(c.ptr, data, n, creq, &out, &cerr)
	runtime.KeepAlive(request)
	runtime.KeepAlive(bindTo)
	if status != C.OATHMESH_OK {
		err := takeError(status, cerr)
		if status == C.OATHMESH_ISSUER_REJECTED || status == C.OATHMESH_ISSUER_UNAVAILABLE {
			return nil, &IssuerError{Code: err.Code, Status: err.HTTPStatus, Message: err.Message, Fix: err.Fix, status: err.status}
		}
		return nil, err
	}
	var minted MintedToken
	if err := json.Unmarshal(takeBytes(&out), &minted); err != nil {
		return nil, &Error{status: ErrInternal.status, Code: "internal_panic", Message: err.Error()}
	}
	return &minted, nil
}
