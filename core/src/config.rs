//! Verifier configuration: the typed Rust value, and the one JSON document every binding
//! hands to the core (`docs/configuration.md`). Bindings never interpret the document
//! themselves; they pass it through, so every language accepts exactly the same options.

use crate::audit::{AuditSink, ChainedStdoutSink, FileSink, StdoutSink};
use crate::audit_chain::{self, HmacChain};
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::error::ConfigError;
use crate::keys::KeySet;
use crate::keysource::{KeyLookupError, KeySource, StaticKeys};
use crate::ops::OpsReporter;
use crate::policy::Policy;
use crate::policy_file::WatchedPolicy;
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
        let doc: ConfigDoc = crate::strict_json::from_value(value)
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
    /// Tuning of JWKS fetching (used when no static keys are given).
    #[serde(default)]
    jwks_fetch: Option<JwksFetchDoc>,
    /// Shorthand: Redis for the replay cache and the revocation list unless those are given.
    #[serde(default)]
    redis_url: Option<String>,
    #[serde(default)]
    revocation: Option<RevocationDoc>,
    /// The `pkl` binary for `.pkl` policy files.
    #[serde(default)]
    pkl_path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
enum ReplayDoc {
    Memory {
        #[serde(default)]
        capacity: Option<usize>,
    },
    Redis {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        on_error: OnErrorDoc,
        #[serde(default)]
        timeout_ms: Option<u64>,
        /// Capacity of the in-process cache kept beside Redis.
        #[serde(default)]
        capacity: Option<usize>,
    },
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OnErrorDoc {
    #[default]
    Fallback,
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
enum RevocationDoc {
    Redis {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "jwks-fetch"), allow(dead_code))]
struct JwksFetchDoc {
    #[serde(default)]
    freshness_secs: Option<i64>,
    #[serde(default)]
    allow_insecure_http: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditDoc {
    #[serde(default)]
    stdout: bool,
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    hmac_key: Option<String>,
    #[serde(default)]
    hmac_key_file: Option<PathBuf>,
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
    fn has_static_keys(&self) -> bool {
        self.jwks.is_some()
            || self.jwks_file.is_some()
            || self.public_keys_pem.is_some()
            || self.issuer_jwks.is_some()
    }

    fn keys(
        &self,
        clock: &Arc<dyn Clock>,
        ops: &OpsReporter,
    ) -> Result<Arc<dyn KeySource>, ConfigError> {
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
        if !self.has_static_keys() {
            return self.fetching_keys(clock, ops);
        }
        if self.jwks_fetch.is_some() {
            return Err(ConfigError::new(
                "jwks_fetch: only used when no static keys (jwks, jwks_file, public_keys_pem, \
                 issuer_jwks) are given",
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
        Ok(Arc::new(keys))
    }

    #[cfg(feature = "jwks-fetch")]
    fn fetching_keys(
        &self,
        clock: &Arc<dyn Clock>,
        ops: &OpsReporter,
    ) -> Result<Arc<dyn KeySource>, ConfigError> {
        use crate::jwks_fetch::{FetchingKeys, JwksFetchSettings};
        let tuning = self.jwks_fetch.as_ref();
        let mut settings = JwksFetchSettings::default();
        if let Some(secs) = tuning.and_then(|t| t.freshness_secs) {
            settings.freshness_secs = secs;
        }
        settings.allow_insecure_http = tuning.is_some_and(|t| t.allow_insecure_http);
        Ok(Arc::new(FetchingKeys::new(
            &self.trusted_issuers,
            settings,
            clock.clone(),
            ops.clone(),
        )?))
    }

    #[cfg(not(feature = "jwks-fetch"))]
    fn fetching_keys(
        &self,
        _: &Arc<dyn Clock>,
        _: &OpsReporter,
    ) -> Result<Arc<dyn KeySource>, ConfigError> {
        Err(ConfigError::new(
            "config: no keys; give jwks, jwks_file, public_keys_pem or issuer_jwks (fetching \
             JWKS from the issuers needs the `jwks-fetch` feature)",
        ))
    }

    fn build(self) -> Result<VerifierConfig, ConfigError> {
        let testing = self.testing.as_ref();
        let clock: Arc<dyn Clock> = match testing.and_then(|t| t.now) {
            Some(now) => Arc::new(FixedClock::at_secs(now)),
            None => Arc::new(SystemClock),
        };
        let ops = OpsReporter::new();
        let keys = self.keys(&clock, &ops)?;
        let mut config =
            VerifierConfig::new(self.audience.clone(), self.trusted_issuers.clone(), keys);
        config.ops = ops.clone();
        config.leeway_secs = self.leeway.unwrap_or(DEFAULT_LEEWAY_SECS);
        config.require_binding = self.require_binding;
        match (&self.policy, &self.policy_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "config: give at most one of policy and policy_file",
                ));
            }
            (Some(doc), None) => config.policy = Some(Arc::new(Policy::from_value(doc)?)),
            (None, Some(path)) => {
                let watched = WatchedPolicy::open(
                    path,
                    self.pkl_path.as_deref(),
                    clock.clone(),
                    ops.clone(),
                )?;
                config.policy = Some(watched.snapshot());
                config.policy_watch = Some(Arc::new(watched));
            }
            (None, None) => {}
        }
        config.replay_cache = self.replay_cache(&clock, &ops)?;
        config.revocation = self.revocation(&clock)?;
        self.audit_sinks(&mut config.audit_sinks)?;
        config.clock = clock;
        for backend in testing
            .map(|t| t.unavailable.as_slice())
            .unwrap_or_default()
        {
            match backend {
                Backend::Jwks => config.keys = Arc::new(Unavailable),
                Backend::Revocation => config.revocation = Some(Arc::new(Unavailable)),
                Backend::ReplayCache => config.replay_cache = Arc::new(Unavailable),
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn redis_url_for(&self, given: &Option<String>, key: &str) -> Result<String, ConfigError> {
        given
            .clone()
            .or_else(|| self.redis_url.clone())
            .ok_or_else(|| ConfigError::new(format!("{key}.url: required (or set redis_url)")))
    }

    fn replay_cache(
        &self,
        clock: &Arc<dyn Clock>,
        ops: &OpsReporter,
    ) -> Result<Arc<dyn ReplayCache>, ConfigError> {
        let seen_jtis = self
            .testing
            .as_ref()
            .map(|t| t.seen_jtis.as_slice())
            .unwrap_or_default();
        let implied_redis = ReplayDoc::Redis {
            url: None,
            on_error: OnErrorDoc::Fallback,
            timeout_ms: None,
            capacity: None,
        };
        let doc = match (&self.replay_cache, &self.redis_url) {
            (Some(doc), _) => Some(doc),
            (None, Some(_)) => Some(&implied_redis),
            (None, None) => None,
        };
        let capacity = match doc {
            Some(ReplayDoc::Memory { capacity } | ReplayDoc::Redis { capacity, .. }) => {
                capacity.unwrap_or(DEFAULT_REPLAY_CAPACITY)
            }
            None => DEFAULT_REPLAY_CAPACITY,
        };
        if capacity == 0 {
            return Err(ConfigError::new(
                "replay_cache.capacity: must be at least 1",
            ));
        }
        if let Some(ReplayDoc::Redis {
            url,
            on_error,
            timeout_ms,
            ..
        }) = doc
        {
            if !seen_jtis.is_empty() {
                return Err(ConfigError::new(
                    "testing.seen_jtis: only with the memory replay cache",
                ));
            }
            let url = self.redis_url_for(url, "replay_cache")?;
            return redis_replay(&url, *on_error, *timeout_ms, capacity, clock, ops);
        }
        let replay = MemoryReplayCache::new(capacity);
        for jti in seen_jtis {
            // Remembered for ever in this (test-only) verifier.
            replay
                .check_and_record(jti, i64::MAX, clock.now_secs())
                .map_err(|e| ConfigError::new(format!("testing.seen_jtis: {e}")))?;
        }
        Ok(Arc::new(replay))
    }

    fn revocation(
        &self,
        clock: &Arc<dyn Clock>,
    ) -> Result<Option<Arc<dyn RevocationList>>, ConfigError> {
        if !self.revoked_subjects.is_empty() {
            if self.revocation.is_some() {
                return Err(ConfigError::new(
                    "config: give at most one of revoked_subjects and revocation",
                ));
            }
            let list = MemoryRevocationList::new();
            let at = crate::clock::rfc3339_secs(clock.now_secs());
            for subject in &self.revoked_subjects {
                list.revoke(subject, &at);
            }
            return Ok(Some(Arc::new(list)));
        }
        let (url, timeout_ms) = match (&self.revocation, &self.redis_url) {
            (Some(RevocationDoc::Redis { url, timeout_ms }), _) => {
                (self.redis_url_for(url, "revocation")?, *timeout_ms)
            }
            (None, Some(url)) => (url.clone(), None),
            (None, None) => return Ok(None),
        };
        redis_revocation(&url, timeout_ms).map(Some)
    }

    fn audit_sinks(&self, sinks: &mut Vec<Box<dyn AuditSink>>) -> Result<(), ConfigError> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        let key = match (&audit.hmac_key, &audit.hmac_key_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "audit: give at most one of hmac_key and hmac_key_file",
                ));
            }
            (Some(key), None) => Some(key.as_bytes().to_vec()),
            (None, Some(path)) => Some(audit_chain::read_key_file(path).map_err(|e| {
                ConfigError::new(format!(
                    "audit.hmac_key_file: cannot read {}: {e}",
                    path.display()
                ))
            })?),
            (None, None) => None,
        };
        if let Some(key) = &key {
            audit_chain::check_key(key).map_err(|e| ConfigError::new(format!("audit: {e}")))?;
            if !audit.stdout && audit.file.is_none() {
                return Err(ConfigError::new(
                    "audit.hmac_key: chains the built-in outputs; set audit.file or audit.stdout",
                ));
            }
        }
        if audit.stdout {
            sinks.push(match &key {
                Some(key) => Box::new(ChainedStdoutSink::new(HmacChain::new(key.clone()))),
                None => Box::new(StdoutSink),
            });
        }
        if let Some(path) = &audit.file {
            let sink = match &key {
                Some(key) => FileSink::open_chained(path, key.clone()),
                None => FileSink::open(path).map_err(|e| e.to_string()),
            }
            .map_err(|e| {
                ConfigError::new(format!("audit.file: cannot open {}: {e}", path.display()))
            })?;
            sinks.push(Box::new(sink));
        }
        Ok(())
    }
}

#[cfg(feature = "redis")]
fn redis_pool(
    url: &str,
    timeout_ms: Option<u64>,
) -> Result<crate::redis_store::RedisPool, ConfigError> {
    let timeout = std::time::Duration::from_millis(
        timeout_ms.unwrap_or(crate::redis_store::DEFAULT_REDIS_TIMEOUT_MS),
    );
    crate::redis_store::RedisPool::new(url, timeout)
}

#[cfg(feature = "redis")]
fn redis_replay(
    url: &str,
    on_error: OnErrorDoc,
    timeout_ms: Option<u64>,
    capacity: usize,
    clock: &Arc<dyn Clock>,
    ops: &OpsReporter,
) -> Result<Arc<dyn ReplayCache>, ConfigError> {
    use crate::redis_store::{OnError, RedisReplayCache};
    let on_error = match on_error {
        OnErrorDoc::Fallback => OnError::Fallback,
        OnErrorDoc::Reject => OnError::Reject,
    };
    let pool = redis_pool(url, timeout_ms).map_err(|e| e.at("replay_cache"))?;
    Ok(Arc::new(RedisReplayCache::new(
        pool,
        capacity,
        on_error,
        clock.clone(),
        ops.clone(),
    )))
}

#[cfg(feature = "redis")]
fn redis_revocation(
    url: &str,
    timeout_ms: Option<u64>,
) -> Result<Arc<dyn RevocationList>, ConfigError> {
    let pool = redis_pool(url, timeout_ms).map_err(|e| e.at("revocation"))?;
    Ok(Arc::new(crate::redis_store::RedisRevocationList::new(pool)))
}

#[cfg(not(feature = "redis"))]
fn redis_replay(
    _: &str,
    _: OnErrorDoc,
    _: Option<u64>,
    _: usize,
    _: &Arc<dyn Clock>,
    _: &OpsReporter,
) -> Result<Arc<dyn ReplayCache>, ConfigError> {
    Err(ConfigError::new(
        "replay_cache: the redis type needs the `redis` feature",
    ))
}

#[cfg(not(feature = "redis"))]
fn redis_revocation(_: &str, _: Option<u64>) -> Result<Arc<dyn RevocationList>, ConfigError> {
    Err(ConfigError::new(
        "revocation: the redis type needs the `redis` feature",
    ))
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
