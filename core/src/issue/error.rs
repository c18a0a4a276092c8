//! Why a mint was refused.

/// Why a mint request was refused or could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// A requested claim is outside the protocol's rules (`claim_invalid:<claim>`).
    #[error("claim_invalid:{claim}: {message}")]
    InvalidClaim {
        claim: &'static str,
        message: String,
    },
    /// The signer (local key, KMS, HSM) failed.
    #[error("signer_failed: {0}")]
    Signer(String),
}

impl MintError {
    /// A stable code in the same style as verification codes.
    pub fn code(&self) -> String {
        match self {
            MintError::InvalidClaim { claim, .. } => format!("claim_invalid:{claim}"),
            MintError::Signer(_) => "signer_failed".to_owned(),
        }
    }
}
