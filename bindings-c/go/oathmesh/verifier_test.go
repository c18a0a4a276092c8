package oathmesh_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

func TestMintAndVerify(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	token := f.mint(func(r *oathmesh.MintRequest) {
		r.Scope = []string{"payments:write"}
		r.Env = "prod"
		r.Src = &oathmesh.Source{Type: "github_actions", Repo: "acme/app"}
		r.TTLHint = 60
	})
	caller, err := v.Verify(context.Background(), token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if caller.Subject != "svc://checkout" || caller.Issuer != testIssuer || caller.Audience != testAudience ||
		caller.Action != "charge" || caller.Env != "prod" || caller.Tenant != "" || caller.PolicyRule != "" {
		t.Fatalf("caller: %+v", caller)
	}
	if !caller.IssuedAt.Equal(time.Unix(testNow, 0)) || caller.ExpiresAt.Sub(caller.IssuedAt) != time.Minute {
		t.Fatalf("times: %v %v", caller.IssuedAt, caller.ExpiresAt)
	}
	if len(caller.Scope) != 1 || caller.Scope[0] != "payments:write" || caller.TokenID == "" {
		t.Fatalf("scope/jti: %+v", caller)
	}
	if caller.Source == nil || caller.Source.Type != "github_actions" || caller.Source.Repo != "acme/app" {
		t.Fatalf("source: %+v", caller.Source)
	}

	// Single use.
	_, err = v.Verify(context.Background(), token, nil)
	if !errors.Is(err, oathmesh.ErrReplayDetected) {
		t.Fatalf("replay: %v", err)
	}
}

func TestErrorsAreTypedAndMatchSentinels(t *testing.T) {
	f := newFixture(t)
	mint := func() string { return f.mint() }
	other, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		edit     func(*oathmesh.Config)
		token    func() string
		action   string
		sentinel error
		code     string
		step     string
		status   int
	}{
		{"malformed", nil, func() string { return "a.b" }, "", oathmesh.ErrTokenMalformed, "token_malformed", "01", 401},
		{"alg none", nil, func() string {
			parts := strings.SplitN(f.mint(), ".", 2)
			return "eyJ0eXAiOiJvbStqd3QiLCJhbGciOiJub25lIiwia2lkIjoiazEifQ." + parts[1]
		}, "", oathmesh.ErrAlgorithmNotAllowed, "algorithm_not_allowed", "02", 401},
		{"untrusted issuer", func(c *oathmesh.Config) { c.TrustedIssuers = []string{"https://other.internal"} }, mint, "",
			oathmesh.ErrIssuerUntrusted, "issuer_untrusted", "04", 401},
		{"unknown key", func(c *oathmesh.Config) { c.JWKS = other.JWKS() }, mint, "",
			oathmesh.ErrKeyNotFound, "key_not_found", "05", 401},
		{"jwks down", func(c *oathmesh.Config) { c.Testing.Unavailable = []string{"jwks"} }, mint, "",
			oathmesh.ErrJWKSUnavailable, "jwks_unavailable", "05", 503},
		{"bad signature", nil, func() string {
			token := f.mint()
			i := strings.LastIndexByte(token, '.') + 1
			flip := byte('A')
			if token[i] == 'A' {
				flip = 'B'
			}
			return token[:i] + string(flip) + token[i+1:]
		}, "", oathmesh.ErrSignatureInvalid, "signature_invalid", "06", 401},
		{"expired", func(c *oathmesh.Config) { c.Testing.Now = testNow + 1000 }, mint, "",
			oathmesh.ErrTokenExpired, "token_expired", "08", 401},
		{"not yet valid", func(c *oathmesh.Config) { c.Testing.Now = testNow - 1000 }, mint, "",
			oathmesh.ErrTokenNotYetValid, "token_not_yet_valid", "09", 401},
		{"wrong audience", func(c *oathmesh.Config) { c.Audience = "https://ledger.internal" }, mint, "",
			oathmesh.ErrAudienceMismatch, "audience_mismatch", "10", 401},
		{"binding required", func(c *oathmesh.Config) { c.RequireBinding = true }, mint, "",
			oathmesh.ErrBindingRequired, "binding_required", "12", 401},
		{"revoked", func(c *oathmesh.Config) { c.RevokedSubjects = []string{"svc://checkout"} }, mint, "",
			oathmesh.ErrSubjectRevoked, "subject_revoked", "13.5", 401},
		{"revocation down", func(c *oathmesh.Config) { c.Testing.Unavailable = []string{"revocation"} }, mint, "",
			oathmesh.ErrRevocationUnavailable, "revocation_unavailable", "13.5", 503},
		{"policy default deny", func(c *oathmesh.Config) {
			c.Policy = rawJSON(`{"version":1,"rules":[{"name":"refunds","allow":true,"match":{"act":"refund"}}]}`)
		}, mint, "", oathmesh.ErrPolicyDenied, "policy_denied", "14", 403},
		{"required action", nil, mint, "refund", oathmesh.ErrPolicyDenied, "policy_denied", "14", 403},
		{"replay cache down", func(c *oathmesh.Config) { c.Testing.Unavailable = []string{"replay_cache"} }, mint, "",
			oathmesh.ErrReplayCacheUnavailable, "replay_cache_unavailable", "13", 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*oathmesh.Config)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			v := f.verifier(edits...)
			var opts []oathmesh.VerifyOption
			if tc.action != "" {
				opts = append(opts, oathmesh.WithRequiredAction(tc.action))
			}
			caller, err := v.Verify(context.Background(), tc.token(), nil, opts...)
			if caller != nil || !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v, want %v", err, tc.sentinel)
			}
			var oerr *oathmesh.Error
			if !errors.As(err, &oerr) {
				t.Fatalf("not an *oathmesh.Error: %T", err)
			}
			if oerr.Code != tc.code || oerr.Step != tc.step || oerr.HTTPStatus != tc.status || oerr.Message == "" || oerr.Fix == "" {
				t.Fatalf("error: %+v", oerr)
			}
			// Another family's sentinel does not match.
			if errors.Is(err, oathmesh.ErrClaimMissing) {
				t.Fatal("matched the wrong sentinel")
			}
		})
	}
}

