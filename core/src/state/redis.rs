//! Redis as the shared store of a fleet of receivers: the replay cache (PROTOCOL §6) and the
//! revocation list (PROTOCOL §7).
//!
//! Blocking connections from a small pool, each with a short read/write timeout; a connection
//! that saw any error is dropped, so the next command reconnects (a timed-out reply can never
//! be read as the answer to a later command).

use crate::clock::{self, Clock};
use crate::error::ConfigError;
use crate::ops::OpsReporter;
use crate::state::replay::{BackendError, MemoryReplayCache, ReplayCache, ReplayCheck};
use crate::state::revocation::RevocationList;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default per-command timeout.
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 250;
/// Replay records: `oathmesh:replay:<jti>`.
pub const REPLAY_KEY_PREFIX: &str = "oathmesh:replay:";
/// Revocations: one hash, field = subject, value = RFC 3339 UTC time of revocation.
pub const REVOCATIONS_KEY: &str = "oathmesh:revocations";
/// Consecutive errors that open the circuit breaker.
pub const BREAKER_THRESHOLD: u32 = 3;
/// How long the breaker stays open before one request probes Redis again.
pub const BREAKER_PROBE_AFTER_MS: i64 = 30_000;
const MAX_IDLE_CONNECTIONS: usize = 16;

/// A pool of blocking Redis connections.
pub struct RedisPool {
    client: redis::Client,
    timeout: Duration,
    idle: Mutex<Vec<redis::Connection>>,
}

impl RedisPool {
    /// Parses the URL (`redis://host:port/db`, `unix:///path`); connects lazily.
    pub fn new(url: &str, timeout: Duration) -> Result<RedisPool, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::new("redis timeout_ms: must be at least 1"));
        }
        let client = redis::Client::open(url)
            .map_err(|e| ConfigError::new(format!("redis url: not usable ({e})")))?;
        Ok(RedisPool {
            client,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
    }

    /// Runs `f` on a pooled connection. Any error drops that connection.
    pub fn run<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, BackendError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.connect().map_err(describe)?,
        };
        let value = f(&mut conn).map_err(describe)?;
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
        Ok(value)
    }
}

fn describe(e: redis::RedisError) -> BackendError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connection_refusal() {
        "refused the connection"
    } else if e.is_connection_dropped() {
        "dropped the connection"
    } else {
        "failed"
    };
    BackendError(format!("redis {what}: {e}"))
}

/// What the replay cache does while Redis cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Answer from the in-process cache (tokens this process has seen stay single-use).
    #[default]
    Fallback,
    /// Refuse with `replay_cache_unavailable`.
    Reject,
}

/// The circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_errors: u32,
    /// Clock milliseconds when the breaker (re)opened.
    open_since: Option<i64>,
    probing: bool,
}

/// The shared replay cache: `SET oathmesh:replay:<jti> 1 NX PX <ttl_ms>`.
///
/// Every token id is also recorded in an in-process cache first. That cache answers while
/// the breaker is open, and it keeps a token this process accepted single-use even if Redis
/// restarts empty. Tokens seen only by *other* processes are unknown to it, which is why
/// `on_error = "reject"` exists.
pub struct RedisReplayCache {
    pool: RedisPool,
    local: MemoryReplayCache,
    on_error: OnError,
    breaker: Mutex<Breaker>,
    clock: Arc<dyn Clock>,
    reporter: OpsReporter,
}

