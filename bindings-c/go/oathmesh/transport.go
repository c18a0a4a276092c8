package oathmesh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrOriginNotAllowed is returned (wrapped, with the origin) by Transport for a request to an
// origin it was not configured for, before any token is minted or anything is sent. A
// redirect to another host ends the http.Client's request with this error.
var ErrOriginNotAllowed = errors.New("oathmesh: the request's origin is not one the Transport sends tokens to")

// Transport is an http.RoundTripper that asks Client for one fresh token per outgoing
// request and sends it as "Authorization: OathMesh <token>". Use it as an http.Client's
// Transport:
//
//	httpClient := &http.Client{Transport: &oathmesh.Transport{Client: client,
//		Mint: oathmesh.MintRequest{Sub: "svc://checkout", Aud: "https://billing.internal", Act: "charge"}}}
//
// A failed mint fails the request with the mint's error (*IssuerError) before anything is
// sent.
//
// Tokens go only to the configured origins (Origins, or else the origin of Mint.Aud).
// http.Client calls RoundTrip again for every redirect hop; a hop to any other origin is
// refused with ErrOriginNotAllowed, so a redirect never earns a fresh token (bound, with
// Bind, to a request the redirecting server chose).
type Transport struct {
	Client *Client
	// Mint is asked for every request (Sub, Aud, Act, ...). Its RQH is ignored: set Bind.
	Mint MintRequest
	// Bind binds each token to its request: the method, the request target as it goes on the
	// wire and the body, which is read whole and put back so it is still sent.
	Bind bool
	// Base sends the request; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Origins are the origins ("https://billing.internal", "http://127.0.0.1:8080") that
	// receive tokens. Empty means the origin of Mint.Aud alone.
	Origins []string
}

// RoundTrip implements http.RoundTripper. It does not modify req: the token goes on a clone.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.checkOrigin(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
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

// checkOrigin refuses a request whose origin is not one of the configured ones.
func (t *Transport) checkOrigin(target *url.URL) error {
	allowed := t.Origins
	if len(allowed) == 0 {
		allowed = []string{t.Mint.Aud}
	}
	got, ok := originOf(target)
	if ok {
		for _, a := range allowed {
			parsed, err := url.Parse(a)
			if err != nil {
				continue
			}
			if want, ok := originOf(parsed); ok && want == got {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s (allowed: %s)", ErrOriginNotAllowed, got, strings.Join(allowed, ", "))
}

// originOf is scheme://host:port, lowercased, with the scheme's default port made explicit,
// so "https://A.example" and "https://a.example:443" are one origin.
func originOf(u *url.URL) (string, bool) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if host == "" || (scheme != "http" && scheme != "https") {
		return scheme + "://" + host, false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port, true
}
