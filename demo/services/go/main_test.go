package main

// Starts the service through run.sh, as the end-to-end demo does, with a static-JWKS
// configuration, and calls it over real HTTP.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

const (
	issuerURL = "https://issuer.demo.internal"
	audience  = "https://payments.demo.internal"
)

func TestServiceOverHTTP(t *testing.T) {
	key, err := oathmesh.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: issuerURL, PrivateKeyPEM: key.PrivatePEM})
	if err != nil {
		t.Fatal(err)
	}
	defer issuer.Close()
	config, _ := json.Marshal(oathmesh.Config{
		Audience: audience, TrustedIssuers: []string{issuerURL}, JWKS: key.JWKS(),
		Policy: json.RawMessage(`{"version": 1, "rules": [{"name": "checkout-charges", "allow": true, "match": {"sub": "svc://checkout", "act": "charge"}}]}`),
	})
	configPath := filepath.Join(t.TempDir(), "verifier.json")
	if err := os.WriteFile(configPath, config, 0o600); err != nil {
		t.Fatal(err)
	}
	base := start(t, configPath)

	mint := func(act string, bind *oathmesh.RequestParts) string {
		t.Helper()
		req := oathmesh.MintRequest{Sub: "svc://checkout", Aud: audience, Act: act}
		if bind != nil {
			if req.RQH, err = oathmesh.CanonicalRequestHash(bind.Method, bind.PathAndQuery, bind.Body); err != nil {
				t.Fatal(err)
			}
		}
		minted, err := issuer.Mint(req)
		if err != nil {
			t.Fatal(err)
		}
		return minted.Token
	}
	body := []byte(`{"amount":1250,"currency":"EUR"}`)
	token := mint("charge", &oathmesh.RequestParts{Method: "POST", PathAndQuery: "/api/charges?order=7", Body: body})

	status, answer := call(t, "POST", base+"/api/charges?order=7", token, body)
	sum := sha256.Sum256(body)
	want := map[string]any{
		"service": "payments-go-test", "subject": "svc://checkout", "action": "charge",
		"policy_rule": "checkout-charges", "body_sha256": hex.EncodeToString(sum[:]),
	}
	if status != http.StatusOK {
		t.Fatalf("allow: %d %v", status, answer)
	}
	for k, v := range want {
		if answer[k] != v {
			t.Fatalf("%s = %v, want %v (answer %v)", k, answer[k], v, answer)
		}
	}
	if id, _ := answer["token_id"].(string); id == "" {
		t.Fatalf("no token_id: %v", answer)
	}

	// Denials, with PROTOCOL §2 bodies.
	status, answer = call(t, "POST", base+"/api/charges?order=7", token, body)
	if status != http.StatusUnauthorized || answer["error"] != "replay_detected" || answer["step"] == "" || answer["request_id"] == "" {
		t.Fatalf("replay: %d %v", status, answer)
	}
	status, answer = call(t, "POST", base+"/api/refunds", mint("refund", nil), nil)
	if status != http.StatusForbidden || answer["error"] != "policy_denied" {
		t.Fatalf("policy: %d %v", status, answer)
	}
	status, answer = call(t, "GET", base+"/api/charges", "", nil)
	if status != http.StatusUnauthorized || answer["error"] != "claim_missing:token" {
		t.Fatalf("no token: %d %v", status, answer)
	}
}

// start runs run.sh on a free port and waits for /healthz.
func start(t *testing.T, configPath string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// A file, not a buffer: the process writes it while the test may read it.
	logPath := filepath.Join(t.TempDir(), "service.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("./run.sh")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "SERVICE_NAME=payments-go-test", "OATHMESH_CONFIG="+configPath)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so cleanup stops the build too
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		logs.Close()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second) // the first run.sh may compile
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(text)) != `{"ok":true}` {
				t.Fatalf("healthz: %d %s", resp.StatusCode, text)
			}
			return base
		}
		if time.Now().After(deadline) {
			text, _ := os.ReadFile(logPath)
			t.Fatalf("the service did not start: %v\n%s", err, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, token string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "OathMesh "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatalf("%s %s: not JSON: %v", method, url, err)
	}
	return resp.StatusCode, answer
}
