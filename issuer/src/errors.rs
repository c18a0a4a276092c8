//! Every refusal the issuer's HTTP API answers with: a stable code (an enum, so a handler
//! cannot invent a new string), its HTTP status, and the `{"error", "message", "fix"}` body.
//! A mint request whose claim breaks a protocol rule keeps the claim in the code
//! (`claim_invalid:sub`), as verification errors do.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::borrow::Cow;

/// The stable error codes of the issuer API (docs/issuer.md lists each with its status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No client credential, or a wrong one (401).
    InvalidClient,
    /// The admin bearer token is missing or wrong (401).
    InvalidAdmin,
    /// `/metrics` or `/v1/revoked-subjects` needs its bearer token (401).
    InvalidToken,
    /// No admin credential is configured (403).
    AdminDisabled,
    /// Over the client's (or CI identity's) rate (429, with `Retry-After`).
    RateLimited,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// The body is over `max_body_bytes` (413).
    PayloadTooLarge,
    /// The body is not the documented JSON shape (400).
    InvalidRequest,
    /// A requested claim breaks a protocol rule (400): `claim_invalid:<claim>`.
    ClaimInvalid(&'static str),
    /// Outside the client's allow-list (403).
    MintDenied,
    /// The subject is revoked (403).
    SubjectRevoked,
    /// The revocation store is unreachable (503): fail closed.
    RevocationUnavailable,
    /// No such endpoint (404).
    NotFound,
    /// The exchange for this provider is not configured (404).
    ExchangeDisabled,
    /// The CI ID token failed a check (401).
    IdTokenInvalid,
    /// The CI provider's keys could not be fetched (503).
    ProviderUnavailable,
    /// The CI identity cannot be written as a subject (422).
    IdentityUnmappable,
    /// No exchange rule allows this job, audience and action (403).
    ExchangeDenied,
    /// The exchange cannot record an ID token's use (503): fail closed.
    ReplayCacheUnavailable,
    /// The request body did not arrive within `body_read_timeout_ms` (408).
    RequestTimeout,
    /// Over `max_connections` (503).
    Overloaded,
    /// The signer failed (500).
    SignerFailed,
    /// A check did not complete (500).
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidAdmin => "invalid_admin",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::AdminDisabled => "admin_disabled",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::ClaimInvalid(claim) => return Cow::Owned(format!("claim_invalid:{claim}")),
            ErrorCode::MintDenied => "mint_denied",
            ErrorCode::SubjectRevoked => "subject_revoked",
            ErrorCode::RevocationUnavailable => "revocation_unavailable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ExchangeDisabled => "exchange_disabled",
            ErrorCode::IdTokenInvalid => "id_token_invalid",
            ErrorCode::ProviderUnavailable => "provider_unavailable",
            ErrorCode::IdentityUnmappable => "identity_unmappable",
            ErrorCode::ExchangeDenied => "exchange_denied",
            ErrorCode::ReplayCacheUnavailable => "replay_cache_unavailable",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::SignerFailed => "signer_failed",
            ErrorCode::InternalError => "internal_error",
        })
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient
            | ErrorCode::InvalidAdmin
            | ErrorCode::InvalidToken
            | ErrorCode::IdTokenInvalid => StatusCode::UNAUTHORIZED,
            ErrorCode::AdminDisabled
            | ErrorCode::MintDenied
            | ErrorCode::SubjectRevoked
            | ErrorCode::ExchangeDenied => StatusCode::FORBIDDEN,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest | ErrorCode::ClaimInvalid(_) => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound | ErrorCode::ExchangeDisabled => StatusCode::NOT_FOUND,
            ErrorCode::IdentityUnmappable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RevocationUnavailable
            | ErrorCode::Overloaded
            | ErrorCode::ProviderUnavailable
            | ErrorCode::ReplayCacheUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::SignerFailed | ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A refused request.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    message: Cow<'static, str>,
    fix: &'static str,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>, fix: &'static str) -> Self {
        ApiError {
            code,
            message: message.into(),
            fix,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The refusal of a mint or exchange whose claims the core would not sign.
    pub fn from_mint_error(error: &oathmesh_core::MintError) -> Self {
        match error {
            oathmesh_core::MintError::InvalidClaim {
                claim: "request",
                message,
            } => ApiError::new(
                ErrorCode::InvalidRequest,
                message.clone(),
                "Send {sub, aud, act} and only the documented optional fields (docs/issuer.md).",
            ),
            oathmesh_core::MintError::InvalidClaim { claim, message } => ApiError::new(
                ErrorCode::ClaimInvalid(claim),
                message.clone(),
                "Fix the named claim; docs/protocol.md gives each claim's format.",
            ),
            oathmesh_core::MintError::Signer(_) => ApiError::new(
                ErrorCode::SignerFailed,
                "the signing key could not sign",
                "Retry; the platform team can check the issuer's key_dir and logs.",
            ),
        }
    }

    pub fn revocation_unavailable() -> Self {
        ApiError::new(
            ErrorCode::RevocationUnavailable,
            "the revocation store is unreachable",
            "Retry shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body =
            Json(json!({"error": self.code.as_str(), "message": self.message, "fix": self.fix}));
        let mut response = (status, body).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED && self.code == ErrorCode::InvalidClient {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oathmesh\", OathMesh-Client"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_errors_keep_the_claim() {
        let e = ApiError::from_mint_error(&oathmesh_core::MintError::InvalidClaim {
            claim: "scope",
            message: "bad".into(),
        });
        assert_eq!(e.code.as_str(), "claim_invalid:scope");
        assert_eq!(e.code.status(), StatusCode::BAD_REQUEST);
        let e = ApiError::from_mint_error(&oathmesh_core::MintError::InvalidClaim {
            claim: "request",
            message: "not valid JSON".into(),
        });
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }
}
