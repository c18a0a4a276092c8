//! Verifier configuration: the typed Rust value, and the one JSON document every binding
//! hands to the core (`docs/configuration.md`). Bindings never interpret the document
//! themselves; they pass it through, so every language accepts exactly the same options.

use crate::audit::{AuditSink, FileSink, StdoutSink};
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::error::ConfigError;
use crate::keys::KeySet;
use crate::keysource::{KeyLookupError, KeySource, StaticKeys};
use crate::policy::Policy;
use crate::replay::{
    BackendError, DEFAULT_REPLAY_CAPACITY, MemoryReplayCache, ReplayCache, ReplayCheck,
};
use crate::revocation::{MemoryRevocationList, RevocationList};
use crate::strict_json;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

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
        let doc: ConfigDoc =
            serde_json::from_value(value).map_err(|e| ConfigError::new(format!("config: {e}")))?;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDoc {
    audience: String,
    trusted_issuers: Vec<String>,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default)]
    jwks_file: Option<PathBuf>,
    #[serde(default)]
    public_keys_pem: Option<Vec<String>>,
    #[serde(default)]
    issuer_jwks: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    leeway: Option<i64>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    policy_file: Option<PathBuf>,
    #[serde(default)]
    require_binding: bool,
    #[serde(default)]
    replay_cache: Option<ReplayDoc>,
    #[serde(default)]
    revoked_subjects: Vec<String>,
    #[serde(default)]
    audit: Option<AuditDoc>,
    #[serde(default)]
    testing: Option<TestingDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
