package oathmesh_test

import (
	"encoding/json"
	"testing"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

const (
	testNow      = 1767225600
	testIssuer   = "https://issuer.internal"
	testAudience = "https://billing.internal"
)

// fixture is one key, an issuer with a fixed clock, and a way to build verifiers that trust
// it at the same clock.
type fixture struct {
	t      testing.TB
	key    *oathmesh.GeneratedKey
	issuer *oathmesh.Issuer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{
		Issuer:        testIssuer,
		PrivateKeyPEM: key.PrivatePEM,
		Testing:       &oathmesh.IssuerTesting{Now: testNow},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { issuer.Close() })
	return &fixture{t: t, key: key, issuer: issuer}
}

// config is a verifier configuration trusting the fixture's key at the fixture's clock.
func (f *fixture) config() oathmesh.Config {
	return oathmesh.Config{
		Audience:       testAudience,
		TrustedIssuers: []string{testIssuer},
		JWKS:           f.key.JWKS(),
		Testing:        &oathmesh.Testing{Now: testNow},
	}
}

func (f *fixture) verifier(edit ...func(*oathmesh.Config)) *oathmesh.Verifier {
	f.t.Helper()
	config := f.config()
	for _, e := range edit {
		e(&config)
	}
	v, err := oathmesh.NewVerifier(config)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { v.Close() })
	return v
}

func (f *fixture) mint(edit ...func(*oathmesh.MintRequest)) string {
	f.t.Helper()
	req := oathmesh.MintRequest{Sub: "svc://checkout", Aud: testAudience, Act: "charge"}
	for _, e := range edit {
		e(&req)
	}
	minted, err := f.issuer.Mint(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return minted.Token
}

func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }
