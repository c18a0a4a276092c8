//! The one error type of the verification pipeline (docs/protocol.md §2).
//!
//! Every binding maps [`ErrorKind`] once; users branch on [`VerifyError::code`], never on
//! message text. Messages never contain the token, a key or any claim value taken from the
//! token: they name what was wrong, not what the attacker sent.

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// The pipeline step that failed, numbered as in PROTOCOL §2 (numbers are historical, so
/// the execution order is not numeric: see [`Step::ORDER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The `Authorization` header, before step 01.
    Header00,
    Format01,
    JoseHeader02,
    Payload03,
    Issuer04,
    Key05,
    Signature06,
    Expiry08,
    NotBefore09,
    Audience10,
    Claims11,
    Binding12,
    Replay13,
    Revocation13_5,
    Policy14,
}

impl Step {
    /// The order the verifier runs the steps in.
    pub const ORDER: [Step; 15] = [
        Step::Header00,
        Step::Format01,
        Step::JoseHeader02,
        Step::Payload03,
        Step::Issuer04,
        Step::Claims11,
        Step::Key05,
        Step::Signature06,
        Step::Expiry08,
        Step::NotBefore09,
        Step::Audience10,
        Step::Binding12,
        Step::Revocation13_5,
        Step::Policy14,
        Step::Replay13,
    ];

    /// The step number as people say it: `"06"`, `"13.5"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Header00 => "00",
            Step::Format01 => "01",
            Step::JoseHeader02 => "02",
            Step::Payload03 => "03",
            Step::Issuer04 => "04",
            Step::Key05 => "05",
            Step::Signature06 => "06",
            Step::Expiry08 => "08",
            Step::NotBefore09 => "09",
            Step::Audience10 => "10",
            Step::Claims11 => "11",
            Step::Binding12 => "12",
            Step::Replay13 => "13",
            Step::Revocation13_5 => "13.5",
            Step::Policy14 => "14",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The family of a verification failure. The numeric values are stable and are the C ABI's
/// status codes; never renumber, only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorKind {
    TokenMalformed = 1,
    AlgorithmNotAllowed = 2,
    /// `claim_missing:<claim>`; also `claim_missing:token` for an absent or malformed
    /// `Authorization` header.
    ClaimMissing = 3,
    /// `claim_invalid:<claim>`.
    ClaimInvalid = 4,
    IssuerUntrusted = 5,
    KeyNotFound = 6,
    JwksUnavailable = 7,
    SignatureInvalid = 8,
    TokenExpired = 9,
    TokenNotYetValid = 10,
    AudienceMismatch = 11,
    BindingRequired = 12,
    BindingMismatch = 13,
    SubjectRevoked = 14,
    RevocationUnavailable = 15,
    PolicyDenied = 16,
    ReplayDetected = 17,
    ReplayCacheUnavailable = 18,
}