func TestAuthorizationHeader(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	caller, err := v.VerifyAuthorization(context.Background(), "OathMesh "+f.mint(), nil)
	if err != nil || caller.Action != "charge" {
		t.Fatalf("%v %+v", err, caller)
	}
	for _, header := range []string{"", "Bearer " + f.mint(), "OathMesh  " + f.mint()} {
		_, err := v.VerifyAuthorization(context.Background(), header, nil)
		var oerr *oathmesh.Error
		if !errors.As(err, &oerr) || oerr.Code != "claim_missing:token" || oerr.Step != "00" || !errors.Is(err, oathmesh.ErrClaimMissing) {
			t.Fatalf("%q: %v", header, err)
		}
	}
}

func TestRequestBinding(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(func(c *oathmesh.Config) { c.RequireBinding = true })
	body := []byte(`{"amount":1}`)
	hash, err := oathmesh.CanonicalRequestHash("POST", "/pay?x=1", body)
	if err != nil {
		t.Fatal(err)
	}
	// Computed independently: sha256("POST\n/pay\nx=1\n" + hex(sha256(body))).
	if hash != "sha256:684788413eaf905977d74669d3aff6e38e641790fcd3e4c3604c736cad4e2a74" {
		t.Fatalf("hash %s", hash)
	}
	bound := func(r *oathmesh.MintRequest) { r.RQH = hash }
	if _, err := v.Verify(context.Background(), f.mint(bound), &oathmesh.RequestParts{Method: "POST", PathAndQuery: "/pay?x=1", Body: body}); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), f.mint(bound), &oathmesh.RequestParts{Method: "POST", PathAndQuery: "/pay?x=1", Body: []byte(`{"amount":100}`)})
	if !errors.Is(err, oathmesh.ErrBindingMismatch) {
		t.Fatalf("changed body: %v", err)
	}
	_, err = v.Verify(context.Background(), f.mint(bound), nil)
	if !errors.Is(err, oathmesh.ErrBindingMismatch) {
		t.Fatalf("no request: %v", err)
	}
	empty, err := oathmesh.CanonicalRequestHash("GET", "/", nil)
	if err != nil || empty != "sha256:7ab4e29f815aa5cca74727c3b5bbea3e2fa3d33ea85848c546d53ea2c67e0e77" {
		t.Fatalf("empty: %s %v", empty, err)
	}
	if _, err := oathmesh.CanonicalRequestHash("GET", "/\xff", nil); !errors.Is(err, oathmesh.ErrInvalidUTF8) {
		t.Fatalf("non-UTF-8 path: %v", err)
	}
}

