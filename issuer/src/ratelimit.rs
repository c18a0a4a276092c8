//! Per-client token buckets: `rate` mints per second sustained, `burst` at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by client id.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token; `Err(seconds)` says how long until one is available.
    pub fn take(&self, client: &str, rate: f64, burst: f64, now: Instant) -> Result<(), f64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - bucket.tokens) / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn honours_rate_and_burst() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.take("a", 2.0, 5.0, t0).is_ok());
        }
        let wait = limiter.take("a", 2.0, 5.0, t0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9);
        // Other clients have their own bucket.
        assert!(limiter.take("b", 2.0, 5.0, t0).is_ok());
        // Half a second later, exactly one more at 2/s.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.take("a", 2.0, 5.0, t1).is_ok());
        assert!(limiter.take("a", 2.0, 5.0, t1).is_err());
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(limiter.take("a", 2.0, 5.0, t2).is_ok());
        }
        assert!(limiter.take("a", 2.0, 5.0, t2).is_err());
    }
}
