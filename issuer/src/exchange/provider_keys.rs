//! A CI provider's RS256 signing keys, fetched from its JWKS URL and cached.
//!
//! Keys are used for `freshness` (default 300 s) and then fetched again. An unknown `kid`
//! refetches at most once per 10 s, so a flood of made-up kids costs at most one fetch per
//! 10 s. A failed fetch never replaces good keys: they keep being used for up to 1 h after
//! the last success (stale-if-error), and the provider is not asked again for 10 s.
//! Lookups block on HTTP, so callers on the async runtime run them with `spawn_blocking`.
//! One fetch runs at a time; lookups that need its result wait for it.

use oathmesh_core::{Clock, b64, strict_json};
use rsa::{BigUint, RsaPublicKey, traits::PublicKeyParts};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Largest JWKS document read (GitHub's and GitLab's are a few KiB).
pub const MAX_JWKS_BYTES: u64 = 64 * 1024;
/// Smallest accepted RSA modulus.
pub const MIN_RSA_BITS: usize = 2048;
const REFETCH_INTERVAL_MS: i64 = 10_000;
const STALE_IF_ERROR_MS: i64 = 3_600_000;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The provider's key set does not have this kid (even after the allowed refetch).
    UnknownKid,
    /// The key set could not be fetched, and no usable earlier copy exists.
    Unavailable(String),
}

/// `https://`, or `http://` to loopback (or anywhere when explicitly allowed).
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(rest) => Ok(()),
        "http" => Err(format!(
            "{url:?} is plain http to a host that is not loopback; use https (or allow_insecure_http for a lab)"
        )),
        _ => Err(format!("{url:?} is not an https URL")),
    }
}

