// The proxy a platform team would write itself, for the gateway benchmark
// (docs/benchmarks.md): net/http/httputil.ReverseProxy in front of one upstream, with
// golang-jwt v5 checking an EdDSA token (signature, exp, iss, aud) on every request.
// Not part of OathMesh; the benchmark starts it on loopback and stops it.
//
//	goproxy -listen 127.0.0.1:0 -upstream http://127.0.0.1:9000 -jwk-x <base64url> \
//	        -iss https://issuer.bench -aud https://upstream.bench [-cert c.pem -key k.pem]
package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "upstream base URL")
	jwkX := flag.String("jwk-x", "", "the issuer's Ed25519 public key (JWK x, base64url)")
	iss := flag.String("iss", "", "trusted issuer")
	aud := flag.String("aud", "", "this service's audience")
	cert := flag.String("cert", "", "TLS certificate (PEM); plain HTTP without it")
	key := flag.String("key", "", "TLS key (PEM)")
	flag.Parse()

	raw, err := base64.RawURLEncoding.DecodeString(*jwkX)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		log.Fatalf("-jwk-x: not an Ed25519 key")
	}
	public := ed25519.PublicKey(raw)
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("-upstream: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer(*iss),
		jwt.WithAudience(*aud),
		jwt.WithExpirationRequired(),
	)
	keyFunc := func(*jwt.Token) (any, error) { return public, nil }
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "OathMesh") {
			http.Error(w, `{"error":"claim_missing:token"}`, http.StatusUnauthorized)
			return
		}
		parsed, err := parser.Parse(token, keyFunc)
		if err != nil || !parsed.Valid {
			http.Error(w, `{"error":"token_invalid"}`, http.StatusUnauthorized)
			return
		}
		sub, _ := parsed.Claims.GetSubject()
		r.Header.Del("Authorization")
		r.Header.Set("X-OathMesh-Subject", sub)
		proxy.ServeHTTP(w, r)
	})
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	fmt.Printf("LISTENING %s\n", listener.Addr())
	os.Stdout.Sync()
	server := &http.Server{Handler: handler}
	if *cert != "" {
		err = server.ServeTLS(listener, *cert, *key)
	} else {
		err = server.Serve(listener)
	}
	log.Fatal(err)
}
