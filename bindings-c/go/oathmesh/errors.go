package oathmesh

import "fmt"

// Error is every failure this package returns: a verification failure (one family per code
// of PROTOCOL §2), a refused configuration, a refused mint request, or a misuse of the API.
// Branch on it with errors.Is and a sentinel (errors.Is(err, oathmesh.ErrTokenExpired)), or
// take it whole with errors.As.
type Error struct {
	// Code is the stable code: "token_expired", "claim_missing:sub", "config_invalid", ...
	Code string
	// Step is the pipeline step ("00".."14", "13.5") of a verification failure; "" otherwise.
	Step string
	// HTTPStatus is what a receiver answers with (401, 403, 503); 0 for failures that are not
	// verification failures.
	HTTPStatus int
	// Message explains what went wrong; it never contains the token or a key.
	Message string
	// Fix is one actionable sentence.
	Fix string
	// PolicyRule names the rule behind a policy_denied failure ("required_action", a rule
	// name, "default"); "" otherwise.
	PolicyRule string

	// status is the C ABI's stable number for the family.
	status uint32
}

func (e *Error) Error() string {
	if e.Step != "" {
		return fmt.Sprintf("oathmesh: %s (step %s): %s", e.Code, e.Step, e.Message)
	}
	return fmt.Sprintf("oathmesh: %s: %s", e.Code, e.Message)
}

// Is reports whether target is the sentinel of e's family, so that
// errors.Is(err, ErrClaimMissing) holds for "claim_missing:sub" and "claim_missing:token".
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.status == e.status
}

func sentinel(status uint32, code string) *Error {
	return &Error{status: status, Code: code, Message: "sentinel for errors.Is; compare with errors.Is, do not return"}
}

// Verification failures: one sentinel per error family. The numbers are the C ABI's
// (enum oathmesh_status in oathmesh.h); TestSentinelNumbersMatchTheHeader compares them.
var (
	ErrTokenMalformed         = sentinel(1, "token_malformed")
	ErrAlgorithmNotAllowed    = sentinel(2, "algorithm_not_allowed")
	ErrClaimMissing           = sentinel(3, "claim_missing")
	ErrClaimInvalid           = sentinel(4, "claim_invalid")
	ErrIssuerUntrusted        = sentinel(5, "issuer_untrusted")
	ErrKeyNotFound            = sentinel(6, "key_not_found")
	ErrJWKSUnavailable        = sentinel(7, "jwks_unavailable")
	ErrSignatureInvalid       = sentinel(8, "signature_invalid")
	ErrTokenExpired           = sentinel(9, "token_expired")
	ErrTokenNotYetValid       = sentinel(10, "token_not_yet_valid")
	ErrAudienceMismatch       = sentinel(11, "audience_mismatch")
	ErrBindingRequired        = sentinel(12, "binding_required")
	ErrBindingMismatch        = sentinel(13, "binding_mismatch")
	ErrSubjectRevoked         = sentinel(14, "subject_revoked")
	ErrRevocationUnavailable  = sentinel(15, "revocation_unavailable")
	ErrPolicyDenied           = sentinel(16, "policy_denied")
	ErrReplayDetected         = sentinel(17, "replay_detected")
	ErrReplayCacheUnavailable = sentinel(18, "replay_cache_unavailable")
)

// Failures that are not about a token.
var (
	// ErrInvalidArgument: an argument the library refuses outright (text that is not UTF-8).
	ErrInvalidArgument = sentinel(100, "invalid_argument")
	// ErrInvalidUTF8: a text argument (token, header, path) was not valid UTF-8.
	ErrInvalidUTF8 = sentinel(101, "invalid_utf8")
	// ErrConfigInvalid: a verifier or issuer configuration was refused; Message names the key.
	ErrConfigInvalid = sentinel(200, "config_invalid")
	// ErrMintClaimInvalid: a mint request asked for a claim outside the protocol's rules.
	ErrMintClaimInvalid = sentinel(300, "claim_invalid")
	// ErrSignerFailed: the signer failed while minting.
	ErrSignerFailed = sentinel(301, "signer_failed")
	// ErrIssuerRejected: the issuer answered a Client's mint with an error (*IssuerError:
	// mint_denied, invalid_client, rate_limited, ...).
	ErrIssuerRejected = sentinel(400, "issuer_rejected")
	// ErrIssuerUnavailable: the issuer could not be reached (*IssuerError issuer_unavailable).
	ErrIssuerUnavailable = sentinel(401, "issuer_unavailable")
	// ErrInternal: a bug inside liboathmesh (a Rust panic caught at the boundary).
	ErrInternal = sentinel(900, "internal_panic")
	// ErrClosed: the Verifier, Issuer or Client was used after Close. The library never
	// sees this (the wrapper refuses before calling it), so 1000 is a number the C status
	// space keeps free; TestSentinelNumbersMatchTheHeader fails if the header ever uses it.
	ErrClosed = sentinel(1000, "closed")
)

func closedError(what string) *Error {
	return &Error{status: ErrClosed.status, Code: "closed", Message: what + " used after Close",
		Fix: "Keep the " + what + " open for as long as requests are served; call Close once, at shutdown."}
}
