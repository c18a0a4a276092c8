//! Keys fetched from each trusted issuer's `{iss}/.well-known/jwks.json` (PROTOCOL §3).
//!
//! Per issuer: keys are fresh for 60 s (configurable); stale keys keep being served while one
//! background refresh runs, and after failed refreshes for up to 1 h (stale-if-error), then
//! `jwks_unavailable`. An unknown `kid` refetches at most once per issuer per 10 s, so a flood
//! of made-up kids costs at most one fetch per 10 s. One fetch is in flight per issuer;
//! callers that need its result wait on it, callers with usable keys never do.

use crate::clock::Clock;
use crate::error::ConfigError;
use crate::keys::source::{KeyLookupError, KeySource, PrewarmResult};
use crate::keys::{KeySet, MAX_JWKS_BYTES, PublicKey};
use crate::ops::OpsReporter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Tuning of the fetching key source. The defaults are PROTOCOL §3's.
#[derive(Debug, Clone)]
pub struct JwksFetchSettings {
    /// How long fetched keys are used without refreshing.
    pub freshness_secs: i64,
    /// How long after the last successful fetch its keys are still served while refreshes fail.
    pub stale_if_error_secs: i64,
    /// An unknown kid refetches at most once per this interval per issuer; also the wait
    /// before retrying a failed fetch.
    pub refetch_interval_secs: i64,
    /// Whole-request timeout of one fetch.
    pub timeout: Duration,
    /// Allow `http://` to hosts that are not loopback.
    pub allow_insecure_http: bool,
}

impl Default for JwksFetchSettings {
    fn default() -> Self {
        JwksFetchSettings {
            freshness_secs: 60,
            stale_if_error_secs: 3600,
            refetch_interval_secs: 10,
            timeout: Duration::from_secs(5),
            allow_insecure_http: false,
        }
    }
}

/// The JWKS URL of an issuer: trailing `/` removed, path kept, `/.well-known/jwks.json` added.
pub fn jwks_url(issuer: &str, allow_insecure_http: bool) -> Result<String, ConfigError> {
    let base = issuer.trim_end_matches('/');
    let (scheme, rest) = base.split_once("://").ok_or_else(|| {
        ConfigError::new(format!(
            "trusted_issuers: {issuer:?} is not a URL, so its JWKS cannot be fetched"
        ))
    })?;
    let url = format!("{base}/.well-known/jwks.json");
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(url),
        "http" if allow_insecure_http || is_loopback_authority(rest) => Ok(url),
        "http" => Err(ConfigError::new(format!(
            "trusted_issuers: {issuer:?} uses http to a host that is not loopback; \
             use https, or set jwks_fetch.allow_insecure_http"
        ))),
        _ => Err(ConfigError::new(format!(
            "trusted_issuers: {issuer:?} is not an https URL, so its JWKS cannot be fetched"
        ))),
    }
}

