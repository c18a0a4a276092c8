//! The issuer's Prometheus metrics. Label values are bounded: client ids come from the
//! configuration (an unauthenticated request is counted under `client=""`), outcomes are
//! `ok` or an [`ErrorCode`], reasons are fixed words.

use crate::clients::AssertionReject;
use crate::errors::ErrorCode;
use oathmesh_serving::metrics::{Counter, CounterVec, Histogram, LATENCY_BUCKETS};
use std::borrow::Cow;

pub struct Metrics {
    mint_requests: CounterVec,
    rate_limited: CounterVec,
    assertion_rejects: CounterVec,
    exchanges: CounterVec,
    revocation_changes: Counter,
    mint_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            mint_requests: CounterVec::new(
                "oathmesh_issuer_mint_requests_total",
                "Mint requests (POST /v1/token), by authenticated client (empty when authentication failed) and outcome (ok or the error code).",
                &["client", "outcome"],
            ),
            rate_limited: CounterVec::new(
                "oathmesh_issuer_rate_limited_total",
                "Requests refused with rate_limited, by client id (mints) or exchange:<provider>.",
                &["client"],
            ),
            assertion_rejects: CounterVec::new(
                "oathmesh_issuer_assertion_rejects_total",
                "Client assertions (OathMesh-Client) refused, by reason.",
                &["reason"],
            ),
            exchanges: CounterVec::new(
                "oathmesh_issuer_exchanges_total",
                "CI OIDC exchanges, by provider and outcome (ok or the error code).",
                &["provider", "outcome"],
            ),
            revocation_changes: Counter::default(),
            mint_duration: Histogram::new(
                "oathmesh_issuer_mint_duration_seconds",
                "Time to authenticate, check and sign a successful mint or exchange.",
                &LATENCY_BUCKETS,
            ),
        }
    }
}

fn outcome(result: Result<(), ErrorCode>) -> Cow<'static, str> {
    match result {
        Ok(()) => Cow::Borrowed("ok"),
        Err(code) => code.as_str(),
    }
}

impl Metrics {
    /// One mint request; `client` is the authenticated id (None when authentication failed).
    pub fn mint_request(&self, client: Option<&str>, result: Result<(), ErrorCode>, seconds: f64) {
        let client = Cow::Owned(client.unwrap_or_default().to_owned());
        if result == Err(ErrorCode::RateLimited) {
            self.rate_limited.inc(std::slice::from_ref(&client));
        }
        if result.is_ok() {
            self.mint_duration.observe(seconds);
        }
        self.mint_requests.inc(&[client, outcome(result)]);
    }

    pub fn assertion_rejected(&self, reason: AssertionReject) {
        self.assertion_rejects
            .inc(&[Cow::Borrowed(reason.reason())]);
    }

    /// One CI OIDC exchange, by provider and outcome.
    pub fn exchanged(&self, provider: &'static str, result: Result<(), ErrorCode>, seconds: f64) {
        if result == Err(ErrorCode::RateLimited) {
            self.rate_limited
                .inc(&[Cow::Owned(format!("exchange:{provider}"))]);
        }
        if result.is_ok() {
            self.mint_duration.observe(seconds);
        }
        self.exchanges
            .inc(&[Cow::Borrowed(provider), outcome(result)]);
    }

    pub fn revocation_changed(&self) {
        self.revocation_changes.inc();
    }

    /// Mints that succeeded for `client` (for tests and the admin's eye).
    pub fn mints_ok(&self, client: &str) -> u64 {
        self.mint_requests
            .get(&[Cow::Owned(client.to_owned()), Cow::Borrowed("ok")])
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.mint_requests.render(&mut out);
        self.rate_limited.render(&mut out);
        self.assertion_rejects.render(&mut out);
        self.exchanges.render(&mut out);
        self.revocation_changes.render(
            &mut out,
            "oathmesh_issuer_revocation_changes_total",
            "Revocations and lifts through the admin API.",
        );
        self.mint_duration.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_mints_by_client_and_outcome() {
        let m = Metrics::default();
        m.mint_request(Some("checkout"), Ok(()), 0.0002);
        m.mint_request(Some("checkout"), Ok(()), 0.003);
        m.mint_request(Some("checkout"), Err(ErrorCode::RateLimited), 0.0);
        m.mint_request(None, Err(ErrorCode::InvalidClient), 0.0);
        m.mint_request(Some("checkout"), Err(ErrorCode::ClaimInvalid("scope")), 0.0);
        m.assertion_rejected(AssertionReject::Replayed);
        let text = m.render();
        let samples = oathmesh_serving::metrics::parse(&text).unwrap();
        let value = |name: &str, labels: &[(&str, &str)]| {
            oathmesh_serving::metrics::value_of(&samples, name, labels)
        };
        let mints = "oathmesh_issuer_mint_requests_total";
        assert_eq!(
            value(mints, &[("client", "checkout"), ("outcome", "ok")]),
            Some(2.0)
        );
        assert_eq!(
            value(mints, &[("client", ""), ("outcome", "invalid_client")]),
            Some(1.0)
        );
        assert_eq!(
            value(
                mints,
                &[("client", "checkout"), ("outcome", "claim_invalid:scope")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                "oathmesh_issuer_rate_limited_total",
                &[("client", "checkout")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                "oathmesh_issuer_assertion_rejects_total",
                &[("reason", "replayed")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value("oathmesh_issuer_mint_duration_seconds_count", &[]),
            Some(2.0)
        );
        assert_eq!(m.mints_ok("checkout"), 2);
    }
}