impl ErrorKind {
    /// Every kind, for exhaustive tests and binding tables.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::TokenMalformed,
        ErrorKind::AlgorithmNotAllowed,
        ErrorKind::ClaimMissing,
        ErrorKind::ClaimInvalid,
        ErrorKind::IssuerUntrusted,
        ErrorKind::KeyNotFound,
        ErrorKind::JwksUnavailable,
        ErrorKind::SignatureInvalid,
        ErrorKind::TokenExpired,
        ErrorKind::TokenNotYetValid,
        ErrorKind::AudienceMismatch,
        ErrorKind::BindingRequired,
        ErrorKind::BindingMismatch,
        ErrorKind::SubjectRevoked,
        ErrorKind::RevocationUnavailable,
        ErrorKind::PolicyDenied,
        ErrorKind::ReplayDetected,
        ErrorKind::ReplayCacheUnavailable,
    ];

    /// The code without the `:<claim>` suffix.
    pub fn base_code(self) -> &'static str {
        match self {
            ErrorKind::TokenMalformed => "token_malformed",
            ErrorKind::AlgorithmNotAllowed => "algorithm_not_allowed",
            ErrorKind::ClaimMissing => "claim_missing",
            ErrorKind::ClaimInvalid => "claim_invalid",
            ErrorKind::IssuerUntrusted => "issuer_untrusted",
            ErrorKind::KeyNotFound => "key_not_found",
            ErrorKind::JwksUnavailable => "jwks_unavailable",
            ErrorKind::SignatureInvalid => "signature_invalid",
            ErrorKind::TokenExpired => "token_expired",
            ErrorKind::TokenNotYetValid => "token_not_yet_valid",
            ErrorKind::AudienceMismatch => "audience_mismatch",
            ErrorKind::BindingRequired => "binding_required",
            ErrorKind::BindingMismatch => "binding_mismatch",
            ErrorKind::SubjectRevoked => "subject_revoked",
            ErrorKind::RevocationUnavailable => "revocation_unavailable",
            ErrorKind::PolicyDenied => "policy_denied",
            ErrorKind::ReplayDetected => "replay_detected",
            ErrorKind::ReplayCacheUnavailable => "replay_cache_unavailable",
        }
    }

    /// The HTTP status a receiver answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::PolicyDenied => 403,
            ErrorKind::JwksUnavailable
            | ErrorKind::RevocationUnavailable
            | ErrorKind::ReplayCacheUnavailable => 503,
            _ => 401,
        }
    }

    /// True for failures of a backend (keys, Redis) rather than of the token: retrying later
    /// may succeed.
    pub fn is_unavailable(self) -> bool {
        self.http_status() == 503
    }

    fn fix(self, claim: Option<&str>) -> Cow<'static, str> {
        let text = match self {
            ErrorKind::TokenMalformed => {
                "Send the token exactly as the issuer returned it: three base64url segments, at most 8192 bytes."
            }
            ErrorKind::AlgorithmNotAllowed => {
                "Mint the token with an OathMesh issuer; only EdDSA (Ed25519) signatures are accepted."
            }
            ErrorKind::ClaimMissing if claim == Some("token") => {
                "Send the header `Authorization: OathMesh <token>` with a freshly minted token."
            }
            ErrorKind::ClaimMissing => {
                return Cow::Owned(format!(
                    "Mint the token with a non-empty `{}` claim.",
                    claim.unwrap_or("?")
                ));
            }
            ErrorKind::ClaimInvalid => {
                return Cow::Owned(format!(
                    "Mint the token through an OathMesh issuer so the `{}` claim has the documented type and format.",
                    claim.unwrap_or("?")
                ));
            }
            ErrorKind::IssuerUntrusted => {
                "Mint from an issuer this service trusts, or add the issuer URL to `trusted_issuers`."
            }
            ErrorKind::KeyNotFound => {
                "Check that the verifier has the issuer's current JWKS; after a key rotation, refresh the key set."
            }
            ErrorKind::JwksUnavailable => {
                "The issuer's key set could not be fetched; check the issuer is reachable and retry."
            }
            ErrorKind::SignatureInvalid => {
                "The token was altered or signed with another key; mint a new token and send it unchanged."
            }
            ErrorKind::TokenExpired => {
                "Mint a new token for each call; tokens live at most 300 seconds. Check the caller's clock."
            }
            ErrorKind::TokenNotYetValid => {
                "Check clock synchronisation (NTP) between the issuer and this service."
            }
            ErrorKind::AudienceMismatch => {
                "Mint the token with `aud` set exactly to this service's audience."
            }
            ErrorKind::BindingRequired => {
                "This service requires request binding: mint the token with `rqh` set to the request's canonical hash."
            }
            ErrorKind::BindingMismatch => {
                "Compute `rqh` over the exact method, path, query and body you send, and do not change the request after minting."
            }
            ErrorKind::SubjectRevoked => {
                "This identity has been revoked; ask the platform team to review and lift the revocation."
            }
            ErrorKind::RevocationUnavailable => {
                "The revocation store is unreachable; the request was refused to stay safe. Retry shortly."
            }
            ErrorKind::PolicyDenied => {
                "Ask for a policy rule that allows this subject and action, or call with an allowed action."
            }
            ErrorKind::ReplayDetected => {
                "Tokens are single-use: mint a new token for every request, including retries."
            }
            ErrorKind::ReplayCacheUnavailable => {
                "The replay cache is unavailable; the request was refused to stay safe. Retry shortly."
            }
        };
        Cow::Borrowed(text)
    }
}

/// A failed verification: what failed (`code`), where (`step`), why (`message`) and what to do
/// about it (`fix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    kind: ErrorKind,
    claim: Option<&'static str>,
    step: Step,
    message: Cow<'static, str>,
    policy_rule: Option<String>,
}

