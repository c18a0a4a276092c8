//! Status numbers and the owned error struct: how every failure crosses the boundary.
//!
//! An error comes back in the same call that failed (a status plus an optional
//! `oathmesh_error **` out-parameter), never through thread-local state: Go goroutines move
//! between OS threads, so a "last error" slot would hand errors to the wrong caller.

use oathmesh_core::client::ClientError;
use oathmesh_core::{ConfigError, ErrorKind, MintError, VerifyError};
use std::ffi::{CString, c_char};
use std::ptr;

/// What a call returned. The numbers are stable: never renumber, only append; retired
/// numbers stay reserved.
///
/// * `0`: success.
/// * `1..=99`: verification failures, one per error family of PROTOCOL §2. The number equals
///   the core's `ErrorKind` (`docs/configuration.md` lists them).
/// * `100..=199`: the caller broke the calling convention (NULL pointer, non-UTF-8 text).
/// * `200..=299`: a configuration document (verifier or issuer) was refused.
/// * `300..=399`: a mint request was refused or could not be signed.
/// * `400..=499`: the issuer client could not get a token from the issuer.
/// * `900..=999`: a bug inside the library (a Rust panic caught at the boundary).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum oathmesh_status {
    OATHMESH_OK = 0,
    OATHMESH_TOKEN_MALFORMED = 1,
    OATHMESH_ALGORITHM_NOT_ALLOWED = 2,
    /// `claim_missing:<claim>`, and `claim_missing:token` for an absent or malformed
    /// `Authorization` header.
    OATHMESH_CLAIM_MISSING = 3,
    /// `claim_invalid:<claim>`.
    OATHMESH_CLAIM_INVALID = 4,
    OATHMESH_ISSUER_UNTRUSTED = 5,
    OATHMESH_KEY_NOT_FOUND = 6,
    OATHMESH_JWKS_UNAVAILABLE = 7,
    OATHMESH_SIGNATURE_INVALID = 8,
    OATHMESH_TOKEN_EXPIRED = 9,
    OATHMESH_TOKEN_NOT_YET_VALID = 10,
    OATHMESH_AUDIENCE_MISMATCH = 11,
    OATHMESH_BINDING_REQUIRED = 12,
    OATHMESH_BINDING_MISMATCH = 13,
    OATHMESH_SUBJECT_REVOKED = 14,
    OATHMESH_REVOCATION_UNAVAILABLE = 15,
    OATHMESH_POLICY_DENIED = 16,
    OATHMESH_REPLAY_DETECTED = 17,
    OATHMESH_REPLAY_CACHE_UNAVAILABLE = 18,
    /// A required pointer argument was NULL (code `invalid_argument`).
    OATHMESH_NULL_ARGUMENT = 100,
    /// A text argument (method, path, token, ...) was not valid UTF-8 (code `invalid_utf8`).
    OATHMESH_INVALID_UTF8 = 101,
    /// The verifier or issuer configuration was refused (code `config_invalid`); the message
    /// names the offending key.
    OATHMESH_CONFIG_INVALID = 200,
    /// A mint request asked for a claim outside the protocol's rules, or was not valid JSON
    /// (code `claim_invalid:<claim>`).
    OATHMESH_MINT_CLAIM_INVALID = 300,
    /// The signer failed while minting (code `signer_failed`).
    OATHMESH_MINT_SIGNER_FAILED = 301,
    /// The issuer answered a client's mint with an error. `code` is the issuer's code
    /// (`mint_denied`, `invalid_client`, `rate_limited`, ...), `http_status` its HTTP status.
    OATHMESH_ISSUER_REJECTED = 400,
    /// The issuer could not be reached or did not answer with a token (code
    /// `issuer_unavailable`, `http_status` 503). Retrying later may succeed.
    OATHMESH_ISSUER_UNAVAILABLE = 401,
    /// A Rust panic was caught at the boundary (code `internal_panic`). A bug: please report it.
    OATHMESH_PANIC = 900,
}

