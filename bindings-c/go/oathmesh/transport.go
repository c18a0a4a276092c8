package oathmesh

import (
	"bytes"
	"io"
	"net/http"
)

// Transport is an http.RoundTripper that asks Client for one fresh token per outgoing
// request and sends it as "Authorization: OathMesh <token>". Use it as an http.Client's
// Transport:
//
//	httpClient := &http.Client{Transport: &oathmesh.Transport{Client: client,
//		Mint: oathmesh.MintRequest{Sub: "svc://checkout", Aud: "https://billing.internal", Act: "charge"}}}
//
// A failed mint fails the request with the mint's error (*IssuerError) before anything is
// sent.
type Transport struct {
	Client *Client
	// Mint is asked for every request (Sub, Aud, Act, ...). Its RQH is ignored: set Bind.
	Mint MintRequest
	// Bind binds each token to its request: the method, the request target as it goes on the
	// wire and the body, which is read whole and put back so it is still sent.
	Bind bool
	// Base sends the request; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper. It does not modify req: the token goes on a clone.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	mint := t.Mint
	mint.RQH = ""
	out := req.Clone(req.Context())
	var minted *MintedToken
	var err error
	if t.Bind {
		var body []byte
		body, err = readAndRestore(req, out)
		if err != nil {
			return nil, err
		}
		minted, err = t.Client.MintForRequest(req.Context(), mint, RequestParts{
			Method:       methodOf(req),
			PathAndQuery: req.URL.RequestURI(),
			Body:         body,
		})
	} else {
		minted, err = t.Client.Mint(req.Context(), mint)
	}
	if err != nil {
		// RoundTrip must close the body even when it fails.
		if out.Body != nil {
			out.Body.Close()
		}
		return nil, err
	}
	out.Header.Set("Authorization", "OathMesh "+minted.Token)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

// readAndRestore reads req's body whole, closes it, and gives out a replayable copy (Body,
// GetBody, ContentLength), so the bytes hashed are exactly the bytes sent.
func readAndRestore(req, out *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return body, nil
}

// methodOf is the method net/http sends: "" means GET.
func methodOf(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}
