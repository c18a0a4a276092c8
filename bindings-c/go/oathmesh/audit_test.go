package oathmesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

type auditRecorder struct {
	mu     sync.Mutex
	events []oathmesh.AuditEvent
}

func (r *auditRecorder) record(e oathmesh.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func TestAuditHandler(t *testing.T) {
	f := newFixture(t)
	var rec auditRecorder
	v, err := oathmesh.NewVerifier(f.config(), oathmesh.WithAuditHandler(rec.record))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	token := f.mint(func(r *oathmesh.MintRequest) { r.Env = "prod" })
	if _, err := v.Verify(context.Background(), token, nil, oathmesh.WithRequestID("req-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), token, nil); !errors.Is(err, oathmesh.ErrReplayDetected) {
		t.Fatal(err)
	}
	if len(rec.events) != 2 {
		t.Fatalf("%d events", len(rec.events))
	}
	allow, deny := rec.events[0], rec.events[1]
	if allow.Outcome != "allow" || allow.Subject != "svc://checkout" || allow.Action != "charge" || allow.Env != "prod" ||
		allow.RequestID != "req-1" || allow.TokenID == "" || allow.Code != "" || !allow.Timestamp.Equal(time.Unix(testNow, 0)) {
		t.Fatalf("allow event: %+v", allow)
	}
	if deny.Outcome != "deny" || deny.Code != "replay_detected" || deny.Step != "13" || deny.TokenID != allow.TokenID {
		t.Fatalf("deny event: %+v", deny)
	}
	var raw map[string]any
	if err := json.Unmarshal(deny.JSON, &raw); err != nil || raw["event"] != "oathmesh.verify" {
		t.Fatalf("raw event %s: %v", deny.JSON, err)
	}
	for _, e := range rec.events {
		if strings.Contains(string(e.JSON), token) {
			t.Fatal("an audit event contains the token")
		}
	}
}

// A panicking handler is contained: the verification's result does not change.
func TestAuditHandlerPanicIsContained(t *testing.T) {
	f := newFixture(t)
	v, err := oathmesh.NewVerifier(f.config(), oathmesh.WithAuditHandler(func(oathmesh.AuditEvent) { panic("sink down") }))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(context.Background(), f.mint(), nil); err != nil {
		t.Fatal(err)
	}
}

// The middleware's request id (X-Request-Id) reaches the audit event, from 16 goroutines.
func TestAuditThroughMiddlewareConcurrently(t *testing.T) {
	f := newFixture(t)
	var rec auditRecorder
	v, err := oathmesh.NewVerifier(f.config(), oathmesh.WithAuditHandler(rec.record))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	server := httptest.NewServer(routers[1].build(oathmesh.Middleware(v, oathmesh.Options{})))
	defer server.Close()
	tokens := make([]string, 16)
	for i := range tokens {
		tokens[i] = f.mint()
	}
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := send(t, server, "GET", "/", "", "OathMesh "+token, map[string]string{"X-Request-Id": "req-" + string(rune('a'+i))})
			if got.status != 200 {
				t.Errorf("%d %v", got.status, got.body)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, e := range rec.events {
		seen[e.RequestID] = e.Outcome == "allow"
	}
	if len(rec.events) != 16 || len(seen) != 16 || !seen["req-a"] || !seen["req-p"] {
		t.Fatalf("%d events, request ids %v", len(rec.events), seen)
	}
}
