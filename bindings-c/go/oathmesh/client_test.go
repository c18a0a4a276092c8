package oathmesh_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

var chargeRequest = oathmesh.MintRequest{Sub: "svc://checkout", Aud: testAudience, Act: "charge"}

func TestClientMintsAFreshTokenPerCall(t *testing.T) {
	issuer := startIssuer(t)
	client := issuer.client(t)
	verifier := issuer.verifier(t)

	const n = 16
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			minted, err := client.Mint(context.Background(), chargeRequest)
			if err != nil {
				t.Error(err)
				return
			}
			if minted.TokenType != "OathMesh" || minted.ExpiresIn <= 0 {
				t.Errorf("minted: %+v", minted)
			}
			tokens[i] = minted.Token
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, token := range tokens {
		if seen[token] {
			t.Fatal("the client returned the same token twice")
		}
		seen[token] = true
		caller, err := verifier.Verify(context.Background(), token, nil)
		if err != nil {
			t.Fatal(err)
		}
		if caller.Issuer != issuer.URL || caller.Subject != "svc://checkout" || caller.Action != "charge" {
			t.Fatalf("caller: %+v", caller)
		}
		ids[caller.TokenID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct token ids for %d mints", len(ids), n)
	}
	if _, err := verifier.Verify(context.Background(), tokens[0], nil); !errors.Is(err, oathmesh.ErrReplayDetected) {
		t.Fatalf("a second use must be a replay, got %v", err)
	}
}

func TestClientAuthenticatesWithAKey(t *testing.T) {
	issuer := startIssuer(t)
	client, err := oathmesh.NewClient(oathmesh.ClientConfig{
		IssuerURL: issuer.URL, ClientID: "reporting", ClientKeyPEM: issuer.Key.PrivatePEM, TimeoutMS: 3000,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for range 2 { // a fresh assertion per call: the issuer accepts each once
		minted, err := client.Mint(context.Background(), oathmesh.MintRequest{Sub: "svc://reporting", Aud: testAudience, Act: "read"})
		if err != nil {
			t.Fatal(err)
		}
		caller, err := issuer.verifier(t).Verify(context.Background(), minted.Token, nil)
		if err != nil || caller.Subject != "svc://reporting" {
			t.Fatalf("caller %+v, err %v", caller, err)
		}
	}
}

func TestClientErrors(t *testing.T) {
	issuer := startIssuer(t)
	ctx := context.Background()
	expect := func(t *testing.T, err error, sentinel error, code string, status int) {
		t.Helper()
		var ierr *oathmesh.IssuerError
		if !errors.As(err, &ierr) {
			t.Fatalf("want *IssuerError, got %T %v", err, err)
		}
		if ierr.Code != code || ierr.Status != status || ierr.Message == "" || ierr.Fix == "" {
			t.Fatalf("got %+v, want %s %d", ierr, code, status)
		}
		if !errors.Is(err, sentinel) {
			t.Fatalf("errors.Is(%v, %v) is false", err, sentinel)
		}
		if strings.Contains(err.Error(), issuer.Secret) {
			t.Fatal("the error shows the secret")
		}
	}

	t.Run("mint_denied", func(t *testing.T) {
		_, err := issuer.client(t).Mint(ctx, oathmesh.MintRequest{Sub: "svc://admin", Aud: testAudience, Act: "charge"})
		expect(t, err, oathmesh.ErrIssuerRejected, "mint_denied", 403)
	})
	t.Run("invalid_client", func(t *testing.T) {
		wrong, err := oathmesh.NewClient(oathmesh.ClientConfig{IssuerURL: issuer.URL, ClientID: "checkout", ClientSecret: "not-" + issuer.Secret})
		if err != nil {
			t.Fatal(err)
		}
		defer wrong.Close()
		_, err = wrong.Mint(ctx, chargeRequest)
		expect(t, err, oathmesh.ErrIssuerRejected, "invalid_client", 401)
	})
	t.Run("issuer_unavailable", func(t *testing.T) {
		down, err := oathmesh.NewClient(oathmesh.ClientConfig{
			IssuerURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), ClientID: "checkout", ClientSecret: issuer.Secret, TimeoutMS: 1000,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer down.Close()
		_, err = down.Mint(ctx, chargeRequest)
		expect(t, err, oathmesh.ErrIssuerUnavailable, "issuer_unavailable", 503)
		if errors.Is(err, oathmesh.ErrIssuerRejected) {
			t.Fatal("unavailable is not rejected")
		}
	})
	t.Run("config", func(t *testing.T) {
		_, err := oathmesh.NewClient(oathmesh.ClientConfig{IssuerURL: issuer.URL, ClientID: "checkout"})
		if !errors.Is(err, oathmesh.ErrConfigInvalid) {
			t.Fatalf("no credential: %v", err)
		}
		_, err = oathmesh.NewClient(oathmesh.ClientConfig{IssuerURL: issuer.URL, ClientID: "checkout", ClientKeyPEM: "not a key"})
		if !errors.Is(err, oathmesh.ErrConfigInvalid) {
			t.Fatalf("bad key: %v", err)
		}
	})
	t.Run("cancelled and closed", func(t *testing.T) {
		client := issuer.client(t)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := client.Mint(cancelled, chargeRequest); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		client.Close()
		client.Close()
		if _, err := client.Mint(ctx, chargeRequest); !errors.Is(err, oathmesh.ErrClosed) {
			t.Fatalf("closed: %v", err)
		}
	})
}

// tokenEcho is a protected service answering with what it verified and the body it read.
func tokenEcho(v *oathmesh.Verifier) http.Handler {
	return oathmesh.Middleware(v, oathmesh.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := oathmesh.CallerFrom(r.Context())
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		fmt.Fprintf(w, "%s %s %s", caller.TokenID, caller.Action, hex.EncodeToString(sum[:]))
	}))
}

func get(t *testing.T, c *http.Client, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the transport modified the caller's request")
	}
	return resp.StatusCode, string(text)
}

func TestTransportSendsOneTokenPerRequest(t *testing.T) {
	issuer := startIssuer(t)
	server := httptest.NewServer(tokenEcho(issuer.verifier(t)))
	defer server.Close()
	httpClient := &http.Client{Transport: &oathmesh.Transport{Client: issuer.client(t), Mint: chargeRequest, Origins: []string{server.URL}}}

	ids := map[string]bool{}
	for range 3 {
		status, text := get(t, httpClient, "GET", server.URL+"/balance", nil)
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, text)
		}
		ids[strings.Fields(text)[0]] = true
	}
	if len(ids) != 3 {
		t.Fatalf("3 requests sent %d distinct tokens", len(ids))
	}
}

