package oathmesh_test

// Benchmarks, not timed tests: run with
//
//	OATHMESH_BIN=.../target/release/oathmesh go test -run xxx -bench ClientMint -benchtime 2s
//
// BenchmarkClientMint compares Client.Mint (cgo into the core's blocking HTTP client, one
// goroutine per call for ctx) with the same POST /v1/token made by net/http directly, against
// the same `oathmesh serve` in the same run, so the ratio is the binding's overhead.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

func BenchmarkClientMint(b *testing.B) {
	issuer := startIssuer(b)
	request := oathmesh.MintRequest{Sub: "svc://checkout", Aud: testAudience, Act: "charge"}

	b.Run("oathmesh.Client", func(b *testing.B) {
		client := issuer.client(b)
		for b.Loop() {
			if _, err := client.Mint(context.Background(), request); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net/http", func(b *testing.B) {
		body, _ := json.Marshal(request)
		httpClient := &http.Client{}
		for b.Loop() {
			req, _ := http.NewRequest("POST", issuer.URL+"/v1/token", bytes.NewReader(body))
			req.SetBasicAuth("checkout", issuer.Secret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := httpClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var minted oathmesh.MintedToken
			err = json.NewDecoder(resp.Body).Decode(&minted)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || minted.Token == "" {
				b.Fatalf("%d %v", resp.StatusCode, err)
			}
		}
	})
}