impl oathmesh_status {
    /// The status of a verification failure: the same number as the core's family.
    pub fn from_kind(kind: ErrorKind) -> oathmesh_status {
        use oathmesh_status::*;
        match kind {
            ErrorKind::TokenMalformed => OATHMESH_TOKEN_MALFORMED,
            ErrorKind::AlgorithmNotAllowed => OATHMESH_ALGORITHM_NOT_ALLOWED,
            ErrorKind::ClaimMissing => OATHMESH_CLAIM_MISSING,
            ErrorKind::ClaimInvalid => OATHMESH_CLAIM_INVALID,
            ErrorKind::IssuerUntrusted => OATHMESH_ISSUER_UNTRUSTED,
            ErrorKind::KeyNotFound => OATHMESH_KEY_NOT_FOUND,
            ErrorKind::JwksUnavailable => OATHMESH_JWKS_UNAVAILABLE,
            ErrorKind::SignatureInvalid => OATHMESH_SIGNATURE_INVALID,
            ErrorKind::TokenExpired => OATHMESH_TOKEN_EXPIRED,
            ErrorKind::TokenNotYetValid => OATHMESH_TOKEN_NOT_YET_VALID,
            ErrorKind::AudienceMismatch => OATHMESH_AUDIENCE_MISMATCH,
            ErrorKind::BindingRequired => OATHMESH_BINDING_REQUIRED,
            ErrorKind::BindingMismatch => OATHMESH_BINDING_MISMATCH,
            ErrorKind::SubjectRevoked => OATHMESH_SUBJECT_REVOKED,
            ErrorKind::RevocationUnavailable => OATHMESH_REVOCATION_UNAVAILABLE,
            ErrorKind::PolicyDenied => OATHMESH_POLICY_DENIED,
            ErrorKind::ReplayDetected => OATHMESH_REPLAY_DETECTED,
            ErrorKind::ReplayCacheUnavailable => OATHMESH_REPLAY_CACHE_UNAVAILABLE,
        }
    }
}

/// A failed call, in detail. Made by the library, owned by the caller, released with
/// `oathmesh_error_free` exactly once.
///
/// Every string is NUL-terminated UTF-8 owned by this struct: valid until
/// `oathmesh_error_free`, never to be freed on its own. Messages never contain the token or a
/// key.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct oathmesh_error {
    /// The same value the call returned.
    pub status: oathmesh_status,
    /// The HTTP status a receiver answers with (401, 403, 503) for verification failures; the
    /// issuer's HTTP status for `OATHMESH_ISSUER_*` (503 when unreachable); 0 for every other
    /// failure.
    pub http_status: u16,
    /// The stable code users branch on: `token_expired`, `claim_missing:sub`,
    /// `config_invalid`, ... Never NULL.
    pub code: *const c_char,
    /// The pipeline step (`"00"`..`"14"`, `"13.5"`) for verification failures; `""` otherwise.
    /// Never NULL.
    pub step: *const c_char,
    /// A human explanation. Never NULL.
    pub message: *const c_char,
    /// One actionable sentence; `""` when there is nothing to add. Never NULL.
    pub fix: *const c_char,
    /// For `OATHMESH_POLICY_DENIED`: the rule that denied the call (`required_action`, a rule
    /// id, or `default-deny`). NULL otherwise.
    pub policy_rule: *const c_char,
}

/// Why a call failed, before it is flattened into an [`oathmesh_error`].
#[derive(Debug)]
pub(crate) enum Failure {
    Verify(VerifyError),
    Config(ConfigError),
    Mint(MintError),
    /// The issuer client's mint failed (the issuer refused, or could not be reached).
    Issuer(ClientError),
    /// The name of the NULL argument.
    NullArgument(&'static str),
    /// The name of the argument that was not UTF-8.
    InvalidUtf8(&'static str),
    Panic(String),
}

impl From<VerifyError> for Failure {
    fn from(err: VerifyError) -> Self {
        Failure::Verify(err)
    }
}

impl From<ConfigError> for Failure {
    fn from(err: ConfigError) -> Self {
        Failure::Config(err)
    }
}

impl From<MintError> for Failure {
    fn from(err: MintError) -> Self {
        Failure::Mint(err)
    }
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        Failure::Issuer(err)
    }
}

/// The core's code for an issuer that could not be reached.
const ISSUER_UNAVAILABLE: &str = "issuer_unavailable";

impl Failure {
    pub(crate) fn status(&self) -> oathmesh_status {
        use oathmesh_status::*;
        match self {
            Failure::Verify(err) => oathmesh_status::from_kind(err.kind()),
            Failure::Config(_) => OATHMESH_CONFIG_INVALID,
            Failure::Mint(MintError::InvalidClaim { .. }) => OATHMESH_MINT_CLAIM_INVALID,
            Failure::Mint(MintError::Signer(_)) => OATHMESH_MINT_SIGNER_FAILED,
            Failure::Issuer(err) if err.code == ISSUER_UNAVAILABLE => OATHMESH_ISSUER_UNAVAILABLE,
            Failure::Issuer(_) => OATHMESH_ISSUER_REJECTED,
            Failure::NullArgument(_) => OATHMESH_NULL_ARGUMENT,
            Failure::InvalidUtf8(_) => OATHMESH_INVALID_UTF8,
            Failure::Panic(_) => OATHMESH_PANIC,
        }
    }