impl VerifyError {
    pub(crate) fn new(kind: ErrorKind, step: Step, message: impl Into<Cow<'static, str>>) -> Self {
        VerifyError {
            kind,
            claim: None,
            step,
            message: message.into(),
            policy_rule: None,
        }
    }

    pub(crate) fn claim_missing(claim: &'static str, step: Step) -> Self {
        let message = if claim == "token" {
            Cow::Borrowed("no `Authorization: OathMesh <token>` header was sent")
        } else {
            Cow::Owned(format!("the required claim `{claim}` is absent or empty"))
        };
        VerifyError {
            claim: Some(claim),
            ..VerifyError::new(ErrorKind::ClaimMissing, step, message)
        }
    }

    pub(crate) fn claim_invalid(
        claim: &'static str,
        step: Step,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        VerifyError {
            claim: Some(claim),
            ..VerifyError::new(ErrorKind::ClaimInvalid, step, message)
        }
    }

    pub(crate) fn with_policy_rule(mut self, rule: impl Into<String>) -> Self {
        self.policy_rule = Some(rule.into());
        self
    }

    /// The family, for exhaustive matching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code: `token_expired`, `claim_missing:sub`, ...
    pub fn code(&self) -> Cow<'static, str> {
        match self.claim {
            Some(claim) => Cow::Owned(format!("{}:{claim}", self.kind.base_code())),
            None => Cow::Borrowed(self.kind.base_code()),
        }
    }

    /// The claim named by `claim_missing`/`claim_invalid`.
    pub fn claim(&self) -> Option<&'static str> {
        self.claim
    }

    pub fn step(&self) -> Step {
        self.step
    }

    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }

    /// A human explanation; never contains the token, a key, or values taken from the token.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// One actionable sentence.
    pub fn fix(&self) -> Cow<'static, str> {
        self.kind.fix(self.claim)
    }

    /// The policy rule that denied the request, for `policy_denied`.
    pub fn policy_rule(&self) -> Option<&str> {
        self.policy_rule.as_deref()
    }

    /// The HTTP error body of PROTOCOL §2.
    pub fn to_body<'a>(&'a self, request_id: Option<&'a str>) -> ErrorBody<'a> {
        ErrorBody {
            error: self.code(),
            message: &self.message,
            fix: self.fix(),
            step: self.step.as_str(),
            request_id,
        }
    }

    /// The HTTP error body as JSON text.
    pub fn to_json(&self, request_id: Option<&str>) -> String {
        serde_json::to_string(&self.to_body(request_id)).expect("error body serializes")
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (step {}): {}", self.code(), self.step, self.message)
    }
}

impl std::error::Error for VerifyError {}

/// `{"error", "message", "fix", "step", "request_id"}`: what receivers send on failure.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: Cow<'static, str>,
    pub message: &'a str,
    pub fix: Cow<'static, str>,
    pub step: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_fixes() {
        for kind in ErrorKind::ALL {
            let err = VerifyError::new(kind, Step::Format01, "m");
            assert!(!err.fix().is_empty());
            assert!(matches!(err.http_status(), 401 | 403 | 503));
        }
        let err = VerifyError::claim_missing("sub", Step::Claims11);
        assert_eq!(err.code(), "claim_missing:sub");
        let err = VerifyError::claim_missing("token", Step::Header00);
        assert_eq!(err.code(), "claim_missing:token");
        assert_eq!(err.step().as_str(), "00");
        assert_eq!(
            VerifyError::new(ErrorKind::PolicyDenied, Step::Policy14, "m").http_status(),
            403
        );
        assert_eq!(
            VerifyError::new(ErrorKind::JwksUnavailable, Step::Key05, "m").http_status(),
            503
        );
    }

    #[test]
    fn body_shape() {
        let err = VerifyError::new(ErrorKind::TokenExpired, Step::Expiry08, "expired");
        let body: serde_json::Value = serde_json::from_str(&err.to_json(Some("r-1"))).unwrap();
        assert_eq!(body["error"], "token_expired");
        assert_eq!(body["step"], "08");
        assert_eq!(body["request_id"], "r-1");
        assert_eq!(body["message"], "expired");
        assert!(body["fix"].as_str().unwrap().len() > 10);
    }

    #[test]
    fn kinds_have_unique_stable_numbers() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind as u32));
        }
        assert_eq!(ErrorKind::TokenMalformed as u32, 1);
        assert_eq!(ErrorKind::ReplayCacheUnavailable as u32, 18);
    }
}
