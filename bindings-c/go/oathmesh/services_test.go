package oathmesh_test

// Real services for the client and shared-state tests: an `oathmesh serve` process, and the
// Redis and pkl that scripts/test-c-go.sh provides. A missing service fails the test (it is
// never skipped): the script installs and starts everything.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// requireEnv returns the environment variable or fails the test, naming who sets it.
func requireEnv(t testing.TB, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Fatalf("%s is not set: run the tests through scripts/test-c-go.sh, which provides it", name)
	}
	return value
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// issuerProcess is a running `oathmesh serve` whose iss is its own loopback URL, so
// verifiers fetch its JWKS with no static keys.
type issuerProcess struct {
	URL string
	// Secret authenticates the client "checkout" (sub svc://checkout, aud testAudience, act
	// charge or refund).
	Secret string
	// Key authenticates the client "reporting" (sub svc://reporting, act read) by assertion.
	Key *oathmesh.GeneratedKey
}

func startIssuer(t testing.TB) *issuerProcess {
	t.Helper()
	bin := requireEnv(t, "OATHMESH_BIN")
	dir := t.TempDir()
	if out, err := exec.Command(bin, "keys", "rotate", "--dir", filepath.Join(dir, "keys")).CombinedOutput(); err != nil {
		t.Fatalf("oathmesh keys rotate: %v: %s", err, out)
	}
	key, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := &issuerProcess{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Secret: randomHex(t, 24), Key: key}
	hash := sha256.Sum256([]byte(p.Secret))
	toml := fmt.Sprintf(`issuer = %q
listen = "127.0.0.1:%d"
key_dir = "keys"

[[clients]]
id = "checkout"
secret_sha256 = "%x"
allowed_sub = ["svc://checkout"]
allowed_aud = [%q]
allowed_act = ["charge", "refund"]
# High limits: the client benchmark mints thousands of tokens a second.
rate_per_sec = 1000000.0
burst = 1000000.0

[[clients]]
id = "reporting"
public_key_pem = """%s"""
allowed_sub = ["svc://reporting"]
allowed_aud = [%q]
allowed_act = ["read"]
`, p.URL, port, hash, testAudience, key.PublicPEM, testAudience)
	config := filepath.Join(dir, "issuer.toml")
	if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "issuer.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "issuer.log"))
			t.Fatalf("oathmesh serve did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client is a Client of p authenticated with the "checkout" secret.
func (p *issuerProcess) client(t testing.TB) *oathmesh.Client {
	t.Helper()
	c, err := oathmesh.NewClient(oathmesh.ClientConfig{IssuerURL: p.URL, ClientID: "checkout", ClientSecret: p.Secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// verifier trusts p, fetching its keys from p.URL/.well-known/jwks.json.
func (p *issuerProcess) verifier(t testing.TB, edit ...func(*oathmesh.Config)) *oathmesh.Verifier {
	t.Helper()
	config := oathmesh.Config{Audience: testAudience, TrustedIssuers: []string{p.URL}}
	for _, e := range edit {
		e(&config)
	}
	v, err := oathmesh.NewVerifier(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}