func TestConfigurationAndMintErrors(t *testing.T) {
	_, err := oathmesh.NewVerifierFromJSON([]byte(`{"audience":"a","trusted_issuers":["i"],"jwks":{"keys":[]},"audiense":1}`))
	var oerr *oathmesh.Error
	if !errors.Is(err, oathmesh.ErrConfigInvalid) || !errors.As(err, &oerr) || !strings.Contains(oerr.Message, "audiense") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := oathmesh.NewVerifierFromJSON(nil); !errors.Is(err, oathmesh.ErrConfigInvalid) {
		t.Fatalf("empty config: %v", err)
	}
	if _, err := oathmesh.NewVerifier(oathmesh.Config{Audience: "a"}); !errors.Is(err, oathmesh.ErrConfigInvalid) {
		t.Fatalf("no keys: %v", err)
	}
	if _, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: testIssuer, PrivateKeyPEM: "nope"}); !errors.Is(err, oathmesh.ErrConfigInvalid) {
		t.Fatalf("bad pem: %v", err)
	}
	f := newFixture(t)
	_, err = f.issuer.Mint(oathmesh.MintRequest{Sub: "checkout", Aud: testAudience, Act: "charge"})
	if !errors.Is(err, oathmesh.ErrMintClaimInvalid) || !errors.As(err, &oerr) || oerr.Code != "claim_invalid:sub" {
		t.Fatalf("bad sub: %v", err)
	}
	if _, err := f.issuer.MintJSON([]byte(`{"sub":"svc://a","aud":"b","act":"c","exp":1}`)); !errors.Is(err, oathmesh.ErrMintClaimInvalid) {
		t.Fatalf("caller-chosen exp: %v", err)
	}
}

func TestCloseIsSafe(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := v.Verify(context.Background(), f.mint(), nil); !errors.Is(err, oathmesh.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	issuer, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: testIssuer, PrivateKeyPEM: f.key.PrivatePEM})
	if err != nil {
		t.Fatal(err)
	}
	issuer.Close()
	if _, err := issuer.Mint(oathmesh.MintRequest{}); !errors.Is(err, oathmesh.ErrClosed) {
		t.Fatalf("issuer after Close: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, f.mint(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// Sixteen goroutines share one verifier: each of their tokens is accepted exactly once, and
// every replay of a token another goroutine already used is refused.
func TestConcurrentVerification(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	const goroutines, perGoroutine = 16, 20
	tokens := make([]string, goroutines*perGoroutine)
	for i := range tokens {
		tokens[i] = f.mint()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := map[string]int{}
	replays := 0
	start := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			// Each goroutine verifies every token of its own share, then one of a neighbour's.
			for i := 0; i < perGoroutine; i++ {
				token := tokens[g*perGoroutine+i]
				caller, err := v.Verify(context.Background(), token, nil)
				mu.Lock()
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
				} else {
					allowed[caller.TokenID]++
				}
				mu.Unlock()
			}
		}(g)
	}
	close(start)
	wg.Wait()
	if len(allowed) != len(tokens) {
		t.Fatalf("%d distinct callers for %d tokens", len(allowed), len(tokens))
	}
	// Every token is now spent; racing replays of one token are all refused.
	var replayWG sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		replayWG.Add(1)
		go func() {
			defer replayWG.Done()
			_, err := v.Verify(context.Background(), tokens[0], nil)
			mu.Lock()
			if errors.Is(err, oathmesh.ErrReplayDetected) {
				replays++
			}
			mu.Unlock()
		}()
	}
	replayWG.Wait()
	if replays != goroutines {
		t.Fatalf("%d of %d replays refused", replays, goroutines)
	}
}

// A fresh token raced by 16 goroutines is accepted exactly once.
func TestConcurrentRaceOnOneToken(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	token := f.mint()
	var wg sync.WaitGroup
	results := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), token, nil)
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		} else if !errors.Is(err, oathmesh.ErrReplayDetected) {
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d goroutines accepted the same token", ok)
	}
}

func TestVersion(t *testing.T) {
	if oathmesh.Version() != "0.2.0" {
		t.Fatalf("version %q", oathmesh.Version())
	}
}
