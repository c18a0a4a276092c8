//! The gateway's Prometheus metrics: requests by outcome and code, verification and upstream
//! latency, and JWKS fetch results. Every label value is bounded: outcomes are three words,
//! codes are the core's and the gateway's stable codes or an HTTP status.

use oathmesh_serving::metrics::{CounterVec, Histogram, LATENCY_BUCKETS};
use std::borrow::Cow;

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and sent to the upstream; the code is the upstream's HTTP status.
    Forwarded,
    /// Refused by verification; the code is the core's error code.
    Denied,
    /// Refused or failed by the gateway itself (limits, upstream down); the gateway's code.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

pub struct GatewayMetrics {
    requests: CounterVec,
    jwks_fetches: CounterVec,
    backend_events: CounterVec,
    verify_duration: Histogram,
    upstream_duration: Histogram,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        GatewayMetrics {
            requests: CounterVec::new(
                "oathmesh_gateway_requests_total",
                "Requests, by outcome (forwarded, denied, failed) and code (the upstream's status, the verification error code, or the gateway's error code).",
                &["outcome", "code"],
            ),
            jwks_fetches: CounterVec::new(
                "oathmesh_gateway_jwks_fetches_total",
                "JWKS fetches from trusted issuers, by result (fetched, fetch_failed, ...).",
                &["result"],
            ),
            backend_events: CounterVec::new(
                "oathmesh_gateway_backend_events_total",
                "State changes of the verifier's backends (Redis breaker, policy reload, JWKS), by event and state.",
                &["event", "state"],
            ),
            verify_duration: Histogram::new(
                "oathmesh_gateway_verify_duration_seconds",
                "Time spent verifying a request's token (both phases).",
                &LATENCY_BUCKETS,
            ),
            upstream_duration: Histogram::new(
                "oathmesh_gateway_upstream_duration_seconds",
                "From sending a request to the upstream to receiving its response head.",
                &LATENCY_BUCKETS,
            ),
        }
    }
}

impl GatewayMetrics {
    pub fn request(&self, outcome: Outcome, code: Cow<'static, str>) {
        self.requests.inc(&[Cow::Borrowed(outcome.as_str()), code]);
    }

    pub fn verified_in(&self, seconds: f64) {
        self.verify_duration.observe(seconds);
    }

    pub fn upstream_answered_in(&self, seconds: f64) {
        self.upstream_duration.observe(seconds);
    }

    /// A JWKS fetch result (`fetched`, `fetch_failed`).
    pub fn jwks_fetch(&self, result: &'static str) {
        self.jwks_fetches.inc(&[Cow::Borrowed(result)]);
    }

    /// An operational event from the verifier (the core's `OpsEvent`).
    pub fn backend_event(&self, event: &'static str, state: &'static str) {
        if event == "oathmesh.jwks" {
            self.jwks_fetch(state);
        }
        self.backend_events
            .inc(&[Cow::Borrowed(event), Cow::Borrowed(state)]);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.requests.render(&mut out);
        self.verify_duration.render(&mut out);
        self.upstream_duration.render(&mut out);
        self.jwks_fetches.render(&mut out);
        self.backend_events.render(&mut out);
        out
    }
}