func TestTransportBindsTheRequest(t *testing.T) {
	issuer := startIssuer(t)
	server := httptest.NewServer(tokenEcho(issuer.verifier(t, func(c *oathmesh.Config) { c.RequireBinding = true })))
	defer server.Close()
	client := issuer.client(t)
	body := []byte(`{"amount": 1200, "currency": "eur"}`)
	sum := sha256.Sum256(body)

	bound := &http.Client{Transport: &oathmesh.Transport{Client: client, Mint: chargeRequest, Bind: true, Origins: []string{server.URL}}}
	status, text := get(t, bound, "POST", server.URL+"/charges?order=a%2Fb&x=1", body)
	if status != http.StatusOK || !strings.HasSuffix(text, hex.EncodeToString(sum[:])) {
		t.Fatalf("bound request: %d %s (the body must arrive whole)", status, text)
	}
	status, _ = get(t, bound, "DELETE", server.URL+"/charges/7", nil)
	if status != http.StatusOK {
		t.Fatalf("bound request without a body: %d", status)
	}

	// The same receiver refuses an unbound token...
	unbound := &http.Client{Transport: &oathmesh.Transport{Client: client, Mint: chargeRequest, Origins: []string{server.URL}}}
	if status, text := get(t, unbound, "POST", server.URL+"/charges", body); status != 401 || !strings.Contains(text, "binding_required") {
		t.Fatalf("unbound: %d %s", status, text)
	}
	// ...and a bound token whose body changed after minting.
	tampering := &http.Client{Transport: &oathmesh.Transport{Client: client, Mint: chargeRequest, Bind: true, Origins: []string{server.URL},
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount": 999999, "currency": "eur"}`))
			r.ContentLength = -1
			return http.DefaultTransport.RoundTrip(r)
		})}}
	if status, text := get(t, tampering, "POST", server.URL+"/charges", body); status != 401 || !strings.Contains(text, "binding_mismatch") {
		t.Fatalf("tampered: %d %s", status, text)
	}
}