enum ReplayDoc {
    Memory {
        #[serde(default)]
        capacity: Option<usize>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditDoc {
    #[serde(default)]
    stdout: bool,
    #[serde(default)]
    file: Option<PathBuf>,
}

/// Test-only state: a fixed clock and pre-recorded token ids. Conformance vectors use it to
/// pin time and replay state; production configurations never set it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestingDoc {
    #[serde(default)]
    now: Option<i64>,
    #[serde(default)]
    seen_jtis: Vec<String>,
    /// Backends to treat as down (`jwks`, `revocation`, `replay_cache`), to prove the
    /// pipeline fails closed.
    #[serde(default)]
    unavailable: Vec<Backend>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Backend {
    Jwks,
    Revocation,
    ReplayCache,
}

/// A backend that is always down: the test double for an outage.
struct Unavailable;

impl KeySource for Unavailable {
    fn lookup(&self, _: &str, _: &str) -> Result<crate::keys::PublicKey, KeyLookupError> {
        Err(KeyLookupError::Unavailable(
            "simulated outage (testing.unavailable)".to_owned(),
        ))
    }
}

impl RevocationList for Unavailable {
    fn is_revoked(&self, _: &str) -> Result<bool, BackendError> {
        Err(BackendError(
            "simulated outage (testing.unavailable)".to_owned(),
        ))
    }
}

impl ReplayCache for Unavailable {
    fn check_and_record(&self, _: &str, _: i64, _: i64) -> Result<ReplayCheck, BackendError> {
        Err(BackendError(
            "simulated outage (testing.unavailable)".to_owned(),
        ))
    }
}

impl ConfigDoc {
    fn keys(&self) -> Result<StaticKeys, ConfigError> {
        let sources = [
            self.jwks.is_some(),
            self.jwks_file.is_some(),
            self.public_keys_pem.is_some(),
        ]
        .iter()
        .filter(|given| **given)
        .count();
        if sources > 1 {
            return Err(ConfigError::new(
                "config: give at most one of jwks, jwks_file and public_keys_pem",
            ));
        }
        if sources == 0 && self.issuer_jwks.is_none() {
            return Err(ConfigError::new(
                "config: no keys; give jwks, jwks_file, public_keys_pem or issuer_jwks",
            ));
        }
        let shared = if let Some(doc) = &self.jwks {
            KeySet::from_jwks_value(doc).map_err(|e| e.at("config"))?
        } else if let Some(path) = &self.jwks_file {
            let bytes = std::fs::read(path).map_err(|e| {
                ConfigError::new(format!("jwks_file: cannot read {}: {e}", path.display()))
            })?;
            KeySet::from_jwks_json(&bytes).map_err(|e| e.at("config"))?
        } else if let Some(pems) = &self.public_keys_pem {
            KeySet::from_public_pems(pems).map_err(|e| e.at("config"))?
        } else {
            KeySet::default()
        };
        let mut keys = StaticKeys::shared(shared);
        for (issuer, doc) in self.issuer_jwks.iter().flatten() {
            if !self.trusted_issuers.contains(issuer) {
                return Err(ConfigError::new(format!(
                    "issuer_jwks: {issuer:?} is not in trusted_issuers"
                )));
            }
            let set = KeySet::from_jwks_value(doc).map_err(|e| e.at("issuer_jwks"))?;
            keys = keys.with_issuer(issuer.clone(), set);
        }
        Ok(keys)
    }

    fn build(self) -> Result<VerifierConfig, ConfigError> {
        let keys = self.keys()?;
        let mut config = VerifierConfig::new(self.audience, self.trusted_issuers, Arc::new(keys));
        config.leeway_secs = self.leeway.unwrap_or(DEFAULT_LEEWAY_SECS);
        config.require_binding = self.require_binding;
        config.policy = match (self.policy, self.policy_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "config: give at most one of policy and policy_file",
                ));
            }
            (Some(doc), None) => Some(Arc::new(Policy::from_value(&doc)?)),
            (None, Some(path)) => Some(Arc::new(Policy::from_file(&path)?)),
            (None, None) => None,
        };
        let capacity = match self.replay_cache {
            Some(ReplayDoc::Memory { capacity }) => capacity.unwrap_or(DEFAULT_REPLAY_CAPACITY),
            None => DEFAULT_REPLAY_CAPACITY,
        };
        if capacity == 0 {
            return Err(ConfigError::new(
                "replay_cache.capacity: must be at least 1",
            ));
        }
        let testing = self.testing.unwrap_or_default();
        let clock: Arc<dyn Clock> = match testing.now {
            Some(now) => Arc::new(FixedClock::at_secs(now)),
            None => Arc::new(SystemClock),
        };
        let replay = MemoryReplayCache::new(capacity);
        for jti in &testing.seen_jtis {
            // Remembered for ever in this (test-only) verifier.
            replay
                .check_and_record(jti, i64::MAX, clock.now_secs())
                .map_err(|e| ConfigError::new(format!("testing.seen_jtis: {e}")))?;
        }
        config.replay_cache = Arc::new(replay);
        if !self.revoked_subjects.is_empty() {
            let list = MemoryRevocationList::new();
            let at = crate::clock::rfc3339_secs(clock.now_secs());
            for subject in &self.revoked_subjects {
                list.revoke(subject, &at);
            }
            config.revocation = Some(Arc::new(list));
        }
        let audit = self.audit.unwrap_or_default();
        if audit.stdout {
            config.audit_sinks.push(Box::new(StdoutSink));
        }
        if let Some(path) = audit.file {
            let sink = FileSink::open(&path).map_err(|e| {
                ConfigError::new(format!("audit.file: cannot open {}: {e}", path.display()))
            })?;
            config.audit_sinks.push(Box::new(sink));
        }
        config.clock = clock;
        for backend in &testing.unavailable {
            match backend {
                Backend::Jwks => config.keys = Arc::new(Unavailable),
                Backend::Revocation => config.revocation = Some(Arc::new(Unavailable)),
                Backend::ReplayCache => config.replay_cache = Arc::new(Unavailable),
            }
        }
        config.validate()?;
        Ok(config)
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
        let mut d = base();
        d.as_object_mut().unwrap().remove("jwks");
        assert!(err(d).contains("no keys"));
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
