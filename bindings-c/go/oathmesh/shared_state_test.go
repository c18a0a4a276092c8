package oathmesh_test

// Issue 6 through the Go configuration: every option is only renamed into the JSON document,
// so each test proves the option reaches the core, against the real service.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// liveIssuer signs with the system clock (Redis TTLs and file reloads run in real time).
func liveIssuer(t *testing.T, iss string) (*oathmesh.Issuer, *oathmesh.GeneratedKey) {
	t.Helper()
	key, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: iss, PrivateKeyPEM: key.PrivatePEM})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { issuer.Close() })
	return issuer, key
}

func mintFor(t *testing.T, issuer *oathmesh.Issuer, sub string) string {
	t.Helper()
	minted, err := issuer.Mint(oathmesh.MintRequest{Sub: sub, Aud: testAudience, Act: "charge"})
	if err != nil {
		t.Fatal(err)
	}
	return minted.Token
}

func newVerifier(t *testing.T, config oathmesh.Config) *oathmesh.Verifier {
	t.Helper()
	v, err := oathmesh.NewVerifier(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// verifyCode is "allow" or the error code.
func verifyCode(v *oathmesh.Verifier, token string) string {
	_, err := v.Verify(context.Background(), token, nil)
	var oerr *oathmesh.Error
	switch {
	case err == nil:
		return "allow"
	case errors.As(err, &oerr):
		return oerr.Code
	default:
		return err.Error()
	}
}

func TestRedisURLSharesReplayStateBetweenVerifiers(t *testing.T) {
	redisURL := requireEnv(t, "OATHMESH_TEST_REDIS_URL")
	issuer, key := liveIssuer(t, testIssuer)
	config := oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(), RedisURL: redisURL}
	first, second := newVerifier(t, config), newVerifier(t, config)

	token := mintFor(t, issuer, "svc://checkout")
	if got := verifyCode(first, token); got != "allow" {
		t.Fatalf("first receiver: %s", got)
	}
	if got := verifyCode(second, token); got != "replay_detected" {
		t.Fatalf("second receiver, same token: %s (Redis must share the jti)", got)
	}
	if got := verifyCode(second, mintFor(t, issuer, "svc://checkout")); got != "allow" {
		t.Fatalf("second receiver, fresh token: %s", got)
	}
}

func TestRedisRevocationIsSeenAtOnce(t *testing.T) {
	redisURL := requireEnv(t, "OATHMESH_TEST_REDIS_URL")
	issuer, key := liveIssuer(t, testIssuer)
	v := newVerifier(t, oathmesh.Config{
		Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(),
		Revocation: &oathmesh.Revocation{Type: "redis", URL: redisURL, TimeoutMS: 500},
	})
	subject := "svc://revoked-" + randomHex(t, 6)
	if got := verifyCode(v, mintFor(t, issuer, subject)); got != "allow" {
		t.Fatalf("before revocation: %s", got)
	}
	out, err := exec.Command("redis-cli", "-u", redisURL, "HSET", "oathmesh:revocations", subject,
		time.Now().UTC().Format(time.RFC3339)).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v: %s", err, out)
	}
	if got := verifyCode(v, mintFor(t, issuer, subject)); got != "subject_revoked" {
		t.Fatalf("after HSET: %s", got)
	}
	if got := verifyCode(v, mintFor(t, issuer, "svc://checkout")); got != "allow" {
		t.Fatalf("another subject: %s", got)
	}
}

func TestRedisReplayCacheRejectsWhileRedisIsDown(t *testing.T) {
	issuer, key := liveIssuer(t, testIssuer)
	v := newVerifier(t, oathmesh.Config{
		Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(),
		ReplayCache: &oathmesh.ReplayCache{Type: "redis", URL: fmt.Sprintf("redis://127.0.0.1:%d/", freePort(t)),
			OnError: "reject", TimeoutMS: 200},
	})
	_, err := v.Verify(context.Background(), mintFor(t, issuer, "svc://checkout"), nil)
	var oerr *oathmesh.Error
	if !errors.Is(err, oathmesh.ErrReplayCacheUnavailable) || !errors.As(err, &oerr) || oerr.HTTPStatus != 503 {
		t.Fatalf("want replay_cache_unavailable 503, got %v", err)
	}
}

func TestJWKSFetchedFromTheIssuerURL(t *testing.T) {
	var fetches atomic.Int32
	var jwks atomic.Value
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks.Load().([]byte))
	}))
	defer server.Close()
	issuer, _ := liveIssuer(t, server.URL)
	doc, err := issuer.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	jwks.Store([]byte(doc))

	// No static keys: only the trusted issuer's URL.
	v := newVerifier(t, oathmesh.Config{
		Audience: testAudience, TrustedIssuers: []string{server.URL},
		JWKSFetch: &oathmesh.JWKSFetch{FreshnessSecs: 300},
	})
	results, err := v.Prewarm()
	if err != nil || len(results) != 1 || !results[0].OK || results[0].Keys != 1 || results[0].Issuer != server.URL {
		t.Fatalf("prewarm: %+v, %v", results, err)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("prewarm made %d fetches", n)
	}
	for range 3 {
		if got := verifyCode(v, mintFor(t, issuer, "svc://checkout")); got != "allow" {
			t.Fatal(got)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 3 verifications within freshness_secs", n)
	}

	// A key the issuer does not publish is not trusted.
	stranger, _ := liveIssuer(t, server.URL)
	if got := verifyCode(v, mintFor(t, stranger, "svc://checkout")); got != "key_not_found" {
		t.Fatalf("unpublished key: %s", got)
	}
	// Tuning fetching while giving static keys is refused by the core.
	_, err = oathmesh.NewVerifier(oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{server.URL},
		JWKS: doc, JWKSFetch: &oathmesh.JWKSFetch{FreshnessSecs: 5}})
	if !errors.Is(err, oathmesh.ErrConfigInvalid) || !strings.Contains(err.Error(), "jwks_fetch") {
		t.Fatalf("jwks_fetch with static keys: %v", err)
	}
}