func TestTransportFailsWhenTheMintFails(t *testing.T) {
	issuer := startIssuer(t)
	var sent atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { sent.Store(true) }))
	defer server.Close()
	httpClient := &http.Client{Transport: &oathmesh.Transport{Client: issuer.client(t), Origins: []string{server.URL},
		Mint: oathmesh.MintRequest{Sub: "svc://checkout", Aud: testAudience, Act: "delete-everything"}}}
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", server.URL, body)
	_, err := httpClient.Do(req)
	var ierr *oathmesh.IssuerError
	if !errors.As(err, &ierr) || ierr.Code != "mint_denied" {
		t.Fatalf("want mint_denied, got %v", err)
	}
	if sent.Load() {
		t.Fatal("the request was sent without a token")
	}
	if !body.closed {
		t.Fatal("RoundTrip must close the request body")
	}
}

// A 307 from the audience's server to a second loopback server: http.Client follows it and
// calls RoundTrip again, and the Transport refuses the hop instead of minting a token (bound,
// with Bind, to the request the redirecting server chose) for the other host.
func TestTransportRefusesARedirectToAnotherOrigin(t *testing.T) {
	issuer := startIssuer(t)
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer other.Close()
	final := tokenEcho(issuer.verifier(t))
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/local" {
			http.Redirect(w, r, "/final", http.StatusTemporaryRedirect)
			return
		}
		if r.URL.Path == "/final" {
			final.ServeHTTP(w, r)
			return
		}
		http.Redirect(w, r, other.URL+"/steal?to=mallory", http.StatusTemporaryRedirect)
	}))
	defer service.Close()

	for _, bind := range []bool{false, true} {
		httpClient := &http.Client{Transport: &oathmesh.Transport{Client: issuer.client(t), Mint: chargeRequest,
			Bind: bind, Origins: []string{service.URL}}}
		req, _ := http.NewRequest("POST", service.URL+"/charges", strings.NewReader(`{"amount":1}`))
		_, err := httpClient.Do(req)
		if !errors.Is(err, oathmesh.ErrOriginNotAllowed) || !strings.Contains(err.Error(), other.URL[len("http://"):]) {
			t.Fatalf("bind=%v: want ErrOriginNotAllowed naming the other origin, got %v", bind, err)
		}
		// A redirect within the configured origin still carries a fresh token.
		if status, text := get(t, httpClient, "POST", service.URL+"/local", []byte(`{"amount":1}`)); status != http.StatusOK {
			t.Fatalf("bind=%v: same-origin redirect: %d %s", bind, status, text)
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("%d tokens reached the other origin", n)
	}
}

// With no Origins, tokens go only to the audience's origin.
func TestTransportDefaultsToTheAudienceOrigin(t *testing.T) {
	issuer := startIssuer(t)
	var sent atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { sent.Store(true) }))
	defer server.Close()
	httpClient := &http.Client{Transport: &oathmesh.Transport{Client: issuer.client(t), Mint: chargeRequest}}
	req, _ := http.NewRequest("GET", server.URL+"/balance", nil)
	if _, err := httpClient.Do(req); !errors.Is(err, oathmesh.ErrOriginNotAllowed) {
		t.Fatalf("want ErrOriginNotAllowed for %s with audience %s, got %v", server.URL, testAudience, err)
	}
	if sent.Load() {
		t.Fatal("the request was sent")
	}
	for _, same := range []string{"https://BILLING.internal:443/x", "https://billing.internal/y?z=1"} {
		tr := &oathmesh.Transport{Client: issuer.client(t), Mint: chargeRequest,
			Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if !strings.HasPrefix(r.Header.Get("Authorization"), "OathMesh ") {
					t.Errorf("%s: no token", same)
				}
				return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
			})}
		req, _ := http.NewRequest("GET", same, nil)
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatalf("%s: %v", same, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return nil
}
