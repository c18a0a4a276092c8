package oathmesh_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// oathClaims are an Oath Token's claims as golang-jwt sees them.
type oathClaims struct {
	jwt.RegisteredClaims
	Act   string   `json:"act"`
	Scope []string `json:"scope,omitempty"`
}

// realClockIssuer mints with the system clock, since golang-jwt checks times against it.
func realClockIssuer(t testing.TB, key *oathmesh.GeneratedKey) *oathmesh.Issuer {
	t.Helper()
	issuer, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: testIssuer, PrivateKeyPEM: key.PrivatePEM})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { issuer.Close() })
	return issuer
}

func golangJWTOptions() []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithAudience(testAudience),
		jwt.WithIssuer(testIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(10 * time.Second),
	}
}

// A token from Mint is a standard EdDSA JWS: golang-jwt v5 verifies it with the public key
// exported as PEM and as the JWKS's x.
func TestInteropMintedTokenVerifiesWithGolangJWT(t *testing.T) {
	key, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer := realClockIssuer(t, key)
	minted, err := issuer.Mint(oathmesh.MintRequest{Sub: "svc://checkout", Aud: testAudience, Act: "charge", Scope: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}

	pemKey, err := jwt.ParseEdPublicKeyFromPEM([]byte(key.PublicPEM))
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct{ Kid, X string }
	}
	doc, err := issuer.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &jwks); err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("jwks %s: %v", doc, err)
	}
	x, err := base64.RawURLEncoding.DecodeString(jwks.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	for name, public := range map[string]any{"pem": pemKey, "jwks": ed25519.PublicKey(x)} {
		var claims oathClaims
		token, err := jwt.ParseWithClaims(minted.Token, &claims, func(tok *jwt.Token) (any, error) {
			if tok.Header["kid"] != key.KID || tok.Header["typ"] != "om+jwt" || jwks.Keys[0].Kid != key.KID {
				t.Errorf("header %v", tok.Header)
			}
			return public, nil
		}, golangJWTOptions()...)
		if err != nil || !token.Valid {
			t.Fatalf("%s: golang-jwt refused the minted token: %v", name, err)
		}
		if claims.Subject != "svc://checkout" || claims.Act != "charge" || claims.ID == "" || len(claims.Scope) != 1 {
			t.Fatalf("%s: claims %+v", name, claims)
		}
	}

	// And the other key is refused, so the check above is a real signature check.
	other, _ := oathmesh.GenerateKey()
	otherKey, _ := jwt.ParseEdPublicKeyFromPEM([]byte(other.PublicPEM))
	if _, err := jwt.ParseWithClaims(minted.Token, &oathClaims{}, func(*jwt.Token) (any, error) { return otherKey, nil },
		golangJWTOptions()...); err == nil {
		t.Fatal("golang-jwt accepted the token with another key")
	}
}

// The other direction: a token signed by golang-jwt with the Oath Token header and claims
// passes the OathMesh pipeline.
func TestInteropGolangJWTTokenVerifiesWithOathMesh(t *testing.T) {
	key, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	private, err := jwt.ParseEdPrivateKeyFromPEM([]byte(key.PrivatePEM))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, oathClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: testIssuer, Subject: "svc://checkout", Audience: jwt.ClaimStrings{testAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), ID: "golang-jwt-1",
		},
		Act: "charge",
	})
	token.Header["typ"] = "om+jwt"
	token.Header["kid"] = key.KID
	signed, err := token.SignedString(private)
	if err != nil {
		t.Fatal(err)
	}
	v, err := oathmesh.NewVerifier(oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS()})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// golang-jwt encodes a single audience as a string only when asked; OathMesh requires a
	// string (PROTOCOL §1), so this also pins that golang-jwt's default array is refused.
	_, err = v.Verify(context.Background(), signed, nil)
	var oerr *oathmesh.Error
	if !errors.As(err, &oerr) || oerr.Code != "claim_invalid:aud" {
		t.Fatalf("an array aud: %v", err)
	}
	jwt.MarshalSingleStringAsArray = false
	defer func() { jwt.MarshalSingleStringAsArray = true }()
	signed, err = token.SignedString(private)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := v.Verify(context.Background(), signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if caller.Subject != "svc://checkout" || caller.TokenID != "golang-jwt-1" {
		t.Fatalf("%+v", caller)
	}
}
