// The OathMesh demo service in Go (net/http). Env:
//
//	PORT             port to listen on
//	SERVICE_NAME     echoed in every answer
//	OATHMESH_CONFIG  path of a verifier configuration JSON document, used as-is
//
// GET /healthz is open; every method and path under /api/ needs an Oath Token, checked by
// oathmesh.Middleware against the real request (method, request target as sent, exact
// body bytes). Failures are answered with PROTOCOL §2's JSON body and status.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

func main() {
	log.SetFlags(0)
	port, service, configPath := required("PORT"), required("SERVICE_NAME"), required("OATHMESH_CONFIG")
	config, err := os.ReadFile(configPath)
	if err != nil {
		log.Fatalf("OATHMESH_CONFIG: %v", err)
	}
	verifier, err := oathmesh.NewVerifierFromJSON(config)
	if err != nil {
		log.Fatalf("OATHMESH_CONFIG: %v", err)
	}
	defer verifier.Close()
	// Load fetched JWKS before serving. A failure is reported, not fatal: requests fail
	// closed (503 jwks_unavailable) until a later fetch succeeds.
	if results, err := verifier.Prewarm(); err == nil {
		for _, r := range results {
			if !r.OK {
				log.Printf("oathmesh: prewarm %s: %s", r.Issuer, r.Error)
			}
		}
	}

	server := &http.Server{
		Addr:              net.JoinHostPort("0.0.0.0", port),
		Handler:           newHandler(service, verifier),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	log.Printf("%s listening on :%s", service, port)
	if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func required(name string) string {
	value := os.Getenv(name)
	if value == "" {
		log.Fatalf("%s is not set", name)
	}
	return value
}

// newHandler routes /healthz openly and everything under /api/ through the middleware.
func newHandler(service string, verifier *oathmesh.Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]bool{"ok": true})
	})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := oathmesh.CallerFrom(r.Context())
		// The middleware put the body back: these are the bytes the binding was checked on.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(body)
		var policyRule *string // null without a policy, as the other demo services answer
		if caller.PolicyRule != "" {
			policyRule = &caller.PolicyRule
		}
		writeJSON(w, map[string]any{
			"service":     service,
			"subject":     caller.Subject,
			"action":      caller.Action,
			"token_id":    caller.TokenID,
			"policy_rule": policyRule,
			"body_sha256": hex.EncodeToString(sum[:]),
		})
	})
	mux.Handle("/api/", oathmesh.Middleware(verifier, oathmesh.Options{})(api))
	return mux
}

func writeJSON(w http.ResponseWriter, value any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(value)
}