fn host_of(authority_and_path: &str) -> &str {
    let authority = authority_and_path
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

fn is_loopback_authority(authority_and_path: &str) -> bool {
    let host = host_of(authority_and_path);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// Clock milliseconds of the last successful fetch.
    fetched_at: i64,
    last_attempt: Option<i64>,
    last_kid_refetch: Option<i64>,
    last_error: Option<String>,
    in_flight: bool,
}

struct IssuerEntry {
    url: String,
    agent: ureq::Agent,
    state: Mutex<State>,
    done: Condvar,
}

struct Inner {
    issuers: HashMap<String, IssuerEntry>,
    clock: Arc<dyn Clock>,
    settings: JwksFetchSettings,
    reporter: OpsReporter,
    fetches: AtomicU64,
}

/// A [`KeySource`] that fetches each trusted issuer's JWKS over HTTP.
#[derive(Clone)]
pub struct FetchingKeys {
    inner: Arc<Inner>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FetchingKeys {
    /// Validates every issuer's JWKS URL; fetches nothing until the first lookup or
    /// [`KeySource::prewarm`].
    pub fn new(
        issuers: &[String],
        settings: JwksFetchSettings,
        clock: Arc<dyn Clock>,
        reporter: OpsReporter,
    ) -> Result<FetchingKeys, ConfigError> {
        if settings.freshness_secs < 1 || settings.freshness_secs > 86_400 {
            return Err(ConfigError::new(
                "jwks_fetch.freshness_secs: must be between 1 and 86400",
            ));
        }
        let mut map = HashMap::new();
        for issuer in issuers {
            let url = jwks_url(issuer, settings.allow_insecure_http)?;
            let loopback = url
                .split_once("://")
                .is_some_and(|(_, rest)| is_loopback_authority(rest));
            let config = ureq::Agent::config_builder()
                .timeout_global(Some(settings.timeout))
                .http_status_as_error(false)
                // A redirect could lead off the validated URL (to plain http, say).
                .max_redirects(0)
                // A proxy from the environment must not see loopback traffic.
                .proxy(if loopback {
                    None
                } else {
                    ureq::Proxy::try_from_env()
                })
                .build();
            map.insert(
                issuer.clone(),
                IssuerEntry {
                    url,
                    agent: ureq::Agent::new_with_config(config),
                    state: Mutex::new(State::default()),
                    done: Condvar::new(),
                },
            );
        }
        Ok(FetchingKeys {
            inner: Arc::new(Inner {
                issuers: map,
                clock,
                settings,
                reporter,
                fetches: AtomicU64::new(0),
            }),
        })
    }

    /// HTTP fetches completed so far, successful or not.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::SeqCst)
    }

    /// The JWKS URL used for `issuer`.
    pub fn url_of(&self, issuer: &str) -> Option<&str> {
        self.inner.issuers.get(issuer).map(|e| e.url.as_str())
    }
}

impl Inner {
    fn ms(secs: i64) -> i64 {
        secs.saturating_mul(1000)
    }

    fn fetch(&self, entry: &IssuerEntry) -> Result<KeySet, String> {
        let response = entry
            .agent
            .get(&entry.url)
            .header("accept", "application/json")
            .call()
            .map_err(|e| format!("GET {} failed: {e}", entry.url))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(format!("GET {} answered HTTP {status}", entry.url));
        }
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_JWKS_BYTES as u64)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    format!("{} is larger than 64 KiB", entry.url)
                }
                e => format!("reading {} failed: {e}", entry.url),
            })?;
        let set = KeySet::from_jwks_json(&body).map_err(|e| format!("{}: {e}", entry.url))?;
        if set.is_empty() {
            // Replacing good keys with none would turn an issuer's mistake into an outage.
            return Err(format!("{}: no usable Ed25519 key", entry.url));
        }
        Ok(set)
    }

    /// Runs one fetch with the lock released, then records its result and wakes waiters.
    fn fetch_locked<'a>(
        &'a self,
        entry: &'a IssuerEntry,
        mut state: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        state.in_flight = true;
        state.last_attempt = Some(self.clock.now_millis());
        drop(state);
        let result = self.fetch(entry);
        let mut state = lock(&entry.state);
        self.record(entry, &mut state, result);
        state
    }

    fn record(&self, entry: &IssuerEntry, state: &mut State, result: Result<KeySet, String>) {
        let now = self.clock.now_millis();
        state.in_flight = false;
        self.fetches.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(set) => {
                state.keys = Some(Arc::new(set));
                state.fetched_at = now;
                if state.last_error.take().is_some() {
                    self.reporter
                        .emit("oathmesh.jwks", "fetch_recovered", entry.url.clone(), now);
                }
            }
            Err(e) => {
                self.reporter
                    .emit("oathmesh.jwks", "fetch_failed", e.clone(), now);
                state.last_error = Some(e);
            }
        }
        entry.done.notify_all();
    }

    fn wait<'a>(
        &self,
        entry: &'a IssuerEntry,
        mut state: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        let limit = self.settings.timeout + Duration::from_secs(1);
        while state.in_flight {
            let (next, timeout) = entry
                .done
                .wait_timeout(state, limit)
                .unwrap_or_else(|p| p.into_inner());
            state = next;
            if timeout.timed_out() {
                break;
            }
        }
        state
    }

    fn usable<'s>(&self, state: &'s State, now: i64) -> Option<&'s Arc<KeySet>> {
        let limit = Self::ms(
            self.settings
                .stale_if_error_secs
                .max(self.settings.freshness_secs),
        );
        state
            .keys
            .as_ref()
            .filter(|_| now.saturating_sub(state.fetched_at) < limit)
    }
}

