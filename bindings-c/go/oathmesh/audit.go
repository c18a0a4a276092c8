package oathmesh

/*
#include <stdint.h>
#include "oathmesh.h"
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"time"
	"unsafe"
)

// AuditEvent is one verification outcome (PROTOCOL §8), allow or deny. It never holds the
// token or a key.
type AuditEvent struct {
	// Outcome is "allow" or "deny".
	Outcome string
	// Code and Step say why a verification was denied ("" on allow).
	Code string
	Step string
	// PolicyRule is the rule that decided, when a policy is configured.
	PolicyRule string
	// The token's claims, as far as they were decoded before the pipeline stopped.
	Issuer    string
	Subject   string
	Audience  string
	Action    string
	TokenID   string
	Env       string
	Tenant    string
	Source    *Source
	RequestID string
	Timestamp time.Time
	Latency   time.Duration
	// JSON is the event exactly as the core wrote it: one NDJSON line, ready to log.
	JSON []byte
}

type auditJSON struct {
	Outcome    string  `json:"outcome"`
	Code       *string `json:"code"`
	Step       *string `json:"step"`
	PolicyRule *string `json:"policy_rule"`
	Iss        *string `json:"iss"`
	Sub        *string `json:"sub"`
	Aud        *string `json:"aud"`
	Act        *string `json:"act"`
	JTI        *string `json:"jti"`
	Env        *string `json:"env"`
	Tenant     *string `json:"tenant"`
	Src        *Source `json:"src"`
	RequestID  *string `json:"request_id"`
	Timestamp  string  `json:"timestamp"`
	LatencyUS  int64   `json:"latency_us"`
}

func parseAuditEvent(data []byte) AuditEvent {
	var e auditJSON
	_ = json.Unmarshal(data, &e) // the core's own shape; a field that fails to decode stays zero
	text := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	ts, _ := time.Parse(time.RFC3339Nano, e.Timestamp)
	return AuditEvent{
		Outcome: e.Outcome, Code: text(e.Code), Step: text(e.Step), PolicyRule: text(e.PolicyRule),
		Issuer: text(e.Iss), Subject: text(e.Sub), Audience: text(e.Aud), Action: text(e.Act),
		TokenID: text(e.JTI), Env: text(e.Env), Tenant: text(e.Tenant), Source: e.Src,
		RequestID: text(e.RequestID), Timestamp: ts, Latency: time.Duration(e.LatencyUS) * time.Microsecond,
		JSON: data,
	}
}

// VerifierOption configures NewVerifier and NewVerifierFromJSON beyond the JSON document.
type VerifierOption func(*verifierOptions)

type verifierOptions struct {
	audit func(AuditEvent)
}

// WithAuditHandler receives every audit event, beside the configuration's built-in sinks
// (audit.stdout, audit.file). It runs synchronously on the verifying goroutine, possibly on
// many goroutines at once: keep it quick and safe for concurrent use (log it, or hand it to
// a channel). A panic in it is recovered and never changes a verification's result.
func WithAuditHandler(handler func(AuditEvent)) VerifierOption {
	return func(o *verifierOptions) { o.audit = handler }
}

//export oathmeshGoAudit
func oathmeshGoAudit(handle C.uintptr_t, event *C.uint8_t, eventLen C.size_t) {
	// A Go panic must never unwind into the Rust frames below this callback.
	defer func() { _ = recover() }()
	handler := cgo.Handle(handle).Value().(func(AuditEvent))
	handler(parseAuditEvent(C.GoBytes(unsafe.Pointer(event), C.int(eventLen))))
}