    /// Allocates the caller-owned error struct.
    pub(crate) fn into_error(self) -> Box<oathmesh_error> {
        let status = self.status();
        let (http_status, code, step, message, fix, policy_rule): (u16, String, &str, String, String, Option<String>) =
            match &self {
                Failure::Verify(err) => (
                    err.http_status(),
                    err.code().into_owned(),
                    err.step().as_str(),
                    err.message().to_owned(),
                    err.fix().into_owned(),
                    err.policy_rule().map(str::to_owned),
                ),
                Failure::Config(err) => (
                    0,
                    "config_invalid".into(),
                    "",
                    err.message().to_owned(),
                    "Correct the configuration document (see docs/configuration.md); the message names the key.".into(),
                    None,
                ),
                Failure::Mint(err) => {
                    let message = match err {
                        MintError::InvalidClaim { message, .. } => message.clone(),
                        MintError::Signer(message) => message.clone(),
                    };
                    let fix = match err {
                        MintError::InvalidClaim { .. } => {
                            "Ask only for claims the protocol allows (PROTOCOL §1); the code names the claim."
                        }
                        MintError::Signer(_) => "Check the signing key and the operating system's random number generator.",
                    };
                    (0, err.code(), "", message, fix.into(), None)
                }
                Failure::Issuer(err) => (
                    err.status,
                    err.code.clone(),
                    "",
                    err.message.clone(),
                    err.fix.clone(),
                    None,
                ),
                Failure::NullArgument(name) => (
                    0,
                    "invalid_argument".into(),
                    "",
                    format!("`{name}` must not be NULL"),
                    "Pass a valid pointer; only the arguments documented as optional may be NULL.".into(),
                    None,
                ),
                Failure::InvalidUtf8(name) => (
                    0,
                    "invalid_utf8".into(),
                    "",
                    format!("`{name}` is not valid UTF-8"),
                    "Pass text arguments as UTF-8 bytes.".into(),
                    None,
                ),
                Failure::Panic(what) => (
                    0,
                    "internal_panic".into(),
                    "",
                    format!("liboathmesh panicked: {what}"),
                    "This is a bug in liboathmesh; please report it with the call that triggered it.".into(),
                    None,
                ),
            };
        Box::new(oathmesh_error {
            status,
            http_status,
            code: c_string(&code),
            step: c_string(step),
            message: c_string(&message),
            fix: c_string(&fix),
            policy_rule: policy_rule.as_deref().map_or(ptr::null(), c_string),
        })
    }
}

/// An owned NUL-terminated copy. Interior NULs (possible in text echoed from a user's
/// configuration) are dropped rather than truncating the string silently.
fn c_string(text: &str) -> *const c_char {
    let bytes: Vec<u8> = text.bytes().filter(|&b| b != 0).collect();
    CString::new(bytes).expect("NULs removed").into_raw()
}

/// Releases one string made by [`c_string`].
///
/// # Safety
/// `text` is NULL or came from [`c_string`] and was not freed before.
unsafe fn free_c_string(text: *const c_char) {
    if !text.is_null() {
        drop(unsafe { CString::from_raw(text as *mut c_char) });
    }
}

/// Releases an error and every string in it. NULL is a no-op.
///
/// # Safety
/// `err` is NULL or an error this library wrote into an `oathmesh_error **` out-parameter,
/// not freed before. Its strings are invalid afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn oathmesh_error_free(err: *mut oathmesh_error) {
    if err.is_null() {
        return;
    }
    // Freeing cannot panic in practice; still, nothing may unwind across the boundary.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let err = unsafe { Box::from_raw(err) };
        unsafe {
            free_c_string(err.code);
            free_c_string(err.step);
            free_c_string(err.message);
            free_c_string(err.fix);
            free_c_string(err.policy_rule);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn verification_statuses_are_the_core_numbers() {
        for kind in ErrorKind::ALL {
            assert_eq!(
                oathmesh_status::from_kind(kind) as u32,
                kind as u32,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn issuer_failures_keep_the_issuers_code_and_status() {
        let denied = Failure::Issuer(ClientError {
            code: "mint_denied".into(),
            status: 403,
            message: "not allowed".into(),
            fix: "ask".into(),
        })
        .into_error();
        assert_eq!(denied.status, oathmesh_status::OATHMESH_ISSUER_REJECTED);
        assert_eq!(denied.http_status, 403);
        assert_eq!(
            unsafe { CStr::from_ptr(denied.code) }.to_str().unwrap(),
            "mint_denied"
        );
        unsafe { oathmesh_error_free(Box::into_raw(denied)) };
        let down = Failure::Issuer(ClientError {
            code: ISSUER_UNAVAILABLE.into(),
            status: 503,
            message: "refused".into(),
            fix: "retry".into(),
        });
        assert_eq!(down.status(), oathmesh_status::OATHMESH_ISSUER_UNAVAILABLE);
    }

    #[test]
    fn error_strings_are_owned_and_nul_free() {
        let err = Failure::Config(ConfigError::new("audiense\0: unknown key")).into_error();
        let message = unsafe { CStr::from_ptr(err.message) }.to_str().unwrap();
        assert_eq!(message, "audiense: unknown key");
        assert_eq!(err.status, oathmesh_status::OATHMESH_CONFIG_INVALID);
        assert!(err.policy_rule.is_null());
        unsafe { oathmesh_error_free(Box::into_raw(err)) };
    }
}
