//! Replay defence (PROTOCOL §6): every `jti` is accepted once. The check and the record are
//! one atomic operation, so two requests racing with the same token cannot both win.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;

/// The outcome of recording a `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCheck {
    /// First sighting; now recorded.
    Fresh,
    /// Seen before and still remembered.
    Replayed,
}

/// A backend (Redis, a full cache) could not answer. The pipeline turns this into a 503:
/// it never lets the request through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// Atomic check-and-record of token ids.
pub trait ReplayCache: Send + Sync {
    /// Records `jti` until `expires_at` (Unix seconds) unless it is already recorded.
    /// `now` is the verifier's clock, so expiry follows the same time source as the pipeline.
    fn check_and_record(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<ReplayCheck, BackendError>;
}

const SHARDS: usize = 16;

/// The embedded default: a sharded in-process map with bounded capacity. It never evicts a
/// live entry (that would re-open a replay window); when full of live entries it reports
/// an error and the request is refused.
pub struct MemoryReplayCache {
    shards: Vec<Mutex<HashMap<String, i64>>>,
    shard_capacity: usize,
    hasher: RandomState,
}

/// Default capacity: at 10,000 requests/s and a 310 s memory that covers three replicas'
/// worth of traffic in one process, at roughly 100 bytes an entry.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

impl MemoryReplayCache {
    pub fn new(capacity: usize) -> Self {
        // A tiny cache gets fewer shards so its capacity is exact (and deterministic in tests).
        let shards = SHARDS.min(capacity.max(1));
        MemoryReplayCache {
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_capacity: capacity.div_ceil(shards).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, jti: &str) -> &Mutex<HashMap<String, i64>> {
        &self.shards[(self.hasher.hash_one(jti) as usize) % self.shards.len()]
    }

    /// Entries currently remembered, live or not yet swept.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops a record: used to undo a provisional record when the request is refused for
    /// another reason (the shared cache could not be asked), so the token is not burned.
    pub fn forget(&self, jti: &str) {
        lock(self.shard(jti)).remove(jti);
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        MemoryReplayCache::new(DEFAULT_REPLAY_CAPACITY)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a HashMap of plain values inconsistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_record(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<ReplayCheck, BackendError> {
        let mut shard = lock(self.shard(jti));
        if shard.get(jti).is_some_and(|&until| until > now) {
            return Ok(ReplayCheck::Replayed);
        }
        if shard.len() >= self.shard_capacity && !shard.contains_key(jti) {
            shard.retain(|_, until| *until > now);
            if shard.len() >= self.shard_capacity {
                return Err(BackendError(
                    "the in-memory replay cache is full of live entries".to_owned(),
                ));
            }
        }
        shard.insert(jti.to_owned(), expires_at);
        Ok(ReplayCheck::Fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn second_sighting_is_a_replay_until_expiry() {
        let cache = MemoryReplayCache::new(100);
        assert_eq!(
            cache.check_and_record("a", 110, 100).unwrap(),
            ReplayCheck::Fresh
        );
        assert_eq!(
            cache.check_and_record("a", 110, 109).unwrap(),
            ReplayCheck::Replayed
        );
        assert_eq!(
            cache.check_and_record("a", 130, 110).unwrap(),
            ReplayCheck::Fresh
        );
    }

    #[test]
    fn never_evicts_live_entries() {
        let cache = MemoryReplayCache::new(SHARDS); // one entry per shard
        let mut refused = 0;
        for i in 0..200 {
            if cache.check_and_record(&format!("j{i}"), 1000, 100).is_err() {
                refused += 1;
            }
        }
        assert!(refused > 0, "a full cache must refuse rather than evict");
        assert!(cache.len() <= SHARDS);
        // Every entry that was accepted is still a replay.
        for i in 0..200 {
            let r = cache.check_and_record(&format!("j{i}"), 1000, 100);
            assert!(matches!(r, Ok(ReplayCheck::Replayed) | Err(_)));
        }
        // Once they expire, the sweep frees room.
        assert_eq!(
            cache.check_and_record("late", 3000, 2000).unwrap(),
            ReplayCheck::Fresh
        );
    }

    #[test]
    fn tiny_capacity_is_exact() {
        let cache = MemoryReplayCache::new(1);
        assert_eq!(
            cache.check_and_record("a", 1000, 100).unwrap(),
            ReplayCheck::Fresh
        );
        assert!(cache.check_and_record("b", 1000, 100).is_err());
    }

    #[test]
    fn racing_threads_get_exactly_one_accept() {
        for round in 0..50 {
            let cache = Arc::new(MemoryReplayCache::new(1000));
            let accepted = Arc::new(AtomicUsize::new(0));
            let barrier = Arc::new(std::sync::Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (cache, accepted, barrier) =
                        (cache.clone(), accepted.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        if cache
                            .check_and_record(&format!("jti-{round}"), 500, 100)
                            .unwrap()
                            == ReplayCheck::Fresh
                        {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        }
    }
}
