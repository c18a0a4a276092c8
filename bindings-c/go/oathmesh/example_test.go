package oathmesh_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// The README's Go quickstart is this function's body (readme_test.go checks they match).
func Example() {
	// Once, at start-up: a verifier for this service. In production the keys come from the
	// issuer's JWKS (JWKS, JWKSFile or IssuerJWKS); here a fresh key signs and verifies.
	key, err := oathmesh.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := oathmesh.NewVerifier(oathmesh.Config{
		Audience:       "https://billing.internal",
		TrustedIssuers: []string{"https://issuer.internal"},
		JWKS:           key.JWKS(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer verifier.Close()

	// Every route behind the middleware sees the verified caller.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charges", func(w http.ResponseWriter, r *http.Request) {
		caller, _ := oathmesh.CallerFrom(r.Context())
		fmt.Fprintf(w, "hello %s, you may %s", caller.Subject, caller.Action)
	})
	handler := oathmesh.Middleware(verifier, oathmesh.Options{Action: "charge"})(mux)
	// With chi: r := chi.NewRouter(); r.Use(oathmesh.Middleware(verifier, oathmesh.Options{}))

	server := httptest.NewServer(handler)
	defer server.Close()

	// The caller's side: mint a single-use token and send it.
	issuer, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: "https://issuer.internal", PrivateKeyPEM: key.PrivatePEM})
	if err != nil {
		log.Fatal(err)
	}
	defer issuer.Close()
	minted, err := issuer.Mint(oathmesh.MintRequest{Sub: "svc://checkout", Aud: "https://billing.internal", Act: "charge"})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		req, _ := http.NewRequest("POST", server.URL+"/charges", nil)
		req.Header.Set("Authorization", "OathMesh "+minted.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode) // 200, then 401 replay_detected: tokens are single-use
	}

	// Verifying directly: failures are *oathmesh.Error, matched with errors.Is / errors.As.
	_, err = verifier.Verify(context.Background(), minted.Token, nil)
	var oerr *oathmesh.Error
	if errors.Is(err, oathmesh.ErrReplayDetected) && errors.As(err, &oerr) {
		fmt.Println(oerr.Code, oerr.Step, oerr.HTTPStatus)
	}
	// Output:
	// 200
	// 401
	// replay_detected 13 401
}
