//! The issuer's single-use memory: client-assertion `jti`s and CI ID-token ids, each
//! accepted once. Entries are kept per partition (one per client, one per CI provider), each
//! with its own capacity, so one partition filling up cannot evict or block another.
//!
//! An entry lives while `now <= until`, where `until` is the last second at which the
//! credential would still be accepted (`exp + leeway`): it is forgotten only strictly after.
//! With `redis_url`, the record is `SET NX PXAT` in Redis, shared by every issuer process;
//! when Redis cannot answer the request is refused (fail closed), and a write whose reply
//! was lost counts as spent.

use oathmesh_core::redis_store::RedisPool;
use oathmesh_core::{BackendError, ReplayCheck};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Prefix of the Redis keys: `oathmesh:issuer:used:<partition>:<sha256 of the id>`.
pub const REDIS_KEY_PREFIX: &str = "oathmesh:issuer:used:";

/// Check-and-record of credential ids, partitioned.
pub trait SingleUseStore: Send + Sync {
    /// Records `id` in `partition` until `until` (Unix seconds, inclusive) unless it is
    /// already recorded. `capacity` bounds the live entries of this partition in memory.
    fn record(
        &self,
        partition: &str,
        id: &str,
        until: i64,
        now: i64,
        capacity: usize,
    ) -> Result<ReplayCheck, BackendError>;

    /// Entries remembered in `partition`, when the store can say cheaply (memory only).
    fn remembered(&self, _partition: &str) -> Option<usize> {
        None
    }
}

/// In-process memory: one map per partition.
#[derive(Default)]
pub struct MemorySingleUse {
    partitions: Mutex<HashMap<String, HashMap<String, i64>>>,
}

impl MemorySingleUse {
    /// Live or not yet swept entries of one partition.
    pub fn len(&self, partition: &str) -> usize {
        self.lock().get(partition).map_or(0, HashMap::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, i64>>> {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SingleUseStore for MemorySingleUse {
    fn remembered(&self, partition: &str) -> Option<usize> {
        Some(self.len(partition))
    }

    fn record(
        &self,
        partition: &str,
        id: &str,
        until: i64,
        now: i64,
        capacity: usize,
    ) -> Result<ReplayCheck, BackendError> {
        let mut partitions = self.lock();
        let entries = partitions.entry(partition.to_owned()).or_default();
        if entries.get(id).is_some_and(|&kept| now <= kept) {
            return Ok(ReplayCheck::Replayed);
        }
        if entries.len() >= capacity.max(1) && !entries.contains_key(id) {
            entries.retain(|_, kept| now <= *kept);
            if entries.len() >= capacity.max(1) {
                // Never evict a live entry: that would reopen a replay window.
                return Err(BackendError(format!(
                    "the single-use memory of {partition} is full of live entries"
                )));
            }
        }
        entries.insert(id.to_owned(), until);
        Ok(ReplayCheck::Fresh)
    }
}

/// Shared by every issuer process through Redis. No local fallback: fail closed.
pub struct RedisSingleUse {
    pool: RedisPool,
}

impl RedisSingleUse {
    pub fn new(pool: RedisPool) -> Self {
        RedisSingleUse { pool }
    }

    /// The key of one id: hashed, so client-chosen ids cannot shape Redis keys.
    pub fn key(partition: &str, id: &str) -> String {
        let digest = Sha256::digest(id.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{REDIS_KEY_PREFIX}{partition}:{hex}")
    }
}

impl SingleUseStore for RedisSingleUse {
    fn record(
        &self,
        partition: &str,
        id: &str,
        until: i64,
        _now: i64,
        _capacity: usize,
    ) -> Result<ReplayCheck, BackendError> {
        // Absolute expiry one second after the last accepted second, in milliseconds: no
        // early expiry from a floored relative TTL.
        let expire_at_ms = until.saturating_add(1).saturating_mul(1000);
        let key = RedisSingleUse::key(partition, id);
        let reply: Option<String> = self.pool.run(|conn| {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("PXAT")
                .arg(expire_at_ms)
                .query(conn)
        })?;
        Ok(match reply {
            Some(_) => ReplayCheck::Fresh,
            None => ReplayCheck::Replayed,
        })
    }
}

/// The store a configuration asks for: Redis when `redis_url` is set, else memory.
pub fn from_config(
    redis_url: Option<&str>,
) -> Result<std::sync::Arc<dyn SingleUseStore>, oathmesh_core::ConfigError> {
    match redis_url {
        None => Ok(std::sync::Arc::new(MemorySingleUse::default())),
        Some(url) => {
            let pool = RedisPool::new(url, std::time::Duration::from_millis(500))?;
            Ok(std::sync::Arc::new(RedisSingleUse::new(pool)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_through_its_last_second() {
        let store = MemorySingleUse::default();
        let fresh = store.record("c", "a", 110, 100, 10).unwrap();
        assert_eq!(fresh, ReplayCheck::Fresh);
        // At exactly `until` the credential is still accepted, so it must still be spent.
        assert_eq!(
            store.record("c", "a", 110, 110, 10).unwrap(),
            ReplayCheck::Replayed
        );
        assert_eq!(
            store.record("c", "a", 120, 111, 10).unwrap(),
            ReplayCheck::Fresh
        );
    }

    #[test]
    fn a_full_partition_blocks_only_itself() {
        let store = MemorySingleUse::default();
        for i in 0..3 {
            store.record("greedy", &i.to_string(), 200, 100, 3).unwrap();
        }
        assert!(store.record("greedy", "x", 200, 100, 3).is_err());
        assert_eq!(
            store.record("other", "x", 200, 100, 3).unwrap(),
            ReplayCheck::Fresh
        );
        // Expired entries make room again.
        assert_eq!(
            store.record("greedy", "x", 300, 201, 3).unwrap(),
            ReplayCheck::Fresh
        );
        assert_eq!(store.len("greedy"), 1);
    }
}
