package oathmesh_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// echo answers with the verified caller and the body the handler received, to prove that
// the middleware put the caller in the context and gave the body back whole.
func echo(w http.ResponseWriter, r *http.Request) {
	caller, ok := oathmesh.CallerFrom(r.Context())
	if !ok {
		http.Error(w, "no caller", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.NewEncoder(w).Encode(map[string]any{"subject": caller.Subject, "action": caller.Action, "body_len": len(body)})
}

type router struct {
	name  string
	build func(mw func(http.Handler) http.Handler) http.Handler
}

var routers = []router{
	{"net/http", func(mw func(http.Handler) http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", mw(http.HandlerFunc(echo)))
		return mux
	}},
	{"chi", func(mw func(http.Handler) http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Use(mw)
		r.HandleFunc("/*", echo)
		return r
	}},
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func send(t *testing.T, server *httptest.Server, method, target, body, authorization string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, server.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var decoded map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&decoded); err != nil {
		t.Fatalf("response body is not JSON: %v", err)
	}
	return response{resp.StatusCode, resp.Header, decoded}
}

func expectError(t *testing.T, got response, status int, code, step string) {
	t.Helper()
	if got.status != status || got.body["error"] != code || got.body["step"] != step {
		t.Fatalf("got %d %v, want %d %s step %s", got.status, got.body, status, code, step)
	}
	for _, key := range []string{"message", "fix", "request_id"} {
		if s, _ := got.body[key].(string); s == "" {
			t.Fatalf("body lacks %s: %v", key, got.body)
		}
	}
	if len(got.body) != 5 {
		t.Fatalf("body has other members than error, message, fix, step, request_id: %v", got.body)
	}
	if got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", got.header.Get("Content-Type"))
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMiddleware(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			f := newFixture(t)
			v := f.verifier()
			server := httptest.NewServer(rt.build(oathmesh.Middleware(v, oathmesh.Options{})))
			defer server.Close()
			auth := func(token string) string { return "OathMesh " + token }

			t.Run("allow", func(t *testing.T) {
				got := send(t, server, "POST", "/pay?x=1", `{"amount":1}`, auth(f.mint()), nil)
				if got.status != 200 || got.body["subject"] != "svc://checkout" || got.body["body_len"] != float64(12) {
					t.Fatalf("%d %v", got.status, got.body)
				}
			})
			t.Run("missing header", func(t *testing.T) {
				got := send(t, server, "GET", "/", "", "", nil)
				expectError(t, got, 401, "claim_missing:token", "00")
				if id := got.body["request_id"].(string); !uuidPattern.MatchString(id) || got.header.Get("X-Request-Id") != id {
					t.Fatalf("generated request id %q", id)
				}
				if got.header.Get("WWW-Authenticate") != "OathMesh" {
					t.Fatalf("WWW-Authenticate %q", got.header.Get("WWW-Authenticate"))
				}
			})
			t.Run("request id from header", func(t *testing.T) {
				got := send(t, server, "GET", "/", "", "Bearer x", map[string]string{"X-Request-Id": "req-42"})
				expectError(t, got, 401, "claim_missing:token", "00")
				if got.body["request_id"] != "req-42" {
					t.Fatalf("request id %v", got.body["request_id"])
				}
			})
			t.Run("expired", func(t *testing.T) {
				old, err := oathmesh.NewIssuer(oathmesh.IssuerConfig{Issuer: testIssuer, PrivateKeyPEM: f.key.PrivatePEM,
					Testing: &oathmesh.IssuerTesting{Now: testNow - 1000}})
				if err != nil {
					t.Fatal(err)
				}
				defer old.Close()
				minted, err := old.Mint(oathmesh.MintRequest{Sub: "svc://checkout", Aud: testAudience, Act: "charge"})
				if err != nil {
					t.Fatal(err)
				}
				expectError(t, send(t, server, "GET", "/", "", auth(minted.Token), nil), 401, "token_expired", "08")
			})
			t.Run("wrong audience", func(t *testing.T) {
				token := f.mint(func(r *oathmesh.MintRequest) { r.Aud = "https://ledger.internal" })
				expectError(t, send(t, server, "GET", "/", "", auth(token), nil), 401, "audience_mismatch", "10")
			})
			t.Run("replay", func(t *testing.T) {
				token := f.mint()
				if got := send(t, server, "GET", "/", "", auth(token), nil); got.status != 200 {
					t.Fatalf("first use: %d %v", got.status, got.body)
				}
				expectError(t, send(t, server, "GET", "/", "", auth(token), nil), 401, "replay_detected", "13")
			})
			t.Run("binding", func(t *testing.T) {
				hash, err := oathmesh.CanonicalRequestHash("POST", "/pay?x=1&y=2", []byte(`{"amount":1}`))
				if err != nil {
					t.Fatal(err)
				}
				bound := func(r *oathmesh.MintRequest) { r.RQH = hash }
				// The query order does not matter; the body does.
				got := send(t, server, "POST", "/pay?y=2&x=1", `{"amount":1}`, auth(f.mint(bound)), nil)
				if got.status != 200 || got.body["body_len"] != float64(12) {
					t.Fatalf("bound allow: %d %v", got.status, got.body)
				}
				expectError(t, send(t, server, "POST", "/pay?x=1&y=2", `{"amount":100}`, auth(f.mint(bound)), nil),
					401, "binding_mismatch", "12")
				expectError(t, send(t, server, "PUT", "/pay?x=1&y=2", `{"amount":1}`, auth(f.mint(bound)), nil),
					401, "binding_mismatch", "12")
			})
		})
	}
}

