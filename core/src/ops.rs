//! Operational events: state changes of the shared backends (the Redis circuit breaker, a
//! policy reload, a JWKS refresh failure). They are not verifications, so they are not
//! [`crate::AuditEvent`]s; the verifier writes them to its built-in audit outputs (file,
//! stdout) as NDJSON lines with their own `event` name, and hands them to any subscriber.

use serde::Serialize;
use std::sync::{Arc, RwLock};

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpsEvent {
    /// `oathmesh.replay_cache`, `oathmesh.policy_reload` or `oathmesh.jwks`.
    pub event: &'static str,
    /// `breaker_open`, `breaker_closed`, `reloaded`, `reload_failed`, `fetch_failed`, ...
    pub state: &'static str,
    /// What happened, for an operator. Never a token, key or secret.
    pub detail: String,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
}

impl OpsEvent {
    /// One NDJSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ops event serializes")
    }
}

type Subscriber = Arc<dyn Fn(&OpsEvent) + Send + Sync>;

/// Where components report state changes. Cheap to clone; subscribers can be added after
/// the components were built (the verifier adds its audit outputs last).
#[derive(Clone, Default)]
pub struct OpsReporter {
    subscribers: Arc<RwLock<Vec<Subscriber>>>,
}

impl OpsReporter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `f` for every later event.
    pub fn subscribe(&self, f: impl Fn(&OpsEvent) + Send + Sync + 'static) {
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(f));
    }

    /// Delivers an event; a panicking subscriber is contained, like an audit sink.
    pub fn report(&self, event: &OpsEvent) {
        let subscribers = self
            .subscribers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for s in subscribers {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s(event)));
        }
    }

    /// Builds and delivers an event stamped with `now_millis`.
    pub fn emit(&self, event: &'static str, state: &'static str, detail: String, now_millis: i64) {
        self.report(&OpsEvent {
            event,
            state,
            detail,
            timestamp: crate::clock::rfc3339_millis(now_millis),
        });
    }
}

impl std::fmt::Debug for OpsReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpsReporter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn subscribers_added_late_receive_events_and_panics_are_contained() {
        let reporter = OpsReporter::new();
        let clone = reporter.clone();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        clone.subscribe(|_| panic!("subscriber bug"));
        clone.subscribe(move |e| s.lock().unwrap().push(e.state));
        reporter.emit("oathmesh.replay_cache", "breaker_open", "x".into(), 0);
        assert_eq!(*seen.lock().unwrap(), vec!["breaker_open"]);
        let line = OpsEvent {
            event: "oathmesh.jwks",
            state: "fetch_failed",
            detail: "d".into(),
            timestamp: "t".into(),
        }
        .to_json();
        assert!(line.starts_with(r#"{"event":"oathmesh.jwks","state":"fetch_failed""#));
    }
}