/// Refreshes stale keys off the verifying thread.
fn spawn_refresh(inner: Arc<Inner>, issuer: String) {
    let spawned = std::thread::Builder::new()
        .name("oathmesh-jwks".into())
        .spawn({
            let inner = inner.clone();
            let issuer = issuer.clone();
            move || {
                let entry = &inner.issuers[&issuer];
                let result = inner.fetch(entry);
                let mut state = lock(&entry.state);
                inner.record(entry, &mut state, result);
            }
        });
    if spawned.is_err() {
        let entry = &inner.issuers[&issuer];
        let mut state = lock(&entry.state);
        state.in_flight = false;
        entry.done.notify_all();
    }
}

impl KeySource for FetchingKeys {
    fn lookup(&self, issuer: &str, kid: &str) -> Result<PublicKey, KeyLookupError> {
        let inner = &*self.inner;
        let Some(entry) = inner.issuers.get(issuer) else {
            return Err(KeyLookupError::NotFound);
        };
        let interval = Inner::ms(inner.settings.refetch_interval_secs);
        let mut state = lock(&entry.state);
        let mut refetched = false;
        loop {
            let now = inner.clock.now_millis();
            let since_attempt = state
                .last_attempt
                .map_or(i64::MAX, |t| now.saturating_sub(t));
            if let Some(keys) = inner.usable(&state, now).cloned() {
                let fresh =
                    now.saturating_sub(state.fetched_at) < Inner::ms(inner.settings.freshness_secs);
                if !fresh && !state.in_flight && since_attempt >= interval {
                    state.in_flight = true;
                    state.last_attempt = Some(now);
                    spawn_refresh(self.inner.clone(), issuer.to_owned());
                }
                if let Some(key) = keys.get(kid) {
                    return Ok(key);
                }
                // Unknown kid: perhaps the issuer rotated keys. Refetch, rarely.
                if refetched {
                    return Err(KeyLookupError::NotFound);
                }
                refetched = true;
                if state.in_flight {
                    state = inner.wait(entry, state);
                    continue;
                }
                if state
                    .last_kid_refetch
                    .is_some_and(|t| now.saturating_sub(t) < interval)
                {
                    return Err(KeyLookupError::NotFound);
                }
                state.last_kid_refetch = Some(now);
                state = inner.fetch_locked(entry, state);
                continue;
            }
            // No keys yet, or the last good ones are past the stale limit.
            let unavailable = |state: &State| {
                KeyLookupError::Unavailable(match &state.last_error {
                    Some(e) if state.keys.is_some() => format!(
                        "the last good keys are older than the stale limit and the refresh failed: {e}"
                    ),
                    Some(e) => e.clone(),
                    None => "the key set could not be fetched".to_owned(),
                })
            };
            if refetched {
                return Err(unavailable(&state));
            }
            refetched = true;
            if state.in_flight {
                state = inner.wait(entry, state);
                continue;
            }
            if state.last_error.is_some() && since_attempt < interval {
                // The issuer was just found down: do not hammer it with every request.
                return Err(unavailable(&state));
            }
            state = inner.fetch_locked(entry, state);
        }
    }

    fn prewarm(&self) -> Vec<PrewarmResult> {
        let inner = &*self.inner;
        let mut issuers: Vec<&String> = inner.issuers.keys().collect();
        issuers.sort();
        issuers
            .into_iter()
            .map(|issuer| {
                let entry = &inner.issuers[issuer];
                let mut state = inner.wait(entry, lock(&entry.state));
                state = inner.fetch_locked(entry, state);
                let ok = state.last_error.is_none();
                PrewarmResult {
                    issuer: issuer.clone(),
                    ok,
                    keys: if ok {
                        state.keys.as_ref().map_or(0, |k| k.len())
                    } else {
                        0
                    },
                    error: state.last_error.clone(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_urls_follow_the_protocol() {
        assert_eq!(
            jwks_url("https://issuer.internal/", false).unwrap(),
            "https://issuer.internal/.well-known/jwks.json"
        );
        assert_eq!(
            jwks_url("https://host/tenants/a//", false).unwrap(),
            "https://host/tenants/a/.well-known/jwks.json"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost/x",
            "http://[::1]:99/",
            "http://127.1.2.3",
        ] {
            assert!(jwks_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://issuer.internal",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "ftp://x",
            "issuer",
        ] {
            assert!(jwks_url(bad, false).is_err(), "{bad}");
        }
        assert!(jwks_url("http://issuer.internal", true).is_ok());
    }
}
