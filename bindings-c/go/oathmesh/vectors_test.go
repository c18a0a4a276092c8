package oathmesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/oathmesh/oathmesh/bindings-c/go/oathmesh"
)

// vectorFile is the shared conformance file every binding runs (docs/configuration.md).
type vectorFile struct {
	Format  int      `json:"format"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name   string          `json:"name"`
	Token  *string         `json:"token"`
	Config json.RawMessage `json:"config"`
	// Authorization is present (possibly null) only for header vectors.
	Authorization json.RawMessage `json:"authorization"`
	Request       *struct {
		Method       string `json:"method"`
		PathAndQuery string `json:"path_and_query"`
		Body         string `json:"body"`
	} `json:"request"`
	Expect struct {
		Outcome    string         `json:"outcome"`
		Caller     map[string]any `json:"caller"`
		Code       string         `json:"code"`
		Step       string         `json:"step"`
		HTTPStatus int            `json:"http_status"`
	} `json:"expect"`
}

func TestConformanceVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "conformance-vectors", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file vectorFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if file.Format != 1 || len(file.Vectors) < 40 {
		t.Fatalf("format %d with %d vectors; want format 1 and at least 40", file.Format, len(file.Vectors))
	}
	for _, vec := range file.Vectors {
		t.Run(vec.Name, func(t *testing.T) { runVector(t, vec) })
	}
}

func runVector(t *testing.T, vec vector) {
	// The config goes to the core exactly as given.
	v, err := oathmesh.NewVerifierFromJSON(vec.Config)
	if err != nil {
		t.Fatalf("config refused: %v", err)
	}
	defer v.Close()
	var parts *oathmesh.RequestParts
	if vec.Request != nil {
		parts = &oathmesh.RequestParts{Method: vec.Request.Method, PathAndQuery: vec.Request.PathAndQuery, Body: []byte(vec.Request.Body)}
	}
	var caller *oathmesh.Caller
	switch {
	case vec.Token != nil:
		caller, err = v.Verify(context.Background(), *vec.Token, parts)
	case vec.Authorization != nil:
		var header *string
		if err := json.Unmarshal(vec.Authorization, &header); err != nil {
			t.Fatal(err)
		}
		value := "" // null: no header
		if header != nil {
			value = *header
		}
		caller, err = v.VerifyAuthorization(context.Background(), value, parts)
	default:
		t.Fatal("vector has neither token nor authorization")
	}

	switch vec.Expect.Outcome {
	case "allow":
		if err != nil {
			t.Fatalf("want allow, got %v", err)
		}
		got := callerAsJSON(t, caller)
		want := normalise(vec.Expect.Caller)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("caller\n got %v\nwant %v", got, want)
		}
	case "deny":
		var oerr *oathmesh.Error
		if !errors.As(err, &oerr) {
			t.Fatalf("want deny %s, got %v (caller %+v)", vec.Expect.Code, err, caller)
		}
		if oerr.Code != vec.Expect.Code || oerr.Step != vec.Expect.Step || oerr.HTTPStatus != vec.Expect.HTTPStatus {
			t.Fatalf("got %s step %s http %d, want %s step %s http %d", oerr.Code, oerr.Step, oerr.HTTPStatus,
				vec.Expect.Code, vec.Expect.Step, vec.Expect.HTTPStatus)
		}
	default:
		t.Fatalf("unknown outcome %q", vec.Expect.Outcome)
	}
}

// callerAsJSON maps every Go field back to the core's snake_case shape, so a field the Go
// Caller drops or mistranslates shows up as a difference.
func callerAsJSON(t *testing.T, c *oathmesh.Caller) map[string]any {
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var source any
	if c.Source != nil {
		source = c.Source
	}
	doc, err := json.Marshal(map[string]any{
		"issuer": c.Issuer, "subject": c.Subject, "audience": c.Audience, "action": c.Action,
		"token_id": c.TokenID, "issued_at": c.IssuedAt.Unix(), "expires_at": c.ExpiresAt.Unix(),
		"scope": c.Scope, "env": orNull(c.Env), "tenant": orNull(c.Tenant), "reason": orNull(c.Reason),
		"source": source, "delegated_by": orNull(c.DelegatedBy), "policy_rule": orNull(c.PolicyRule),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(doc, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// normalise reads an absent optional string ("" in Go) the same as null.
func normalise(caller map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range caller {
		if s, ok := v.(string); ok && s == "" {
			switch k {
			case "env", "tenant", "reason", "delegated_by", "policy_rule":
				v = nil
			}
		}
		out[k] = v
	}
	return out
}
