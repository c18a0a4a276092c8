//! The error of every configuration document (verifier, issuer, client, keys, policy).
//! It is not a verification outcome: it happens when something is built, never per request.

/// A configuration, key or policy document that cannot be used. The message names the
/// offending field path (`policy.rules[2].match.sbu: unknown key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
        }
    }

    /// Prefixes the field path where the error happened.
    pub fn at(self, path: &str) -> Self {
        ConfigError {
            message: format!("{path}.{}", self.message),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}
