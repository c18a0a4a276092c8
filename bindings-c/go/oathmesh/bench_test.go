package oathmesh

// Benchmarks, not timed tests: run with
//
//	go test -run xxx -bench . -benchtime 2s
//
// BenchmarkVerify compares Verifier.Verify (the full pipeline: strict Ed25519, claims,
// replay record, policy, audit when configured) with golang-jwt v5's ParseWithClaims on the
// same EdDSA tokens in the same run. BenchmarkCgoCall is the bare cost of crossing into the
// library, to compare with one Verify.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	benchIssuer   = "https://issuer.internal"
	benchAudience = "https://billing.internal"
)

type benchClaims struct {
	jwt.RegisteredClaims
	Act   string   `json:"act"`
	Scope []string `json:"scope,omitempty"`
}

// benchTokens mints n distinct tokens (Oath Tokens are single-use) with a real clock.
func benchTokens(b *testing.B, n int) (*GeneratedKey, []string) {
	b.Helper()
	key, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	issuer, err := NewIssuer(IssuerConfig{Issuer: benchIssuer, PrivateKeyPEM: key.PrivatePEM})
	if err != nil {
		b.Fatal(err)
	}
	defer issuer.Close()
	tokens := make([]string, n)
	for i := range tokens {
		minted, err := issuer.Mint(MintRequest{Sub: "svc://checkout", Aud: benchAudience, Act: "charge", Scope: []string{"payments:write"}})
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = minted.Token
	}
	return key, tokens
}

func BenchmarkVerify(b *testing.B) {
	policy := []byte(`{"version":1,"rules":[{"name":"checkout-charges","allow":true,"match":{"sub":"svc://checkout","act":"charge"}}]}`)
	variants := []struct {
		name   string
		config func(key *GeneratedKey, dir string) Config
	}{
		{"oathmesh", func(key *GeneratedKey, _ string) Config {
			return Config{Audience: benchAudience, TrustedIssuers: []string{benchIssuer}, JWKS: key.JWKS()}
		}},
		{"oathmesh+policy+audit", func(key *GeneratedKey, dir string) Config {
			return Config{Audience: benchAudience, TrustedIssuers: []string{benchIssuer}, JWKS: key.JWKS(),
				Policy: policy, Audit: &Audit{File: filepath.Join(dir, "audit.ndjson")}}
		}},
	}
	for _, variant := range variants {
		b.Run(variant.name, func(b *testing.B) {
			key, tokens := benchTokens(b, b.N)
			v, err := NewVerifier(variant.config(key, b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(ctx, tokens[i], nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("golang-jwt", func(b *testing.B) {
		key, tokens := benchTokens(b, min(b.N, 1000))
		public, err := jwt.ParseEdPublicKeyFromPEM([]byte(key.PublicPEM))
		if err != nil {
			b.Fatal(err)
		}
		parser := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(benchAudience),
			jwt.WithIssuer(benchIssuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(10*time.Second))
		keyFunc := func(*jwt.Token) (any, error) { return public, nil }
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var claims benchClaims
			if _, err := parser.ParseWithClaims(tokens[i%len(tokens)], &claims, keyFunc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCgoCall is one call into liboathmesh that does no work (oathmesh_version).
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cgoNoop()
	}
}
