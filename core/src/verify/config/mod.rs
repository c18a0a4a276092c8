//! Verifier configuration: the typed Rust value, and the one JSON document every binding
//! hands to the core (`docs/configuration.md`). Bindings never interpret the document
//! themselves; they pass it through, so every language accepts exactly the same options.

use crate::audit::AuditSink;
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::keys::source::KeySource;
use crate::ops::OpsReporter;
use crate::policy::Policy;
use crate::policy::watch::WatchedPolicy;
use crate::state::replay::{MemoryReplayCache, ReplayCache};
use crate::state::revocation::RevocationList;
use crate::wire::strict_json;
use std::sync::Arc;

mod build;
mod schema;
mod testing;

use schema::ConfigDoc;

/// Default clock-skew allowance.
pub const DEFAULT_LEEWAY_SECS: i64 = 10;
/// Largest configurable leeway.
pub const MAX_LEEWAY_SECS: i64 = 60;
/// Largest configuration document.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// Everything a [`crate::Verifier`] needs. Build it in Rust with [`VerifierConfig::new`], or
/// from the JSON document with [`VerifierConfig::from_json`].
pub struct VerifierConfig {
    /// This service's audience; `aud` must equal it exactly.
    pub audience: String,
    /// Issuer URLs accepted in `iss`, compared exactly.
    pub trusted_issuers: Vec<String>,
    pub keys: Arc<dyn KeySource>,
    /// Clock-skew allowance, 0..=60 seconds.
    pub leeway_secs: i64,
    pub replay_cache: Arc<dyn ReplayCache>,
    pub revocation: Option<Arc<dyn RevocationList>>,
    /// `None`: authentication only, every valid token is allowed (`policy_rule` is null).
    pub policy: Option<Arc<Policy>>,
    /// A policy file re-read when it changes; takes precedence over `policy`.
    pub policy_watch: Option<Arc<WatchedPolicy>>,
    /// Where components report state changes; the verifier adds its audit outputs.
    pub ops: OpsReporter,
    pub audit_sinks: Vec<Box<dyn AuditSink>>,
    /// Refuse tokens without `rqh` (`binding_required`).
    pub require_binding: bool,
    pub clock: Arc<dyn Clock>,
}

impl VerifierConfig {
    /// A configuration with the defaults: 10 s leeway, in-memory replay cache, no
    /// revocation list, no policy, no audit, binding optional, system clock.
    pub fn new(
        audience: impl Into<String>,
        trusted_issuers: Vec<String>,
        keys: Arc<dyn KeySource>,
    ) -> Self {
        VerifierConfig {
            audience: audience.into(),
            trusted_issuers,
            keys,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            replay_cache: Arc::new(MemoryReplayCache::default()),
            revocation: None,
            policy: None,
            policy_watch: None,
            ops: OpsReporter::new(),
            audit_sinks: Vec::new(),
            require_binding: false,
            clock: Arc::new(SystemClock),
        }
    }

