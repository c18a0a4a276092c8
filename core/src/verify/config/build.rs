//! The build step: a parsed configuration document becomes live components (keys, replay
//! cache, revocation list, policy, audit outputs).

use super::schema::{AuditDoc, ConfigDoc, OnErrorDoc, ReplayDoc, RevocationDoc};
use super::testing::{Backend, Unavailable};
use super::{DEFAULT_LEEWAY_SECS, VerifierConfig};
use crate::audit::AuditSink;
use crate::audit::chain;
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::error::ConfigError;
use crate::keys::KeySet;
use crate::keys::source::{KeySource, StaticKeys};
use crate::ops::OpsReporter;
use crate::policy::Policy;
use crate::policy::watch::WatchedPolicy;
use crate::state::replay::{DEFAULT_REPLAY_CAPACITY, MemoryReplayCache, ReplayCache};
use crate::state::revocation::{MemoryRevocationList, RevocationList};
use std::sync::Arc;

impl ConfigDoc {
    pub(super) fn has_static_keys(&self) -> bool {
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
        use crate::keys::fetch::{FetchingKeys, JwksFetchSettings};
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

    pub(super) fn build(self) -> Result<VerifierConfig, ConfigError> {
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
            (None, Some(path)) => Some(
                chain::read_key_file_checked(path, audit.allow_insecure_key_permissions).map_err(
                    |e| {
                        ConfigError::new(format!(
                            "audit.hmac_key_file: cannot use {}: {e}",
                            path.display()
                        ))
                    },
                )?,
            ),
            (None, None) => None,
        };
        if let Some(key) = &key {
            chain::check_key(key).map_err(|e| ConfigError::new(format!("audit: {e}")))?;
            if !audit.stdout && audit.file.is_none() {
                return Err(ConfigError::new(
                    "audit.hmac_key: chains the built-in outputs; set audit.file or audit.stdout",
                ));
            }
        }
        let options = audit_options(audit)?;
        if audit.stdout {
            let output = crate::audit::stdout_output(key.clone(), &options).map_err(|e| {
                ConfigError::new(format!("audit.stdout: cannot start its writer: {e}"))
            })?;
            sinks.push(Box::new(output));
        }
        if let Some(path) = &audit.file {
            let (output, _, quarantined) = crate::audit::file_output(path, key.clone(), &options)
                .map_err(|e| {
                ConfigError::new(format!("audit.file: cannot open {}: {e}", path.display()))
            })?;
            if let Some(moved) = quarantined {
                // The service starts; the operator learns of the damage here and from the
                // new segment's header line.
                eprintln!(
                    "oathmesh: audit.file {} had a damaged tail; it was moved to {} and a new linked segment started",
                    path.display(),
                    moved.display()
                );
            }
            sinks.push(Box::new(output));
        }
        Ok(())
    }
}

fn audit_options(audit: &AuditDoc) -> Result<crate::audit::AuditOptions, ConfigError> {
    let mut options = crate::audit::AuditOptions::default();
    if let Some(capacity) = audit.queue_capacity {
        if !(1..=1_000_000).contains(&capacity) {
            return Err(ConfigError::new(
                "audit.queue_capacity: between 1 and 1000000 lines",
            ));
        }
        options.queue_capacity = capacity;
    }
    if let Some(ms) = audit.max_wait_ms {
        if ms > 10_000 {
            return Err(ConfigError::new(
                "audit.max_wait_ms: at most 10000 (0: never wait for the write)",
            ));
        }
        options.max_wait = std::time::Duration::from_millis(ms);
    }
    if let Some(bytes) = audit.max_file_bytes {
        if bytes < 4096 {
            return Err(ConfigError::new("audit.max_file_bytes: at least 4096"));
        }
        if audit.file.is_none() {
            return Err(ConfigError::new("audit.max_file_bytes: needs audit.file"));
        }
        options.max_file_bytes = Some(bytes);
    }
    Ok(options)
}

#[cfg(feature = "redis")]
fn redis_pool(
    url: &str,
    timeout_ms: Option<u64>,
) -> Result<crate::state::redis::RedisPool, ConfigError> {
    let timeout = std::time::Duration::from_millis(
        timeout_ms.unwrap_or(crate::state::redis::DEFAULT_REDIS_TIMEOUT_MS),
    );
    crate::state::redis::RedisPool::new(url, timeout)
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
    use crate::state::redis::{OnError, RedisReplayCache};
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
    Ok(Arc::new(crate::state::redis::RedisRevocationList::new(
        pool,
    )))
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