pub(crate) fn is_loopback(authority_and_path: &str) -> bool {
    let authority = authority_and_path
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parses a JWKS, keeping the RSA signing keys usable with RS256. Other keys (EC, encryption
/// keys, other algs) are skipped, not errors: providers publish several kinds.
pub fn parse_jwks(bytes: &[u8]) -> Result<HashMap<String, Arc<RsaPublicKey>>, String> {
    let doc = strict_json::parse(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no `keys` array")?;
    let mut out = HashMap::new();
    for key in keys {
        let text = |name: &str| key.get(name).and_then(Value::as_str);
        let usable = text("kty") == Some("RSA")
            && text("alg").is_none_or(|a| a == "RS256")
            && text("use").is_none_or(|u| u == "sig");
        let (Some(kid), Some(n), Some(e)) = (text("kid"), text("n"), text("e")) else {
            continue;
        };
        if !usable {
            continue;
        }
        let (Some(n), Some(e)) = (b64::decode(n), b64::decode(e)) else {
            continue;
        };
        let Ok(public) = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
        else {
            continue;
        };
        if public.size() * 8 < MIN_RSA_BITS {
            continue;
        }
        out.insert(kid.to_owned(), Arc::new(public));
    }
    Ok(out)
}

#[derive(Default)]
struct State {
    keys: Option<Arc<HashMap<String, Arc<RsaPublicKey>>>>,
    /// Clock milliseconds of the last successful fetch.
    fetched_at: i64,
    last_attempt: Option<i64>,
    last_kid_refetch: Option<i64>,
    last_error: Option<String>,
}

impl State {
    fn fresh(&self, now: i64, freshness_ms: i64) -> bool {
        self.keys.is_some() && now.saturating_sub(self.fetched_at) < freshness_ms
    }

    fn recently_failed(&self, now: i64) -> bool {
        self.last_error.is_some()
            && self
                .last_attempt
                .is_some_and(|t| now.saturating_sub(t) < REFETCH_INTERVAL_MS)
    }

    /// Keys, fresh or stale, that may still be used.
    fn usable(&self, now: i64) -> Option<&HashMap<String, Arc<RsaPublicKey>>> {
        self.keys
            .as_deref()
            .filter(|_| now.saturating_sub(self.fetched_at) < STALE_IF_ERROR_MS)
    }

    fn answer(&self, kid: &str, now: i64) -> Result<Arc<RsaPublicKey>, KeyError> {
        match self.usable(now) {
            Some(keys) => keys.get(kid).cloned().ok_or(KeyError::UnknownKid),
            None => Err(KeyError::Unavailable(
                self.last_error
                    .clone()
                    .unwrap_or_else(|| "the provider's keys could not be fetched".into()),
            )),
        }
    }
}

/// One provider's keys.
pub struct ProviderKeys {
    url: String,
    agent: ureq::Agent,
    freshness_ms: i64,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Held for the whole of a fetch, so one runs at a time.
    fetching: Mutex<()>,
    fetches: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProviderKeys {
    pub fn new(url: &str, freshness_secs: i64, clock: Arc<dyn Clock>) -> ProviderKeys {
        let loopback = url
            .split_once("://")
            .is_some_and(|(_, rest)| is_loopback(rest));
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            .http_status_as_error(false)
            // A redirect could lead off the configured URL.
            .max_redirects(0)
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .build();
        ProviderKeys {
            url: url.to_owned(),
            agent: ureq::Agent::new_with_config(config),
            freshness_ms: freshness_secs.saturating_mul(1000),
            clock,
            state: Mutex::new(State::default()),
            fetching: Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// HTTP fetches completed so far, successful or not.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The key for `kid`, fetching the JWKS when the cache is stale or lacks the kid.
    /// Blocks on HTTP: call it off the async runtime.
    pub fn lookup(&self, kid: &str) -> Result<Arc<RsaPublicKey>, KeyError> {
        if let Some(answer) = self.answer_without_fetch(kid) {
            return answer;
        }
        let _one_fetch = lock(&self.fetching);
        // Another lookup may have fetched while this one waited.
        if let Some(answer) = self.answer_without_fetch(kid) {
            return answer;
        }
        let now = self.clock.now_millis();
        {
            let mut state = lock(&self.state);
            if state.fresh(now, self.freshness_ms) {
                state.last_kid_refetch = Some(now);
            }
            state.last_attempt = Some(now);
        }
        let result = self.fetch();
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        let now = self.clock.now_millis();
        match result {
            Ok(keys) => {
                state.keys = Some(Arc::new(keys));
                state.fetched_at = now;
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "provider JWKS fetch failed");
                state.last_error = Some(e);
            }
        }
        state.answer(kid, now)
    }

    /// `Some` when the cache can answer without a fetch (or must not fetch yet).
    fn answer_without_fetch(&self, kid: &str) -> Option<Result<Arc<RsaPublicKey>, KeyError>> {
        let now = self.clock.now_millis();
        let state = lock(&self.state);
        if state.fresh(now, self.freshness_ms) {
            let known = state.answer(kid, now);
            let may_refetch = state
                .last_kid_refetch
                .is_none_or(|t| now.saturating_sub(t) >= REFETCH_INTERVAL_MS);
            return match known {
                Ok(key) => Some(Ok(key)),
                Err(_) if !may_refetch => Some(Err(KeyError::UnknownKid)),
                Err(_) => None,
            };
        }
        // Stale or absent: refetch, unless the provider just failed (then serve what is left).
        state.recently_failed(now).then(|| state.answer(kid, now))
    }

    fn fetch(&self) -> Result<HashMap<String, Arc<RsaPublicKey>>, String> {
        let response = self
            .agent
            .get(&self.url)
            .header("accept", "application/json")
            .call()
            .map_err(|e| format!("GET {} failed: {e}", self.url))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(format!("GET {} answered HTTP {status}", self.url));
        }
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_JWKS_BYTES)
            .read_to_vec()
            .map_err(|e| format!("reading {} failed: {e}", self.url))?;
        let keys = parse_jwks(&body).map_err(|e| format!("{}: {e}", self.url))?;
        if keys.is_empty() {
            // Replacing good keys with none would turn a provider's mistake into an outage.
            return Err(format!("{}: no usable RS256 key", self.url));
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback() {
        for ok in [
            "https://token.actions.githubusercontent.com/.well-known/jwks",
            "http://127.0.0.1:9/jwks",
            "http://localhost/x",
            "http://[::1]:80/k",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://gitlab.example.com/oauth/discovery/keys",
            "http://127.0.0.1.evil.example/k",
            "ftp://x",
            "keys",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://gitlab.lab/keys", true).is_ok());
    }

    #[test]
    fn jwks_keeps_only_rs256_signing_keys() {
        let n = b64::encode(&[0xC5; 256]);
        let small = b64::encode(&[0xC5; 128]);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": small, "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "padded", "n": format!("{n}=="), "e": "AQAB"},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["a", "b"]);
        assert!(parse_jwks(b"{\"keys\": 1}").is_err());
        assert!(parse_jwks(b"{\"keys\": [], \"keys\": []}").is_err());
    }
}
