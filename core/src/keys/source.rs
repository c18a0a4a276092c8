//! Where the verifier finds an issuer's public keys (step 05). Static sets need no network;
//! a fetching source (JWKS over HTTP) implements the same trait.

use crate::keys::{KeySet, PublicKey};
use std::collections::HashMap;

/// Why no key could be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookupError {
    /// The issuer's key set has no such kid (`key_not_found`, 401).
    NotFound,
    /// The key set could not be obtained (`jwks_unavailable`, 503).
    Unavailable(String),
}

/// Resolves `(issuer, kid)` to a key.
pub trait KeySource: Send + Sync {
    fn lookup(&self, issuer: &str, kid: &str) -> Result<PublicKey, KeyLookupError>;

    /// Loads every issuer's keys up front and reports each result. Static sources have
    /// nothing to load and report nothing.
    fn prewarm(&self) -> Vec<PrewarmResult> {
        Vec::new()
    }
}

/// The outcome of loading one issuer's keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrewarmResult {
    pub issuer: String,
    pub ok: bool,
    /// Usable keys now held for the issuer.
    pub keys: usize,
    pub error: Option<String>,
}

/// Keys given in configuration: one set shared by every trusted issuer, and/or a set per
/// issuer. An issuer with its own set never falls back to the shared one, so a key
/// configured for issuer A cannot vouch for tokens claiming issuer B.
#[derive(Debug, Clone, Default)]
pub struct StaticKeys {
    shared: KeySet,
    per_issuer: HashMap<String, KeySet>,
}

impl StaticKeys {
    /// One key set for every trusted issuer.
    pub fn shared(keys: KeySet) -> Self {
        StaticKeys {
            shared: keys,
            per_issuer: HashMap::new(),
        }
    }

    /// Adds the key set of one issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>, keys: KeySet) -> Self {
        self.per_issuer.insert(issuer.into(), keys);
        self
    }
}

impl KeySource for StaticKeys {
    fn lookup(&self, issuer: &str, kid: &str) -> Result<PublicKey, KeyLookupError> {
        self.per_issuer
            .get(issuer)
            .unwrap_or(&self.shared)
            .get(kid)
            .ok_or(KeyLookupError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_key;
    use crate::keys::verifying_key_from_pem;

    #[test]
    fn per_issuer_sets_do_not_fall_back() {
        let a = generate_key();
        let b = generate_key();
        let mut shared = KeySet::default();
        shared.insert(verifying_key_from_pem(&a.public_pem).unwrap(), None);
        let mut only_b = KeySet::default();
        only_b.insert(verifying_key_from_pem(&b.public_pem).unwrap(), None);
        let keys = StaticKeys::shared(shared).with_issuer("https://b", only_b);
        assert!(keys.lookup("https://a", &a.kid).is_ok());
        assert_eq!(
            keys.lookup("https://b", &a.kid),
            Err(KeyLookupError::NotFound)
        );
        assert!(keys.lookup("https://b", &b.kid).is_ok());
    }
}