    /// Parses the JSON configuration document (see `docs/configuration.md`).
    pub fn from_json(bytes: &[u8]) -> Result<VerifierConfig, ConfigError> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::new("config: document larger than 4 MiB"));
        }
        let value = strict_json::parse(bytes)
            .map_err(|e| ConfigError::new(format!("config: not valid JSON ({e})")))?;
        let doc: ConfigDoc = crate::wire::strict_json::from_value(value)
            .map_err(|e| ConfigError::new(format!("config: {e}")))?;
        doc.build()
    }

    /// Checks the invariants the pipeline relies on.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.audience.is_empty() {
            return Err(ConfigError::new("audience: must be a non-empty string"));
        }
        if self.trusted_issuers.is_empty() || self.trusted_issuers.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                "trusted_issuers: must list at least one non-empty issuer URL",
            ));
        }
        if !(0..=MAX_LEEWAY_SECS).contains(&self.leeway_secs) {
            return Err(ConfigError::new("leeway: must be between 0 and 60 seconds"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_key;

    fn base() -> serde_json::Value {
        let key = generate_key();
        serde_json::json!({
            "audience": "https://api",
            "trusted_issuers": ["https://issuer"],
            "jwks": {"keys": [key.jwk]},
        })
    }

    fn err(doc: serde_json::Value) -> String {
        VerifierConfig::from_json(doc.to_string().as_bytes())
            .err()
            .expect("config should be refused")
            .message()
            .to_owned()
    }

    #[test]
    fn accepts_minimal_and_full_documents() {
        assert!(VerifierConfig::from_json(base().to_string().as_bytes()).is_ok());
        let mut doc = base();
        doc["leeway"] = 0.into();
        doc["policy"] = serde_json::json!({"version": 1, "rules": []});
        doc["replay_cache"] = serde_json::json!({"type": "memory", "capacity": 10});
        doc["revoked_subjects"] = serde_json::json!(["svc://x"]);
        doc["require_binding"] = true.into();
        doc["testing"] = serde_json::json!({"now": 5, "seen_jtis": ["a"]});
        let config = VerifierConfig::from_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(config.clock.now_secs(), 5);
        assert!(config.require_binding);
    }

    #[test]
    fn type_errors_name_the_key() {
        let mut d = base();
        d["trusted_issuers"] = "https://issuer".into();
        assert!(err(d).starts_with("config: trusted_issuers: invalid type"));
        let mut d = base();
        d["audit"] = serde_json::json!({"file": 5});
        assert!(err(d).starts_with("config: audit.file: invalid type"));
    }

    #[test]
    fn refuses_bad_documents_with_a_reason() {
        let mut d = base();
        d["leeway"] = 61.into();
        assert!(err(d).contains("leeway"));
        let mut d = base();
        d["audence"] = "x".into();
        assert!(err(d).contains("audence"));
        let mut d = base();
        d["trusted_issuers"] = serde_json::json!([]);
        assert!(err(d).contains("trusted_issuers"));
        let mut d = base();
        d["jwks_file"] = "/nonexistent".into();
        assert!(err(d).contains("at most one"));
        // Without static keys the verifier fetches each issuer's JWKS, over https only.
        let mut d = base();
        d.as_object_mut().unwrap().remove("jwks");
        assert!(VerifierConfig::from_json(d.to_string().as_bytes()).is_ok());
        d["trusted_issuers"] = serde_json::json!(["http://issuer.example"]);
        assert!(err(d.clone()).contains("not loopback"));
        d["jwks_fetch"] = serde_json::json!({"allow_insecure_http": true});
        assert!(VerifierConfig::from_json(d.to_string().as_bytes()).is_ok());
        let mut d = base();
        d["jwks_fetch"] = serde_json::json!({"freshness_secs": 5});
        assert!(err(d).contains("jwks_fetch"));
        let mut d = base();
        d["replay_cache"] = serde_json::json!({"type": "redis"});
        assert!(err(d).contains("replay_cache.url"));
        let mut d = base();
        d["redis_url"] = "redis://127.0.0.1:1/".into();
        d["revoked_subjects"] = serde_json::json!(["svc://x"]);
        d["revocation"] = serde_json::json!({"type": "redis"});
        assert!(err(d).contains("revoked_subjects and revocation"));
        let mut d = base();
        d["audit"] = serde_json::json!({"hmac_key": "short", "stdout": true});
        assert!(err(d).contains("16 bytes"));
        let mut d = base();
        d["audit"] = serde_json::json!({"hmac_key": "0123456789abcdef"});
        assert!(err(d).contains("audit.file or audit.stdout"));
        let mut d = base();
        d["policy"] = serde_json::json!({"version": 1, "rules": [{"name": "x"}]});
        assert!(err(d).contains("policy.rules[0].allow"));
        let mut d = base();
        d["leeway"] = 1.5.into();
        assert!(err(d).contains("config"));
        let mut d = base();
        d["issuer_jwks"] = serde_json::json!({"https://other": {"keys": []}});
        assert!(err(d).contains("not in trusted_issuers"));
        let mut d = base();
        d["replay_cache"] = serde_json::json!({"type": "carrier-pigeon"});
        assert!(err(d).contains("carrier-pigeon"));
        assert!(
            VerifierConfig::from_json(br#"{"audience":"a","audience":"b"}"#)
                .err()
                .unwrap()
                .message()
                .contains("duplicate")
        );
    }
}
