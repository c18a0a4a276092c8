//! Prometheus text metrics, kept with atomics (no registry dependency): mints, denials by
//! reason, and a mint latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 10] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
];

#[derive(Default)]
pub struct Metrics {
    mints: AtomicU64,
    denials: Mutex<BTreeMap<&'static str, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_nanos: AtomicU64,
    revocations: AtomicU64,
    exchanges: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Metrics {
    pub fn minted(&self, seconds: f64) {
        self.mints.fetch_add(1, Ordering::Relaxed);
        self.observe(seconds);
    }

    pub fn denied(&self, reason: &'static str) {
        *self
            .denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// One CI OIDC exchange, by provider and outcome (`ok` or the refusal code).
    pub fn exchanged(&self, provider: &'static str, outcome: &'static str) {
        *self
            .exchanges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((provider, outcome))
            .or_default() += 1;
    }

    pub fn revocation_changed(&self) {
        self.revocations.fetch_add(1, Ordering::Relaxed);
    }

    fn observe(&self, seconds: f64) {
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_nanos
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP oathmesh_issuer_mints_total Tokens minted.");
        let _ = writeln!(out, "# TYPE oathmesh_issuer_mints_total counter");
        let _ = writeln!(
            out,
            "oathmesh_issuer_mints_total {}",
            self.mints.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP oathmesh_issuer_denials_total Mint requests refused, by reason."
        );
        let _ = writeln!(out, "# TYPE oathmesh_issuer_denials_total counter");
        for (reason, n) in self
            .denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "oathmesh_issuer_denials_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP oathmesh_issuer_exchanges_total CI OIDC exchanges, by provider and outcome (ok or the refusal code)."
        );
        let _ = writeln!(out, "# TYPE oathmesh_issuer_exchanges_total counter");
        for ((provider, outcome), n) in self
            .exchanges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "oathmesh_issuer_exchanges_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP oathmesh_issuer_revocation_changes_total Revocations and lifts through the admin API."
        );
        let _ = writeln!(
            out,
            "# TYPE oathmesh_issuer_revocation_changes_total counter"
        );
        let _ = writeln!(
            out,
            "oathmesh_issuer_revocation_changes_total {}",
            self.revocations.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP oathmesh_issuer_mint_duration_seconds Time to authenticate, check and sign a mint."
        );
        let _ = writeln!(
            out,
            "# TYPE oathmesh_issuer_mint_duration_seconds histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "oathmesh_issuer_mint_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "oathmesh_issuer_mint_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "oathmesh_issuer_mint_duration_seconds_sum {}",
            self.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "oathmesh_issuer_mint_duration_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.minted(0.0002);
        m.minted(0.003);
        m.denied("mint_denied");
        m.denied("mint_denied");
        let text = m.render();
        assert!(text.contains("oathmesh_issuer_mints_total 2\n"));
        assert!(text.contains("oathmesh_issuer_denials_total{reason=\"mint_denied\"} 2\n"));
        assert!(text.contains("oathmesh_issuer_mint_duration_seconds_bucket{le=\"0.00025\"} 1\n"));
        assert!(text.contains("oathmesh_issuer_mint_duration_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("oathmesh_issuer_mint_duration_seconds_count 2\n"));
    }
}
