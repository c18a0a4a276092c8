//! Core errors as one uniffi error enum; the Kotlin layer (`io.oathmesh.OathMeshException`
//! and its family subclasses) turns each variant into the class a user catches.
//!
//! Field names avoid `message`: uniffi's Kotlin exceptions already have one (`Throwable`).

use oathmesh_core::client::ClientError;
use oathmesh_core::{ConfigError, MintError, VerifyError};

/// One HTTP header of a failure response, in the order the core gives.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HeaderPair {
    pub name: String,
    pub value: String,
}

/// The HTTP answer a receiver sends for a failed verification: status, headers and body
/// bytes exactly as the core renders them, so every runtime answers byte for byte alike.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FailureResponse {
    pub status: u16,
    pub headers: Vec<HeaderPair>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum OathMeshError {
    /// A token was refused. `kind` is the core's stable `ErrorKind` number.
    #[error("{code} (step {step}): {detail}")]
    Verify {
        kind: u32,
        code: String,
        step: String,
        detail: String,
        fix: String,
        status: u16,
        policy_rule: Option<String>,
        response: FailureResponse,
    },
    /// A configuration document was refused.
    #[error("{detail}")]
    Config { detail: String },
    /// A mint request was refused before signing.
    #[error("{code}: {detail}")]
    Mint { code: String, detail: String },
    /// The issuer refused a mint, or could not be reached (`issuer_unavailable`, 503).
    #[error("{code} ({status}): {detail}")]
    Issuer {
        code: String,
        status: u16,
        detail: String,
        fix: String,
    },
    /// Bad arguments from the caller of this binding (never a token problem).
    #[error("{detail}")]
    Usage { detail: String },
}

/// The failure response for `err`, with the request id the receiver uses for this request.
pub fn failure_response(err: &VerifyError, request_id: &str) -> FailureResponse {
    let header = |name: &str, value: String| HeaderPair {
        name: name.to_owned(),
        value,
    };
    FailureResponse {
        status: err.http_status(),
        headers: vec![
            header("Content-Type", "application/json".to_owned()),
            header("Cache-Control", "no-store".to_owned()),
            header(
                "WWW-Authenticate",
                format!("OathMesh error=\"{}\"", err.code()),
            ),
            header("X-Request-Id", request_id.to_owned()),
        ],
        body: err.to_json(Some(request_id)).into_bytes(),
    }
}

pub fn verify_error(err: &VerifyError, request_id: &str) -> OathMeshError {
    OathMeshError::Verify {
        kind: err.kind() as u32,
        code: err.code().into_owned(),
        step: err.step().as_str().to_owned(),
        detail: err.message().to_owned(),
        fix: err.fix().into_owned(),
        status: err.http_status(),
        policy_rule: err.policy_rule().map(str::to_owned),
        response: failure_response(err, request_id),
    }
}

impl From<ConfigError> for OathMeshError {
    fn from(err: ConfigError) -> Self {
        OathMeshError::Config {
            detail: err.message().to_owned(),
        }
    }
}

impl From<MintError> for OathMeshError {
    fn from(err: MintError) -> Self {
        let detail = match &err {
            MintError::InvalidClaim { message, .. } => message.clone(),
            MintError::Signer(message) => message.clone(),
        };
        OathMeshError::Mint {
            code: err.code(),
            detail,
        }
    }
}

impl From<ClientError> for OathMeshError {
    fn from(err: ClientError) -> Self {
        OathMeshError::Issuer {
            code: err.code,
            status: err.status,
            detail: err.message,
            fix: err.fix,
        }
    }
}

/// `(number, base_code, http_status)` of one error family, so the Kotlin layer can check
/// that its exception table covers every kind the core knows.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ErrorFamily {
    pub kind: u32,
    pub base_code: String,
    pub status: u16,
}

#[uniffi::export]
pub fn error_families() -> Vec<ErrorFamily> {
    oathmesh_core::ErrorKind::ALL
        .iter()
        .map(|kind| ErrorFamily {
            kind: *kind as u32,
            base_code: kind.base_code().to_owned(),
            status: kind.http_status(),
        })
        .collect()
}