impl RedisReplayCache {
    pub fn new(
        pool: RedisPool,
        local_capacity: usize,
        on_error: OnError,
        clock: Arc<dyn Clock>,
        reporter: OpsReporter,
    ) -> RedisReplayCache {
        RedisReplayCache {
            pool,
            local: MemoryReplayCache::new(local_capacity),
            on_error,
            breaker: Mutex::new(Breaker::default()),
            clock,
            reporter,
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        match self.lock().open_since {
            Some(_) => BreakerState::Open,
            None => BreakerState::Closed,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this request may ask Redis: always while closed; while open, one probe once
    /// the probe delay has passed.
    fn admit(&self) -> bool {
        let mut b = self.lock();
        match b.open_since {
            None => true,
            Some(since) => {
                let due = self.clock.now_millis().saturating_sub(since) >= BREAKER_PROBE_AFTER_MS;
                if due && !b.probing {
                    b.probing = true;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn succeeded(&self) {
        let mut b = self.lock();
        b.consecutive_errors = 0;
        b.probing = false;
        if b.open_since.take().is_some() {
            drop(b);
            self.reporter.emit(
                "oathmesh.replay_cache",
                "breaker_closed",
                "redis answered the probe; the shared replay cache is in use again".into(),
                self.clock.now_millis(),
            );
        }
    }

    fn failed(&self, error: &BackendError) {
        let now = self.clock.now_millis();
        let mut b = self.lock();
        b.consecutive_errors = b.consecutive_errors.saturating_add(1);
        let state = if b.probing {
            b.probing = false;
            b.open_since = Some(now);
            "probe_failed"
        } else if b.open_since.is_none() && b.consecutive_errors >= BREAKER_THRESHOLD {
            b.open_since = Some(now);
            "breaker_open"
        } else {
            return;
        };
        drop(b);
        let answer = match self.on_error {
            OnError::Fallback => "answering from the in-process cache",
            OnError::Reject => "refusing with replay_cache_unavailable",
        };
        self.reporter.emit(
            "oathmesh.replay_cache",
            state,
            format!("{error}; {answer} for {} s", BREAKER_PROBE_AFTER_MS / 1000),
            now,
        );
    }

    fn set_nx(&self, jti: &str, ttl_ms: i64) -> Result<ReplayCheck, BackendError> {
        let key = format!("{REPLAY_KEY_PREFIX}{jti}");
        let reply: Option<String> = self.pool.run(|conn| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query(conn)
        })?;
        Ok(match reply {
            Some(_) => ReplayCheck::Fresh,
            None => ReplayCheck::Replayed,
        })
    }
}

impl ReplayCache for RedisReplayCache {
    fn check_and_record(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<ReplayCheck, BackendError> {
        // Provisional local record first, so that no interleaving with a breaker change can
        // let one token through twice in this process.
        let local = self.local.check_and_record(jti, expires_at, now);
        if local == Ok(ReplayCheck::Replayed) {
            return Ok(ReplayCheck::Replayed);
        }
        let error = if self.admit() {
            let ttl_ms = expires_at.saturating_sub(now).max(1).saturating_mul(1000);
            match self.set_nx(jti, ttl_ms) {
                Ok(answer) => {
                    self.succeeded();
                    return Ok(answer);
                }
                Err(e) => {
                    self.failed(&e);
                    e
                }
            }
        } else {
            BackendError("redis is unavailable (circuit breaker open)".to_owned())
        };
        match self.on_error {
            // The local record was made atomically above: Fresh there means first sighting here.
            OnError::Fallback => local,
            OnError::Reject => {
                if local.is_ok() {
                    self.local.forget(jti);
                }
                Err(error)
            }
        }
    }
}

/// The shared revocation list: the hash `oathmesh:revocations`.
pub struct RedisRevocationList {
    pool: RedisPool,
}

impl RedisRevocationList {
    pub fn new(pool: RedisPool) -> RedisRevocationList {
        RedisRevocationList { pool }
    }

    /// Revokes `subject` as of `at_secs` (Unix seconds).
    pub fn revoke(&self, subject: &str, at_secs: i64) -> Result<(), BackendError> {
        let at = clock::rfc3339_secs(at_secs);
        self.pool.run(|conn| {
            redis::cmd("HSET")
                .arg(REVOCATIONS_KEY)
                .arg(subject)
                .arg(&at)
                .query::<i64>(conn)
        })?;
        Ok(())
    }

    /// Lifts a revocation; true when there was one.
    pub fn unrevoke(&self, subject: &str) -> Result<bool, BackendError> {
        let removed: i64 = self.pool.run(|conn| {
            redis::cmd("HDEL")
                .arg(REVOCATIONS_KEY)
                .arg(subject)
                .query(conn)
        })?;
        Ok(removed > 0)
    }

    /// `(subject, revoked_at)` pairs, sorted by subject.
    pub fn list(&self) -> Result<Vec<(String, String)>, BackendError> {
        let mut all: Vec<(String, String)> = self
            .pool
            .run(|conn| redis::cmd("HGETALL").arg(REVOCATIONS_KEY).query(conn))?;
        all.sort();
        Ok(all)
    }
}

impl RevocationList for RedisRevocationList {
    fn is_revoked(&self, subject: &str) -> Result<bool, BackendError> {
        self.pool.run(|conn| {
            redis::cmd("HEXISTS")
                .arg(REVOCATIONS_KEY)
                .arg(subject)
                .query(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_configuration_errors() {
        assert!(RedisPool::new("http://x", Duration::from_millis(5)).is_err());
        assert!(RedisPool::new("redis://127.0.0.1:1/", Duration::ZERO).is_err());
        assert!(RedisPool::new("redis://127.0.0.1:1/", Duration::from_millis(5)).is_ok());
    }

    #[test]
    fn a_dead_server_opens_the_breaker_and_the_fallback_keeps_tokens_single_use() {
        // Port 1 on loopback: connection refused at once, no server needed.
        let pool = RedisPool::new("redis://127.0.0.1:1/", Duration::from_millis(50)).unwrap();
        let clock = Arc::new(crate::FixedClock::at_secs(1000));
        let reporter = OpsReporter::new();
        let states = Arc::new(Mutex::new(Vec::new()));
        let s = states.clone();
        reporter.subscribe(move |e| s.lock().unwrap().push(e.state));
        let cache = RedisReplayCache::new(pool, 100, OnError::Fallback, clock.clone(), reporter);
        for i in 0..3 {
            let jti = format!("j{i}");
            assert_eq!(
                cache.check_and_record(&jti, 1100, 1000),
                Ok(ReplayCheck::Fresh)
            );
            assert_eq!(
                cache.check_and_record(&jti, 1100, 1000),
                Ok(ReplayCheck::Replayed)
            );
        }
        assert_eq!(cache.breaker_state(), BreakerState::Open);
        assert_eq!(*states.lock().unwrap(), vec!["breaker_open"]);
        clock.advance_secs(31);
        assert_eq!(
            cache.check_and_record("late", 1200, 1031),
            Ok(ReplayCheck::Fresh)
        );
        assert_eq!(
            *states.lock().unwrap(),
            vec!["breaker_open", "probe_failed"]
        );
    }

    #[test]
    fn reject_mode_refuses_and_does_not_burn_the_token() {
        let pool = RedisPool::new("redis://127.0.0.1:1/", Duration::from_millis(50)).unwrap();
        let clock = Arc::new(crate::FixedClock::at_secs(1000));
        let cache = RedisReplayCache::new(pool, 100, OnError::Reject, clock, OpsReporter::new());
        for _ in 0..5 {
            assert!(cache.check_and_record("j", 1100, 1000).is_err());
        }
        assert_eq!(cache.breaker_state(), BreakerState::Open);
        assert!(cache.local.is_empty());
    }
}