func TestMiddlewarePolicyDeny(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			f := newFixture(t)
			v := f.verifier(func(c *oathmesh.Config) {
				c.Policy = rawJSON(`{"version":1,"rules":[{"name":"checkout-charges","allow":true,"match":{"sub":"svc://checkout","act":"charge"}}]}`)
			})
			server := httptest.NewServer(rt.build(oathmesh.Middleware(v, oathmesh.Options{})))
			defer server.Close()
			got := send(t, server, "GET", "/", "", "OathMesh "+f.mint(), nil)
			if got.status != 200 {
				t.Fatalf("allowed by policy: %d %v", got.status, got.body)
			}
			token := f.mint(func(r *oathmesh.MintRequest) { r.Act = "refund" })
			expectError(t, send(t, server, "GET", "/", "", "OathMesh "+token, nil), 403, "policy_denied", "14")

			// A route that serves one action refuses tokens minted for another.
			refunds := httptest.NewServer(rt.build(oathmesh.Middleware(v, oathmesh.Options{Action: "refund"})))
			defer refunds.Close()
			expectError(t, send(t, refunds, "GET", "/", "", "OathMesh "+f.mint(), nil), 403, "policy_denied", "14")
		})
	}
}

// A body larger than MaxBodyBytes reaches the handler whole; it is not hashed, so an unbound
// token passes and a bound one fails closed.
func TestMiddlewareLargeBody(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	server := httptest.NewServer(routers[0].build(oathmesh.Middleware(v, oathmesh.Options{MaxBodyBytes: 16})))
	defer server.Close()
	large := strings.Repeat("x", 100)
	got := send(t, server, "POST", "/upload", large, "OathMesh "+f.mint(), nil)
	if got.status != 200 || got.body["body_len"] != float64(100) {
		t.Fatalf("unbound large body: %d %v", got.status, got.body)
	}
	hash, _ := oathmesh.CanonicalRequestHash("POST", "/upload", []byte(large))
	token := f.mint(func(r *oathmesh.MintRequest) { r.RQH = hash })
	expectError(t, send(t, server, "POST", "/upload", large, "OathMesh "+token, nil), 401, "binding_mismatch", "12")
}

func TestVerifyRequestWithHTTPRequest(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(func(c *oathmesh.Config) { c.RequireBinding = true })
	hash, _ := oathmesh.CanonicalRequestHash("POST", "/pay?x=1", []byte("hello"))
	req := httptest.NewRequest("POST", "/pay?x=1", strings.NewReader("hello"))
	req.Header.Set("Authorization", "OathMesh "+f.mint(func(r *oathmesh.MintRequest) { r.RQH = hash }))
	caller, err := v.VerifyRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if caller.Subject != "svc://checkout" || string(body) != "hello" {
		t.Fatalf("%+v %q", caller, body)
	}
}