// replaceFile writes text beside path and renames it over, as deploy tools do.
func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// eventually retries verify with fresh tokens until it answers want (reloads are checked at
// most once a second).
func eventually(t *testing.T, v *oathmesh.Verifier, issuer *oathmesh.Issuer, want string) {
	t.Helper()
	deadline := time.Now().Add(6 * time.Second)
	for {
		got := verifyCode(v, mintFor(t, issuer, "svc://checkout"))
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s, want %s", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkoutPolicy(allow bool) string {
	return fmt.Sprintf(`{"version": 1, "rules": [{"name": "checkout", "allow": %t, "match": {"sub": "svc://checkout"}}]}`, allow)
}

func TestPolicyFileReloads(t *testing.T) {
	t.Parallel()
	issuer, key := liveIssuer(t, testIssuer)
	path := filepath.Join(t.TempDir(), "policy.json")
	replaceFile(t, path, checkoutPolicy(true))
	v := newVerifier(t, oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(), PolicyFile: path})
	eventually(t, v, issuer, "allow")

	replaceFile(t, path, checkoutPolicy(false))
	eventually(t, v, issuer, "policy_denied")
	replaceFile(t, path, checkoutPolicy(true))
	eventually(t, v, issuer, "allow")

	// A broken rewrite keeps the last good policy (allow), however long we wait.
	replaceFile(t, path, `{"version": 1, "rules": [{"name": "checkout", "alow": false}]}`)
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		if got := verifyCode(v, mintFor(t, issuer, "svc://checkout")); got != "allow" {
			t.Fatalf("after a broken rewrite: %s", got)
		}
	}
	// And a good one after it is picked up again.
	replaceFile(t, path, checkoutPolicy(false))
	eventually(t, v, issuer, "policy_denied")
}

func TestPklPolicyFile(t *testing.T) {
	t.Parallel()
	pkl := requireEnv(t, "OATHMESH_PKL")
	issuer, key := liveIssuer(t, testIssuer)
	path := filepath.Join(t.TempDir(), "policy.pkl")
	pklPolicy := func(act string) string {
		return fmt.Sprintf("version = 1\nrules = new Listing {\n  new { name = \"pkl-checkout\"; allow = true; match = new Mapping { [\"sub\"] = \"svc://checkout\"; [\"act\"] = %q } }\n}\n", act)
	}
	replaceFile(t, path, pklPolicy("charge"))
	v := newVerifier(t, oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(),
		PolicyFile: path, PklPath: pkl})
	caller, err := v.Verify(context.Background(), mintFor(t, issuer, "svc://checkout"), nil)
	if err != nil || caller.PolicyRule != "pkl-checkout" {
		t.Fatalf("caller %+v, err %v", caller, err)
	}
	if got := verifyCode(v, mintFor(t, issuer, "svc://reporting")); got != "policy_denied" {
		t.Fatalf("another subject: %s", got)
	}
	// The .pkl file reloads like a JSON one, through pkl.
	replaceFile(t, path, pklPolicy("refund"))
	eventually(t, v, issuer, "policy_denied")

	// A missing pkl binary is a configuration error that says where to get it.
	_, err = oathmesh.NewVerifier(oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(),
		PolicyFile: path, PklPath: "/nonexistent/pkl"})
	if !errors.Is(err, oathmesh.ErrConfigInvalid) || !strings.Contains(err.Error(), "pkl_path") {
		t.Fatalf("missing pkl: %v", err)
	}
}

func TestAuditHMACChain(t *testing.T) {
	bin := requireEnv(t, "OATHMESH_BIN")
	issuer, key := liveIssuer(t, testIssuer)
	dir := t.TempDir()
	auditFile, keyFile := filepath.Join(dir, "audit.ndjson"), filepath.Join(dir, "audit.key")
	hmacKey := randomHex(t, 32)
	if err := os.WriteFile(keyFile, []byte(hmacKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{testIssuer}, JWKS: key.JWKS(),
		Audit: &oathmesh.Audit{File: auditFile, HMACKey: hmacKey}})
	token := mintFor(t, issuer, "svc://checkout")
	verifyCode(v, token)
	verifyCode(v, token) // a replay: a deny event
	verifyCode(v, mintFor(t, issuer, "svc://checkout"))
	v.Close() // flushes and closes the file

	verify := func() (string, error) {
		out, err := exec.Command(bin, "audit", "verify", "--key-file", keyFile, auditFile).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "OK: 3 events") {
		t.Fatalf("oathmesh audit verify: %v: %s", err, out)
	}
	text, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"seq":1`, `"prev_hash":"` + strings.Repeat("0", 64) + `"`, `"hmac":"`} {
		if !strings.Contains(string(text), field) {
			t.Fatalf("the chain lacks %s:\n%s", field, text)
		}
	}
	// Changing one recorded decision breaks the chain.
	tampered := strings.Replace(string(text), `"replay_detected"`, `"allow"`, 1)
	if tampered == string(text) {
		t.Fatalf("no replay_detected event to tamper with:\n%s", text)
	}
	if err := os.WriteFile(auditFile, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(); err == nil {
		t.Fatalf("a tampered log verified: %s", out)
	}
}
