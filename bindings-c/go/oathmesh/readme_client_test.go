package oathmesh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// The README's Client quickstart, as written, against a real `oathmesh serve` and a billing
// service that requires bound tokens.
func TestReadmeClientQuickstart(t *testing.T) {
	issuer := startIssuer(t)
	billing := httptest.NewServer(tokenEcho(issuer.verifier(t, func(c *oathmesh.Config) { c.RequireBinding = true })))
	defer billing.Close()
	t.Setenv("OATHMESH_CLIENT_SECRET", issuer.Secret)
	output := captureStdout(t, func() { readmeClientQuickstart(issuer.URL, billing.URL) })
	if output != "200\nmint_denied 403\n" {
		t.Fatalf("the quickstart printed %q", output)
	}
}

func readmeClientQuickstart(issuerURL, billingURL string) {
	// Once, at start-up: a client of the issuer (`oathmesh serve`), authenticated with this
	// service's secret (or ClientKeyPEM). Each mint is a fresh token; never cache one.
	client, err := oathmesh.NewClient(oathmesh.ClientConfig{
		IssuerURL:    issuerURL, // e.g. "https://issuer.internal"
		ClientID:     "checkout",
		ClientSecret: os.Getenv("OATHMESH_CLIENT_SECRET"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Every request sent through this http.Client carries its own token, bound to the exact
	// method, target and body sent (Bind), so it cannot be replayed or altered in flight.
	httpClient := &http.Client{Transport: &oathmesh.Transport{
		Client: client,
		Mint:   oathmesh.MintRequest{Sub: "svc://checkout", Aud: "https://billing.internal", Act: "charge"},
		Bind:   true,
		// Tokens go to this origin only (default: the audience's); a redirect elsewhere fails.
		Origins: []string{billingURL},
	}}
	resp, err := httpClient.Post(billingURL+"/charges", "application/json", strings.NewReader(`{"amount":1200}`))
	if err != nil {
		log.Fatal(err) // a refused mint is an *oathmesh.IssuerError, and nothing was sent
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode) // 200

	// Minting directly; the issuer's refusals are *oathmesh.IssuerError.
	_, err = client.Mint(context.Background(), oathmesh.MintRequest{Sub: "svc://admin", Aud: "https://billing.internal", Act: "charge"})
	var ierr *oathmesh.IssuerError
	if errors.As(err, &ierr) {
		fmt.Println(ierr.Code, ierr.Status) // mint_denied 403
	}
}

// captureStdout runs f with os.Stdout sent to a pipe and returns what it printed. Only for
// sequential tests: os.Stdout is process-wide.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		text, _ := io.ReadAll(r)
		done <- string(text)
	}()
	defer func() { os.Stdout = stdout }()
	f()
	w.Close()
	os.Stdout = stdout
	return <-done
}
