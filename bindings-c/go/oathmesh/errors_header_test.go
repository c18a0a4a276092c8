package oathmesh

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The sentinels' family numbers are the C ABI's: every status constant of the committed
// header has its sentinel with the same number, and ErrClosed's number (Go-only) is one the
// header does not use, reserved in its comment.
func TestSentinelNumbersMatchTheHeader(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "include", "oathmesh.h"))
	if err != nil {
		t.Fatal(err)
	}
	constants := map[string]uint32{}
	for _, m := range regexp.MustCompile(`(?m)^\s*OATHMESH_([A-Z0-9_]+) = (\d+),`).FindAllStringSubmatch(string(text), -1) {
		n, _ := strconv.ParseUint(m[2], 10, 32)
		constants[m[1]] = uint32(n)
	}
	if len(constants) < 20 {
		t.Fatalf("parsed only %d status constants from oathmesh.h", len(constants))
	}
	// Header names whose Go sentinel is spelled differently.
	renamed := map[string]string{
		"NULL_ARGUMENT":      "invalid_argument",
		"MINT_CLAIM_INVALID": "mint_claim_invalid",
		"MINT_SIGNER_FAILED": "signer_failed",
		"PANIC":              "internal_panic",
	}
	sentinels := map[string]*Error{"mint_claim_invalid": ErrMintClaimInvalid}
	for _, s := range []*Error{
		ErrTokenMalformed, ErrAlgorithmNotAllowed, ErrClaimMissing, ErrClaimInvalid, ErrIssuerUntrusted,
		ErrKeyNotFound, ErrJWKSUnavailable, ErrSignatureInvalid, ErrTokenExpired, ErrTokenNotYetValid,
		ErrAudienceMismatch, ErrBindingRequired, ErrBindingMismatch, ErrSubjectRevoked,
		ErrRevocationUnavailable, ErrPolicyDenied, ErrReplayDetected, ErrReplayCacheUnavailable,
		ErrInvalidArgument, ErrInvalidUTF8, ErrConfigInvalid, ErrSignerFailed, ErrIssuerRejected,
		ErrIssuerUnavailable, ErrInternal, ErrClosed,
	} {
		sentinels[s.Code] = s
	}
	for name, number := range constants {
		if name == "OK" {
			continue
		}
		code, ok := renamed[name]
		if !ok {
			code = lower(name)
		}
		s, ok := sentinels[code]
		if !ok {
			t.Errorf("OATHMESH_%s = %d has no Go sentinel (code %q)", name, number, code)
			continue
		}
		if s.status != number {
			t.Errorf("%s: Go number %d, header OATHMESH_%s = %d", code, s.status, name, number)
		}
	}
	for name, number := range constants {
		if number == ErrClosed.status && name != "CLOSED" {
			t.Errorf("ErrClosed's number %d is used by OATHMESH_%s", number, name)
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
